"""bluefire runtime: RTMaps components, inference backends and the host emulator (no torch here)."""

from __future__ import annotations


def _version() -> str:
    """The one version string: pyproject.toml's, from the installed metadata or (uninstalled source tree) the file."""
    from importlib import metadata

    try:
        return metadata.version("bluefire")
    except metadata.PackageNotFoundError:
        import re
        from pathlib import Path

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        m = re.search(r'^version = "([^"]+)"', pyproject.read_text(), re.M) if pyproject.is_file() else None
        return m.group(1) if m else "0+unknown"


__version__ = _version()
