"""The one piece of state the SDK shim reads: which engine is running and which component is in a callback.

The shim modules (`sdk/rtmaps/*`) hold no state of their own, so they can be imported afresh for
every engine while `rtmaps.core.current_time()` and `report_*` reach the engine that is running.
"""
from __future__ import annotations

from typing import Any

engine: Any = None  # the running DiagramRunner, set by DiagramRunner while it is loading or running
binding: Any = None  # the component wrapper whose `__init__`/callback is executing, if any


def require_engine() -> Any:
    if engine is None:
        raise RuntimeError("rtmaps (bluefire host emulator): no diagram is running; "
                           "component files are loaded by `bluefire run`, not imported directly")
    return engine
