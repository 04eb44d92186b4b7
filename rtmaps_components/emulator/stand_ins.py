"""Host stand-ins for the RTMaps models our diagrams use (viewers): they count, time and optionally save.

RTMaps' own models are C++ and not available on a desk; a viewer's job in a diagram is to be
the end of the chain, so its stand-in records how many samples reached it and how late.
Any other model is refused by the engine with the list of what is emulated.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..latency_stats import LatencyHistogram
from .node import Node
from .sdk.rtmaps import types as T

# inputs the real models have besides their first (ImageViewer 7.x: drawing objects; DataViewer: input_1..)
_EXTRA_INPUTS = {
    "ImageViewer": re.compile(r"iDrawingObjects"),
    "DataViewer": re.compile(r"input_\d+"),
    "TextViewer": re.compile(r"(?!)"),
}


class ViewerStandIn(Node):
    """ImageViewer / TextViewer (input `input`), DataViewer (`input_0`, `input_1`, ...): count samples and latency."""

    def __init__(self, name: str, engine: Any, model: str) -> None:
        super().__init__(name, engine)
        self.model = model
        self.declare_input("input_0" if model == "DataViewer" else "input", T.ANY)
        self.received = 0
        self.latency = LatencyHistogram()
        self.last_shape: Any = None
        self.last_text: str | None = None
        self.save_dir: Path | None = None

    def declare_listed_inputs(self, listed: Any) -> None:
        """Declare the further inputs a saved diagram lists for this model (DataViewer's input_1...)."""
        for name in listed:
            if _EXTRA_INPUTS[self.model].fullmatch(name):
                self.declare_input(name, T.ANY)

    def apply_property(self, name: str, text: str) -> None:
        """GUI properties of the real viewer (size, position, title...) have no effect here."""

    def on_birth(self) -> None:
        if self.engine.save_dir and self.model == "ImageViewer":
            self.save_dir = Path(self.engine.save_dir) / self.name
            self.save_dir.mkdir(parents=True, exist_ok=True)

    def on_core(self) -> None:
        elt = list(self.inputs.values())[max(0, self.input_that_answered)].ioelt
        self.received += 1
        self.latency.add(self.engine.clock.now_us() - elt.ts)
        data = elt.data
        if isinstance(data, T.IplImage):
            self.last_shape = list(data.image_data.shape)
            if self.save_dir is not None:
                import cv2

                img = data.image_data
                if str(data.channel_seq).upper() == "RGB":
                    img = img[..., ::-1]
                cv2.imwrite(str(self.save_dir / f"{self.received - 1:06d}.png"), img)
        elif isinstance(data, str):
            self.last_text = data

    def summary(self) -> dict:
        out: dict = {"received": self.received, "latency": self.latency.summary()}
        if self.last_shape is not None:
            out["last_image_shape"] = self.last_shape
        if self.last_text is not None:
            out["last_text"] = self.last_text
        return out


STAND_INS = {"ImageViewer": ViewerStandIn, "TextViewer": ViewerStandIn, "DataViewer": ViewerStandIn}
