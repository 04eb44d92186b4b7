"""What the emulator raises: refusals of a diagram (as RTMaps would refuse it) and reads of empty inputs."""

from __future__ import annotations


class DiagramError(ValueError):
    """The diagram or a component cannot run: the message names the file, component and port/property."""


class NoSampleError(LookupError):
    """Reading `self.inputs[name].ioelt` before any sample arrived on that input (a LookupError)."""
