"""The one piece of state the SDK shim reads: which engine is running and which component is in a callback.

The shim modules (`sdk/rtmaps/*`) hold no state of their own, so they can be imported afresh for
every engine while `rtmaps.core.current_time()` and `report_*` reach the engine that is running.
Set both only through the context managers below, which put the previous value back whatever happens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

engine: Any = None  # the running DiagramRunner, set by DiagramRunner while it is loading or running
binding: Any = None  # the component wrapper whose `__init__`/callback is executing, if any


@contextlib.contextmanager
def _holding(name: str, value: Any) -> Iterator[None]:
    g = globals()
    prev, g[name] = g[name], value
    try:
        yield
    finally:
        g[name] = prev


def running(eng: Any) -> contextlib.AbstractContextManager:
    """`eng` is the engine `rtmaps.core` talks to for the duration of the block."""
    return _holding("engine", eng)


def in_component(node: Any) -> contextlib.AbstractContextManager:
    """`node` (None: the engine itself) is the component in a callback for the duration of the block."""
    return _holding("binding", node)


def require_engine() -> Any:
    if engine is None:
        raise RuntimeError(
            "rtmaps (bluefire host emulator): no diagram is running; "
            "component files are loaded by `bluefire run`, not imported directly"
        )
    return engine
