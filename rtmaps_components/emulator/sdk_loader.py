"""Make `import rtmaps...` inside component files resolve to the emulator's SDK shim, only while it runs.

The shim lives at `rtmaps_components/emulator/sdk/rtmaps/`; its modules are aliased under the
top-level name `rtmaps` in `sys.modules` while a diagram is loaded and run, and the previous
entries (a real RTMaps, or nothing) are put back afterwards. One module object per name, so an
`rtmaps.types.Ioelt` built by a component is the class the emulator checks against.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator

SUBMODULES = ("core", "types", "base_component", "reading_policy")
_PACKAGE = "rtmaps_components.emulator.sdk.rtmaps"


@contextlib.contextmanager
def sdk_modules() -> Iterator[None]:
    """Alias the shim as `rtmaps` for the duration of the block, then restore sys.modules."""
    names = ["rtmaps"] + [f"rtmaps.{m}" for m in SUBMODULES]
    saved = {n: sys.modules[n] for n in names if n in sys.modules}
    pkg = importlib.import_module(_PACKAGE)
    sys.modules["rtmaps"] = pkg
    for m in SUBMODULES:
        sys.modules[f"rtmaps.{m}"] = importlib.import_module(f"{_PACKAGE}.{m}")
    try:
        yield
    finally:
        for n in names:
            sys.modules.pop(n, None)
        sys.modules.update(saved)
