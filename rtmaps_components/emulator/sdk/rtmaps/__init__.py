"""Host stand-in for RTMaps' Python SDK (bluefire emulator). Only the documented surface is provided.

Never installed as a top-level package: the emulator aliases it as `rtmaps` only while a diagram
runs (see `sdk_loader`), so it cannot shadow the real `rtmaps` on the vehicle.
"""

from . import base_component, core, reading_policy, types  # noqa: F401  (attributes of the package)
