"""bluefire runtime: RTMaps components, inference backends and the host emulator (no torch here)."""

__version__ = "0.1.0"
