"""rtmaps.types: I/O type constants, property kinds, and the Ioelt / IplImage / drawing classes."""

from __future__ import annotations


class _Kind:
    """An opaque constant that prints its name (the real values are not published)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"rtmaps.types.{self.name}"

    def __or__(self, other: _Kind) -> _Kind:
        """Property kinds combine (`PATH | MUST_EXIST`); the result names both."""
        if not isinstance(other, _Kind):
            return NotImplemented
        return _Kind(f"{self.name}|{other.name}")


ANY = _Kind("ANY")
AUTO = _Kind("AUTO")
FLOAT32 = _Kind("FLOAT32")
FLOAT64 = _Kind("FLOAT64")
INTEGER32 = _Kind("INTEGER32")
INTEGER64 = _Kind("INTEGER64")
UINTEGER8 = _Kind("UINTEGER8")
UINTEGER64 = _Kind("UINTEGER64")
STREAM8 = _Kind("STREAM8")
TEXT_ASCII = _Kind("TEXT_ASCII")
IPL_IMAGE = _Kind("IPL_IMAGE")
MATRIX = _Kind("MATRIX")
REAL_OBJECT = _Kind("REAL_OBJECT")
DRAWING_OBJECT = _Kind("DRAWING_OBJECT")
CUSTOM_STRUCT = _Kind("CUSTOM_STRUCT")

# property kinds
ENUM = _Kind("ENUM")
FILE = _Kind("FILE")
PATH = _Kind("PATH")
MUST_EXIST = _Kind("MUST_EXIST")


class Ioelt:
    """One sample: data plus its timestamp (µs), vector size, frequency (mHz) and three misc fields.

    A `ts` left at None is stamped with the engine time when the sample is written.
    """

    def __init__(self) -> None:
        self.data = None
        self.ts = None
        self.vector_size = 0
        self.frequency = 0
        self.misc1 = 0
        self.misc2 = 0
        self.misc3 = 0
        self.type = None

    def __repr__(self) -> str:
        return (
            f"Ioelt(ts={self.ts}, vector_size={self.vector_size}, misc1={self.misc1}, data={type(self.data).__name__})"
        )


class IplImage:
    """An image: `image_data` is a C-contiguous numpy array (H, W, C) or (H, W): uint8, uint16 or float32."""

    def __init__(self) -> None:
        self.image_data = None
        self.color_model = "COLR"
        self.channel_seq = "BGR"

    def __repr__(self) -> str:
        shape = getattr(self.image_data, "shape", None)
        return f"IplImage({self.channel_seq}, {self.color_model}, shape={shape})"


class Rectangle:
    def __init__(self, x1: int = 0, y1: int = 0, x2: int = 0, y2: int = 0) -> None:
        self.x1, self.y1, self.x2, self.y2 = x1, y1, x2, y2


class Text:
    def __init__(
        self,
        x: int = 0,
        y: int = 0,
        cwidth: int = 8,
        cheight: int = 12,
        orientation: int = 0,
        bkcolor: int = 0,
        text: str = "",
    ) -> None:
        self.x, self.y, self.cwidth, self.cheight = x, y, cwidth, cheight
        self.orientation, self.bkcolor, self.text = orientation, bkcolor, text


class DrawingObject:
    """kind 2 = Rectangle, 5 = Text; color 0xRRGGBB."""

    def __init__(self) -> None:
        self.kind = 0
        self.color = 0
        self.width = 1
        self.data = None
