"""Shared helpers for the training tests: torchvision's literal state-dict layouts, data files written in
their real formats (CIFAR-10 python pickles, idx, image folders) and small trained checkpoints.

Not a conftest.py: import what you need (`from tests.fixtures_training import ...`).
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

# torchvision.models.squeezenet1_0 / squeezenet1_1 state dicts at 1000 classes: every key and shape,
# written out from torchvision's layout (not from bluefire's code).
TORCHVISION_SQUEEZENET1_0 = {
    "features.0.weight": (96, 3, 7, 7),
    "features.0.bias": (96,),
    "features.3.squeeze.weight": (16, 96, 1, 1),
    "features.3.squeeze.bias": (16,),
    "features.3.expand1x1.weight": (64, 16, 1, 1),
    "features.3.expand1x1.bias": (64,),
    "features.3.expand3x3.weight": (64, 16, 3, 3),
    "features.3.expand3x3.bias": (64,),
    "features.4.squeeze.weight": (16, 128, 1, 1),
    "features.4.squeeze.bias": (16,),
    "features.4.expand1x1.weight": (64, 16, 1, 1),
    "features.4.expand1x1.bias": (64,),
    "features.4.expand3x3.weight": (64, 16, 3, 3),
    "features.4.expand3x3.bias": (64,),
    "features.5.squeeze.weight": (32, 128, 1, 1),
    "features.5.squeeze.bias": (32,),
    "features.5.expand1x1.weight": (128, 32, 1, 1),
    "features.5.expand1x1.bias": (128,),
    "features.5.expand3x3.weight": (128, 32, 3, 3),
    "features.5.expand3x3.bias": (128,),
    "features.7.squeeze.weight": (32, 256, 1, 1),
    "features.7.squeeze.bias": (32,),
    "features.7.expand1x1.weight": (128, 32, 1, 1),
    "features.7.expand1x1.bias": (128,),
    "features.7.expand3x3.weight": (128, 32, 3, 3),
    "features.7.expand3x3.bias": (128,),
    "features.8.squeeze.weight": (48, 256, 1, 1),
    "features.8.squeeze.bias": (48,),
    "features.8.expand1x1.weight": (192, 48, 1, 1),
    "features.8.expand1x1.bias": (192,),
    "features.8.expand3x3.weight": (192, 48, 3, 3),
    "features.8.expand3x3.bias": (192,),
    "features.9.squeeze.weight": (48, 384, 1, 1),
    "features.9.squeeze.bias": (48,),
    "features.9.expand1x1.weight": (192, 48, 1, 1),
    "features.9.expand1x1.bias": (192,),
    "features.9.expand3x3.weight": (192, 48, 3, 3),
    "features.9.expand3x3.bias": (192,),
    "features.10.squeeze.weight": (64, 384, 1, 1),
    "features.10.squeeze.bias": (64,),
    "features.10.expand1x1.weight": (256, 64, 1, 1),
    "features.10.expand1x1.bias": (256,),
    "features.10.expand3x3.weight": (256, 64, 3, 3),
    "features.10.expand3x3.bias": (256,),
    "features.12.squeeze.weight": (64, 512, 1, 1),
    "features.12.squeeze.bias": (64,),
    "features.12.expand1x1.weight": (256, 64, 1, 1),
    "features.12.expand1x1.bias": (256,),
    "features.12.expand3x3.weight": (256, 64, 3, 3),
    "features.12.expand3x3.bias": (256,),
    "classifier.1.weight": (1000, 512, 1, 1),
    "classifier.1.bias": (1000,),
}
TORCHVISION_SQUEEZENET1_1 = {
    "features.0.weight": (64, 3, 3, 3),
    "features.0.bias": (64,),
    "features.3.squeeze.weight": (16, 64, 1, 1),
    "features.3.squeeze.bias": (16,),
    "features.3.expand1x1.weight": (64, 16, 1, 1),
    "features.3.expand1x1.bias": (64,),
    "features.3.expand3x3.weight": (64, 16, 3, 3),
    "features.3.expand3x3.bias": (64,),
    "features.4.squeeze.weight": (16, 128, 1, 1),
    "features.4.squeeze.bias": (16,),
    "features.4.expand1x1.weight": (64, 16, 1, 1),
    "features.4.expand1x1.bias": (64,),
    "features.4.expand3x3.weight": (64, 16, 3, 3),
    "features.4.expand3x3.bias": (64,),
    "features.6.squeeze.weight": (32, 128, 1, 1),
    "features.6.squeeze.bias": (32,),
    "features.6.expand1x1.weight": (128, 32, 1, 1),
    "features.6.expand1x1.bias": (128,),
    "features.6.expand3x3.weight": (128, 32, 3, 3),
    "features.6.expand3x3.bias": (128,),
    "features.7.squeeze.weight": (32, 256, 1, 1),
    "features.7.squeeze.bias": (32,),
    "features.7.expand1x1.weight": (128, 32, 1, 1),
    "features.7.expand1x1.bias": (128,),
    "features.7.expand3x3.weight": (128, 32, 3, 3),
    "features.7.expand3x3.bias": (128,),
    "features.9.squeeze.weight": (48, 256, 1, 1),
    "features.9.squeeze.bias": (48,),
    "features.9.expand1x1.weight": (192, 48, 1, 1),
    "features.9.expand1x1.bias": (192,),
    "features.9.expand3x3.weight": (192, 48, 3, 3),
    "features.9.expand3x3.bias": (192,),
    "features.10.squeeze.weight": (48, 384, 1, 1),
    "features.10.squeeze.bias": (48,),
    "features.10.expand1x1.weight": (192, 48, 1, 1),
    "features.10.expand1x1.bias": (192,),
    "features.10.expand3x3.weight": (192, 48, 3, 3),
    "features.10.expand3x3.bias": (192,),
    "features.11.squeeze.weight": (64, 384, 1, 1),
    "features.11.squeeze.bias": (64,),
    "features.11.expand1x1.weight": (256, 64, 1, 1),
    "features.11.expand1x1.bias": (256,),
    "features.11.expand3x3.weight": (256, 64, 3, 3),
    "features.11.expand3x3.bias": (256,),
    "features.12.squeeze.weight": (64, 512, 1, 1),
    "features.12.squeeze.bias": (64,),
    "features.12.expand1x1.weight": (256, 64, 1, 1),
    "features.12.expand1x1.bias": (256,),
    "features.12.expand3x3.weight": (256, 64, 3, 3),
    "features.12.expand3x3.bias": (256,),
    "classifier.1.weight": (1000, 512, 1, 1),
    "classifier.1.bias": (1000,),
}
TORCHVISION_LAYOUTS = {"squeezenet1_0": TORCHVISION_SQUEEZENET1_0, "squeezenet1_1": TORCHVISION_SQUEEZENET1_1}


# ---------------------------------------------------------------- CIFAR-10 python batches
class _Py2Pickler(pickle._Pickler):
    """Pickle protocol 2 as Python 2's cPickle wrote it: byte strings as (SHORT_)BINSTRING, not _codecs.encode."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        self.write((pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def py2_pickle(obj) -> bytes:
    """`obj` pickled like the CIFAR-10 python batches (Python 2, protocol 2, numpy.core.multiarray)."""
    import io

    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    # The real files were written by Python 2's numpy, whose module is numpy.core.multiarray.
    return buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def cifar_batch_bytes(n: int, seed: int, label: str = "training batch 1 of 5") -> tuple[bytes, np.ndarray, np.ndarray]:
    """A CIFAR-10 python batch as the real files hold it: pickle protocol 2 of a dict with bytes keys,
    b'data' uint8 (n, 3072) channel-planar RGB rows, b'labels' a list of ints, b'filenames', b'batch_label'.
    Returns (file bytes, images (n, 32, 32, 3), labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = (np.arange(n) + seed) % 10
    d = {
        b"batch_label": label.encode(),
        b"labels": [int(v) for v in labels],
        b"data": np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(n, 3072)),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)],
    }
    return py2_pickle(d), images, labels.astype(np.int64)


def write_cifar10(folder: Path, n: int = 20) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """data_batch_1..5 and test_batch of `n` images each; returns {file name: (images, labels)}."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for seed, name in enumerate(names):
        raw, images, labels = cifar_batch_bytes(n, seed, name)
        (folder / name).write_bytes(raw)
        out[name] = (images, labels)
    return out


class Hostile:
    """Pickles to a call of `os.system`: a loader that executes it would create `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


# ---------------------------------------------------------------- idx (MNIST / Fashion-MNIST)
def idx_bytes(array: np.ndarray) -> bytes:
    """The idx format: 0x0000, type 0x08 (uint8), ndim, big-endian uint32 dims, then the data."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    return struct.pack(">HBB", 0, 8, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def write_fashion_mnist(folder: Path, n_train: int = 60, n_test: int = 20, gz: bool = True) -> dict[str, np.ndarray]:
    """The four Fashion-MNIST files (gzipped like Debian's, or plain) with random 28x28 images."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) * 3 % 10).astype(np.uint8),
    }
    for name, a in arrays.items():
        raw = idx_bytes(a)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return arrays


# ---------------------------------------------------------------- image folders
def write_image_folder(root: Path, classes=("cat", "dog", "eel"), per_class: int = 5, size=(12, 10)) -> None:
    """root/<class>/<i>.png colour images whose mean colour encodes the class."""
    import cv2

    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = np.full((*size, 3), 40 + 80 * k, np.uint8)
            img[0, 0] = i
            cv2.imwrite(str(root / name / f"{i}.png"), img)


# ---------------------------------------------------------------- small real checkpoints
def train_digits(out: Path, resume: bool = False, **overrides):
    """A short, real training run on scikit-learn's digits (CPU, one thread; resumed from `out` with
    resume=True); returns fit()'s result."""
    from training.train import TrainConfig
    from training.train_cli import fit

    kw = {
        "data": "digits",
        "epochs": 2,
        "batch_size": 32,
        "lr": 3e-4,
        "train_limit": 320,
        "threads": 1,
        "out": str(out),
    }
    kw.update(overrides)
    return fit(TrainConfig(**kw), resume=resume, show=False)


_CACHE: dict[str, Path] = {}


def digits_checkpoint_and_onnx() -> tuple[Path, Path]:
    """One small digits checkpoint and its ONNX export, made once per test session (exports are slow)."""
    if "ckpt" not in _CACHE:
        import atexit
        import shutil
        import tempfile

        from training import checkpoint as ckpt_io
        from training.export import export_onnx

        folder = Path(tempfile.mkdtemp(prefix="bluefire-test-"))
        atexit.register(shutil.rmtree, folder, True)
        r = train_digits(folder / "run", epochs=2, train_limit=256)
        model, prep = ckpt_io.model_from_checkpoint(ckpt_io.load(r["checkpoint"]))
        _CACHE["ckpt"] = Path(r["checkpoint"])
        _CACHE["onnx"] = export_onnx(model, prep, folder / "digits.onnx")
    return _CACHE["ckpt"], _CACHE["onnx"]
