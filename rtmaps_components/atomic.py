"""Atomic file writes: a temp file in the target's folder, then a rename, so a kill never leaves half a file.

Every writer in bluefire (checkpoints, ONNX models, reports, metrics, caches) goes through here. The
runtime owns it because training imports the runtime and never the other way round.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TMP_SUFFIX = ".tmp"


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Delete temp files that a killed writer of `path` left behind (their writer's pid is gone); returns them."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    prefix = _temp_prefix(path)
    for p in path.parent.iterdir():
        name = p.name
        if not (name.startswith(prefix) and name.endswith(_TMP_SUFFIX)):
            continue
        pid = name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


@contextmanager
def atomic_path(path: str | Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temp path beside `path`; when the block ends without error it replaces `path` in one rename.

    For writers that want a file name (torch.save, onnx.save, savefig). On error the temp file is
    removed and `path` is untouched. `mode` sets the final permissions (mkstemp makes 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=_TMP_SUFFIX)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(path: str | Path, data: str | bytes, mode: int | None = 0o644) -> Path:
    """Write text (UTF-8) or bytes to `path` atomically; returns the path."""
    path = Path(path)
    with atomic_path(path, mode) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
    return path
