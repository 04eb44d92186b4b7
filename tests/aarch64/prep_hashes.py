"""SHA-256 of preprocessed network inputs, as JSON on stdout: the x86 / aarch64 comparison of the bytes.

    python -m tests.aarch64.prep_hashes        (x86: the checkout; under qemu: the installed wheel)

Keys (each a hex digest over the concatenated float32 tensors, in a fixed order):
  clip_native     the shipped clip's 200 frames (BGR, as the Camera reads them) through the shipped pruned
                  model's native preprocessing (`_native.Preprocessor`: what both backends feed the network)
  clip_opencv     the same frames through `Preprocessing.apply` (OpenCV's INTER_LINEAR; information only)
  random_native   seeded random frames of several sizes (upscale, downscale, exact 2x, identity, odd shapes)
                  in every layout the native code reads, through three contracts (rgb/RGB, gray/BGR
                  three planes, gray one plane), with ImageNet-like mean/std: every code path of the table
  colour_opencv   per OpenCV colour conversion the runtime uses before a native resize (YUV packed,
                  planar, 4:4:4, Bayer, RGB->GRAY): the converted uint8 frames (information)
The stage requires clip_native and random_native equal on both ISAs.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from rtmaps_components.backends import load_model, native_preprocessor
from rtmaps_components.preprocess import Preprocessing, frame_to_rgb8

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "diagrams" / "data" / "fmnist_clip"
MODEL = ROOT / "models" / "squeezenet1_1_fmnist_pruned.onnx"
SHAPES = ((64, 64), (28, 28), (128, 128), (50, 70), (17, 200), (300, 41), (1, 1), (33, 32))
LAYOUTS = {"RGB": 3, "BGR": 3, "GRAY": 1, "RGBA": 4, "BGRA": 4}
CONTRACTS = (
    {
        "color": "rgb",
        "channels": 3,
        "channel_order": "RGB",
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
    },
    {"color": "gray", "channels": 3, "channel_order": "BGR", "mean": (0.3, 0.4, 0.5), "std": (0.2, 0.3, 0.7)},
    {
        "color": "gray",
        "channels": 1,
        "channel_order": "RGB",
        "mean": (0.2858301326845113,),
        "std": (0.338808809245185,),
    },
)


def _model_prep() -> Preprocessing:
    return load_model(str(MODEL), backend="native").prep


def hashes() -> dict[str, str]:
    prep = _model_prep()
    native = native_preprocessor(prep)
    frames = [cv2.imread(str(f), cv2.IMREAD_COLOR) for f in sorted(CLIP.glob("*.png"))]
    out = {"frames": str(len(frames))}
    h_nat, h_cv = hashlib.sha256(), hashlib.sha256()
    for img in frames:
        h_nat.update(native.run(img, "BGR").tobytes())
        h_cv.update(prep.apply(img, "BGR").tobytes())
    out["clip_native"], out["clip_opencv"] = h_nat.hexdigest(), h_cv.hexdigest()

    rng = np.random.default_rng(2026)
    h = hashlib.sha256()
    for c in CONTRACTS:
        p = Preprocessing(input_size=(64, 64), class_names=("a", "b"), **c)
        pre = native_preprocessor(p)
        for shape in SHAPES:
            for seq, planes in LAYOUTS.items():
                img = rng.integers(0, 256, (*shape, planes), dtype=np.uint8)
                h.update(pre.run(img, seq).tobytes())
    out["random_native"] = h.hexdigest()

    h = hashlib.sha256()
    yuv422 = rng.integers(0, 256, (48, 64, 2), dtype=np.uint8)
    yuv420 = rng.integers(0, 256, (72, 64), dtype=np.uint8)
    yuv444 = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    for seq in ("UYVY", "YUYV", "YUY2", "YVYU"):
        h.update(frame_to_rgb8(yuv422, seq).tobytes())
    for seq in ("I420", "IYUV", "YV12", "NV12", "NV21"):
        h.update(frame_to_rgb8(yuv420, seq).tobytes())
    h.update(frame_to_rgb8(yuv444, "YUV").tobytes())
    for bayer in ("RGGB", "BGGR", "GRBG", "GBRG"):
        h.update(frame_to_rgb8(yuv420[:48, :, None], "GRAY", bayer).tobytes())
    h.update(cv2.cvtColor(yuv444, cv2.COLOR_RGB2GRAY).tobytes())
    out["colour_opencv"] = h.hexdigest()
    return out


if __name__ == "__main__":
    json.dump(hashes(), sys.stdout)
    sys.exit(0)
