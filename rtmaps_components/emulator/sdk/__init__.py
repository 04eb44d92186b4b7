"""The emulated RTMaps Python SDK (aliased as `rtmaps` only while the emulator runs)."""
