"""Checks on the files a command will write (`bluefire evaluate`, `export`, `run`), made before any
work, so a bad path fails at once with one line instead of after a long evaluation, export or run."""

from __future__ import annotations

import os
from pathlib import Path


def check_output_path(path: str | os.PathLike | None, flag: str) -> Path | None:
    """`path` (from `flag`) can be written: not a directory, and its nearest existing ancestor is a
    writable directory (missing folders below it are created when the file is written). None passes."""
    if path is None:
        return None
    p = Path(path)
    if str(path) == "" or p.is_dir():
        raise ValueError(
            f"{flag} {str(path)!r}: expected a file name, got " + ("nothing" if str(path) == "" else "a directory")
        )
    parent = p.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{flag} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: cannot write in {parent} (permission denied)")
    if p.exists() and not os.access(p, os.W_OK):
        raise ValueError(f"{flag} {path}: the file exists and is not writable")
    return p
