"""One version string: pyproject.toml's, seen the same by the package metadata, the runtime and the native module."""

from __future__ import annotations

import re
from pathlib import Path

import rtmaps_components

REPO = Path(__file__).resolve().parent.parent


def test_one_version_everywhere():
    declared = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    assert rtmaps_components.__version__ == declared
    try:
        from rtmaps_components import _native
    except ImportError:
        return
    assert _native.version() == declared
