"""pytest plugin for the aarch64 stage (`-p pin_installed`): the tests exercise the installed wheel.

pytest later puts the checkout on sys.path (rootdir, `pythonpath = ["."]`), where `rtmaps_components`
has no aarch64 native module. Importing bluefire's packages here, first, from $BLUEFIRE_SITE (the
wheel installed by pip under qemu) binds them for the whole session.
"""

from __future__ import annotations

import os
import platform
import sys

SITE = os.path.realpath(os.environ["BLUEFIRE_SITE"])
sys.path.insert(0, SITE)
import rtmaps_components  # noqa: E402
import rtmaps_components._native  # noqa: E402
import training  # noqa: E402

sys.path.remove(SITE)
for _mod in (rtmaps_components, rtmaps_components._native, training):
    if not os.path.realpath(_mod.__file__).startswith(SITE + os.sep):
        raise ImportError(f"{_mod.__name__} came from {_mod.__file__}, not from the installed wheel in {SITE}")


def pytest_report_header(config) -> str:
    return (
        f"bluefire under test: the installed wheel in {SITE} "
        f"({platform.machine()}, {os.path.basename(rtmaps_components._native.__file__)})"
    )
