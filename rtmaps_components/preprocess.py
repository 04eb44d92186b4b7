"""The preprocessing contract shared by training, export and every runtime backend.

Training resizes its data with `Preprocessing.apply`, export writes the spec into the ONNX
file's metadata, and the runtime reads it back from there: one function, no side file, so a
deployed model cannot silently disagree with how it was trained.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

METADATA_KEY = "bluefire.preprocessing"
_TO_RGB = {
    "RGB": None,
    "BGR": cv2.COLOR_BGR2RGB,
    "RGBA": cv2.COLOR_RGBA2RGB,
    "BGRA": cv2.COLOR_BGRA2RGB,
    "GRAY": cv2.COLOR_GRAY2RGB,
}
# YUV layouts RTMaps cameras and decoders deliver, as OpenCV stores them in one uint8 array:
# packed 4:2:2 (H, W, 2); planar 4:2:0 (H*3/2, W); interleaved 4:4:4 (H, W, 3). Names as RTMaps'
# AnyColorSpaceConverter lists them (YUY2 = YUYV, IYU/I420 = IYUV), plus NV12/NV21.
_YUV_PACKED = {
    "UYVY": cv2.COLOR_YUV2RGB_UYVY,
    "YUYV": cv2.COLOR_YUV2RGB_YUYV,
    "YUY2": cv2.COLOR_YUV2RGB_YUY2,
    "YVYU": cv2.COLOR_YUV2RGB_YVYU,
}
_YUV_PLANAR = {
    "I420": cv2.COLOR_YUV2RGB_I420,
    "IYUV": cv2.COLOR_YUV2RGB_IYUV,
    "YV12": cv2.COLOR_YUV2RGB_YV12,
    "NV12": cv2.COLOR_YUV2RGB_NV12,
    "NV21": cv2.COLOR_YUV2RGB_NV21,
}
_YUV444 = {"YUV": cv2.COLOR_YUV2RGB}


def _video_range_luma() -> np.ndarray:
    """Y -> the R = G = B that OpenCV's 4:2:0 conversion gives a pixel with no colour (U = V = 128)."""
    i420 = np.full((3, 256), 128, np.uint8)
    i420[:2] = np.arange(256, dtype=np.uint8)
    return np.ascontiguousarray(cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)[0, :, 0])


# OpenCV writes and reads the Y of 4:2:0 (I420, NV12...) and packed 4:2:2 frames (UYVY, YUYV, YVYU) as
# video range (BT.601, 16-235; ffmpeg's yuv420p and a V4L2 camera's YUYV are too) and the Y of 4:4:4 as full
# range. A gray model's luma of a 4:2:0 or 4:2:2 frame goes through this table, so that it sees what the
# frame's RGB conversion would give rather than a range squeezed into 16-235.
VIDEO_RANGE_LUMA = _video_range_luma()
# raw sensor mosaics arrive labelled GRAY; OpenCV names a pattern by its second row, hence the crossing
BAYER_PATTERNS = ("none", "RGGB", "BGGR", "GRBG", "GBRG")
_BAYER = {
    "RGGB": cv2.COLOR_BayerBG2RGB,
    "BGGR": cv2.COLOR_BayerRG2RGB,
    "GRBG": cv2.COLOR_BayerGB2RGB,
    "GBRG": cv2.COLOR_BayerGR2RGB,
}
CHANNEL_SEQS = tuple(_TO_RGB) + tuple(_YUV_PACKED) + tuple(_YUV_PLANAR) + tuple(_YUV444)
CONVERTER_HINT = "put an AnyColorSpaceConverter (outputPixelFormat BGR, outputDepth U8) in front of the classifier"


def frame_to_rgb8(image: np.ndarray, channel_seq: str, bayer: str = "none", luma_only: bool = False) -> np.ndarray:
    """Any frame layout RTMaps delivers -> interleaved uint8 (H, W, 3) RGB, or (H, W, 1) luma for 8-bit GRAY.

    Exact OpenCV conversions: YUV 4:2:2 packed, 4:2:0 planar (I420/YV12/NV12/NV21) and 4:4:4; RGBA/BGRA;
    16-bit gray (mono16) scaled to 8 bits with rounding (x / 257); a raw Bayer mosaic labelled GRAY
    demosaiced with `bayer` (RGGB/BGGR/GRBG/GBRG). With `luma_only` (a gray model) a YUV frame gives its
    Y plane, (H, W, 1): the luma a camera measured, with no round trip through RGB (4:2:0 and 4:2:2 Y,
    video range, mapped to full range through `VIDEO_RANGE_LUMA`, as their RGB conversions map it).
    ValueError naming the format and the fix otherwise.
    """
    seq = str(channel_seq).upper()
    if bayer not in BAYER_PATTERNS:
        raise ValueError(f"bayer_pattern {bayer!r} is not one of {', '.join(BAYER_PATTERNS)}")
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image_data must be a numpy array, got {type(image).__name__}")
    if seq == "GRAY" and image.dtype == np.uint16:  # mono16: exact rounding to 8 bits
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if image.dtype != np.uint8:
        raise ValueError(
            f"a {seq} image of dtype {image.dtype} is not supported (8-bit, or 16-bit GRAY); {CONVERTER_HINT}"
        )
    img = np.ascontiguousarray(image)
    if seq in _YUV_PACKED:
        if img.ndim != 3 or img.shape[2] != 2 or img.shape[1] % 2:
            raise ValueError(f"a packed {seq} image must have shape (H, W, 2) with W even, got {img.shape}")
        if luma_only:
            return cv2.LUT(np.ascontiguousarray(img[:, :, 1 if seq == "UYVY" else 0]), VIDEO_RANGE_LUMA)[:, :, None]
        return cv2.cvtColor(img, _YUV_PACKED[seq])
    if seq in _YUV_PLANAR:
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[:, :, 0]
        if img.ndim != 2 or img.shape[0] % 3 or img.shape[1] % 2 or (img.shape[0] * 2 // 3) % 2:
            raise ValueError(f"a planar {seq} image must have shape (H*3/2, W) with H and W even, got {img.shape}")
        if luma_only:
            return cv2.LUT(img[: img.shape[0] * 2 // 3], VIDEO_RANGE_LUMA)[:, :, None]
        return cv2.cvtColor(img, _YUV_PLANAR[seq])
    if seq in _YUV444:
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"a {seq} (4:4:4) image must have shape (H, W, 3), got {img.shape}")
        if luma_only:
            return np.ascontiguousarray(img[:, :, :1])
        return cv2.cvtColor(img, _YUV444[seq])
    if seq not in _TO_RGB:
        raise ValueError(
            f"channel_seq {channel_seq!r} is not supported (supported: {', '.join(CHANNEL_SEQS)}); {CONVERTER_HINT}"
        )
    if img.ndim == 2:
        img = img[:, :, None]
    expected = 1 if seq == "GRAY" else len(seq)
    if img.ndim != 3 or img.shape[2] != expected:
        raise ValueError(f"a {seq} image must have shape (H, W, {expected}), got {img.shape}")
    if seq == "GRAY" and bayer != "none":
        return cv2.cvtColor(img[:, :, 0], _BAYER[bayer])
    if seq == "GRAY":
        return img
    code = _TO_RGB[seq]
    return img if code is None else cv2.cvtColor(img, code)


_RESIZE = {"bilinear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA, "nearest": cv2.INTER_NEAREST}
# The largest input height/width a model may declare (the native binding's _native.MAX_INPUT_SIDE).
MAX_INPUT_SIDE = 4096
# The contract's fields: (JSON kind, required length or None). JSON numbers may be ints where floats
# are meant; booleans are never numbers. input_size and class_names are required.
_REQUIRED = ("input_size", "class_names")
_FIELD_TYPES = {
    "input_size": ("ints", 2),
    "class_names": ("strs", None),
    "color": ("str", None),
    "resize": ("str", None),
    "scale": ("number", None),
    "mean": ("numbers", None),
    "std": ("numbers", None),
    "channel_order": ("str", None),
    "channels": ("int", None),
}


def _is_a(v: object, kind: str, length: int | None) -> bool:
    def number(x: object) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    def integer(x: object) -> bool:
        return isinstance(x, int) and not isinstance(x, bool)

    one = {"str": lambda x: isinstance(x, str), "int": integer, "number": number}
    if kind in one:
        return one[kind](v)
    item = {"strs": one["str"], "ints": integer, "numbers": number}[kind]
    return isinstance(v, list) and (length is None or len(v) == length) and all(item(x) for x in v)


def _describe(kind: str, length: int | None) -> str:
    what = {
        "str": "a string",
        "int": "an integer",
        "number": "a number",
        "strs": "a list of strings",
        "ints": "a list of integers",
        "numbers": "a list of numbers",
    }[kind]
    return what if length is None else f"{what} of length {length}"


@dataclass(frozen=True)
class Preprocessing:
    """How a uint8 image becomes the network's float32 NCHW input.

    color: "rgb" keeps colour; "gray" converts to luma first and replicates it to three
    channels (a model trained on gray data must see gray frames from a colour camera too).
    channels: the network's input planes, 3, or 1 for a gray model exported with its stem folded
    to one plane (`bluefire export --planes 1`): the luma plane alone, normalised by mean[0], std[0].
    """

    input_size: tuple[int, int]  # (height, width)
    class_names: tuple[str, ...]
    color: str = "rgb"
    resize: str = "bilinear"
    scale: float = 1.0 / 255.0
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    channel_order: str = "RGB"  # the order of the network's three input planes (moot for one)
    channels: int = 3
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        h, w = self.input_size
        if not (1 <= h <= MAX_INPUT_SIDE and 1 <= w <= MAX_INPUT_SIDE):
            raise ValueError(f"input_size must be 1..{MAX_INPUT_SIDE} on each side, got {list(self.input_size)}")
        if self.color not in ("rgb", "gray"):
            raise ValueError(f"color must be 'rgb' or 'gray', got {self.color!r}")
        if self.resize not in _RESIZE:
            raise ValueError(f"resize must be one of {sorted(_RESIZE)}, got {self.resize!r}")
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {self.channel_order!r}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels!r}")
        if self.channels == 1 and self.color != "gray":
            raise ValueError("channels 1 needs color 'gray' (one luma plane)")
        # A NaN, infinite or zero scale/std (or a non-finite mean) makes every input the same or NaN:
        # the model then scores near chance with no other sign, so such a file is refused here.
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be finite and > 0, got {self.scale}")
        n = self.channels
        if len(self.mean) != n or len(self.std) != n:
            raise ValueError(f"mean and std need {n} value(s) each; got {list(self.mean)}, {list(self.std)}")
        if not all(math.isfinite(m) for m in self.mean):
            raise ValueError(f"mean must be finite, got {list(self.mean)}")
        if not all(math.isfinite(s) and s > 0 for s in self.std):
            raise ValueError(f"std must be finite and > 0, got {list(self.std)}")
        if not self.class_names:
            raise ValueError("class_names must not be empty")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_json(self) -> str:
        d = asdict(self)
        d.pop("extra")
        return json.dumps(d, sort_keys=True)

    @staticmethod
    def from_json(text: str, source: str = "preprocessing") -> Preprocessing:
        """Parse and validate the metadata string: the one parser of the contract (every backend,
        the native one included, gets its fields from here). Errors name `source` and the field."""
        try:
            d = json.loads(text)
        except (TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"{source}: '{METADATA_KEY}' is not valid JSON ({e})") from None
        if not isinstance(d, dict):
            raise ValueError(f"{source}: '{METADATA_KEY}' must be a JSON object, got {type(d).__name__}")
        missing = [k for k in _REQUIRED if k not in d]
        if missing:
            raise ValueError(f"{source}: '{METADATA_KEY}' lacks field(s) {missing}")
        unknown = sorted(set(d) - set(_FIELD_TYPES))
        if unknown:
            raise ValueError(f"{source}: '{METADATA_KEY}' has unknown field(s) {unknown}")
        for k, v in d.items():
            kind, length = _FIELD_TYPES[k]
            if not _is_a(v, kind, length):
                raise ValueError(
                    f"{source}: bad '{METADATA_KEY}' field '{k}': expected {_describe(kind, length)}, "
                    f"got {json.dumps(v)[:80]}"
                )
        for k in ("input_size", "class_names", "mean", "std"):
            if k in d:
                d[k] = tuple(d[k])
        if "scale" in d:
            d["scale"] = float(d["scale"])
        try:
            return Preprocessing(**d)
        except ValueError as e:
            raise ValueError(f"{source}: bad '{METADATA_KEY}': {e}") from None

    @staticmethod
    def from_metadata(meta: Mapping[str, str], source: str = "model") -> Preprocessing:
        if METADATA_KEY not in meta:
            raise ValueError(f"{source}: no '{METADATA_KEY}' metadata; export the model with `bluefire export`")
        return Preprocessing.from_json(meta[METADATA_KEY], source)

    def to_rgb(self, image: np.ndarray, channel_seq: str = "RGB", bayer: str = "none") -> np.ndarray:
        """Convert an image in `channel_seq` (any layout `frame_to_rgb8` takes) to uint8 RGB, applying `color`."""
        rgb = frame_to_rgb8(image, channel_seq, bayer, luma_only=self.color == "gray")
        if rgb.shape[2] == 1:
            return cv2.cvtColor(rgb[:, :, 0], cv2.COLOR_GRAY2RGB)
        if self.color == "gray":
            g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            rgb = cv2.cvtColor(g, cv2.COLOR_GRAY2RGB)
        return rgb

    def resize_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """Resize an RGB uint8 image to the network's input size (uint8 out)."""
        h, w = self.input_size
        if rgb.shape[:2] == (h, w):
            return rgb
        return cv2.resize(rgb, (w, h), interpolation=_RESIZE[self.resize])

    def normalize(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 (..., H, W, 3) RGB -> float32 (..., channels, H, W) in the network's channel order."""
        if self.channels == 1:  # gray: the three planes are the same luma; keep one
            rgb = rgb[..., :1]
        x = rgb.astype(np.float32) * np.float32(self.scale)
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        if self.channel_order == "BGR":
            x = x[..., ::-1]
        return np.ascontiguousarray(np.moveaxis(x, -1, -3))

    def apply(self, image: np.ndarray, channel_seq: str = "RGB", bayer: str = "none") -> np.ndarray:
        """One image in any supported `channel_seq` -> float32 (1, channels, H, W) network input."""
        return self.normalize(self.resize_rgb(self.to_rgb(image, channel_seq, bayer)))[None]
