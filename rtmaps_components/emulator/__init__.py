"""Host-side emulator of RTMaps' Python SDK and engine: runs our .rtd diagrams on a desk.

`DiagramRunner(diagram).run()` loads, wires and runs a diagram and returns a report dict;
`bluefire run` is its command line. Nothing here is imported by the components themselves.
"""

from .engine import DiagramRunner, parse_override
from .errors import DiagramError, NoSampleError
from .rtd import load_rtd

__all__ = ["DiagramRunner", "DiagramError", "NoSampleError", "load_rtd", "parse_override"]
