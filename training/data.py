"""Real image data sets in their real file formats, split explicitly and seeded.

Specs: `fashion-mnist[:DIR]` (idx files, gzipped or not; default the Debian package's folder),
`cifar10:DIR` (CIFAR-10 python pickle batches), `folder:DIR` (one sub-folder per class, optionally
under train/ and test/), `digits` (scikit-learn's bundled 8x8 digits).
Every loader returns uint8 images (N, H, W, C) with C = 1 or 3 in RGB order, int64 labels and
class names; `prepare` turns them into the network's input size with the runtime's own
`Preprocessing`, so training sees exactly what the deployed model will see.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtmaps_components.preprocess import Preprocessing

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


@dataclass
class Split:
    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray) -> Split:
        return Split(self.images[idx], self.labels[idx])


@dataclass
class DataSet:
    """A loaded data set: train, validation (carved from train) and test splits."""

    name: str
    class_names: tuple[str, ...]
    train: Split
    val: Split
    test: Split
    color: str  # "gray" or "rgb": what the images are, so the runtime converts camera frames alike
    flip_ok: bool  # horizontal flips preserve the label (not for digits)


# ---------------------------------------------------------------- idx (MNIST / Fashion-MNIST)
def _read_maybe_gz(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise ValueError(f"{path}: cannot read ({e})") from None


def read_idx(path: Path, expect_ndim: int) -> np.ndarray:
    """Parse an idx file (uint8 payload) and check its header against its size."""
    data = _read_maybe_gz(path)
    if len(data) < 4:
        raise ValueError(f"{path}: truncated idx header ({len(data)} bytes)")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not a uint8 idx file (magic {data[:4].hex()}, expected 0000 08 0{expect_ndim})")
    if ndim != expect_ndim:
        raise ValueError(f"{path}: idx has {ndim} dimensions, expected {expect_ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated idx header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    n = int(np.prod(dims))
    if len(data) - header != n:
        raise ValueError(f"{path}: header says {dims} = {n} bytes of data, file holds {len(data) - header}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise ValueError(
        f"{folder}: missing {stem}[.gz] (install Debian's dataset-fashion-mnist or give fashion-mnist:DIR)"
    )


def load_fashion_mnist(folder: str = FASHION_MNIST_DIR) -> tuple[Split, Split]:
    """Fashion-MNIST train (60k) and test (10k) from idx files."""
    d = Path(folder)
    out = []
    for prefix in ("train", "t10k"):
        img_path, lab_path = _find(d, f"{prefix}-images-idx3-ubyte"), _find(d, f"{prefix}-labels-idx1-ubyte")
        images, labels = read_idx(img_path, 3), read_idx(lab_path, 1)
        if len(images) != len(labels):
            raise ValueError(f"{img_path}: {len(images)} images but {lab_path.name} has {len(labels)} labels")
        if labels.size and labels.max() > 9:
            raise ValueError(f"{lab_path}: label {labels.max()} outside 0..9")
        out.append(Split(images[..., None].copy(), labels.astype(np.int64)))
    return out[0], out[1]


# ---------------------------------------------------------------- CIFAR-10 python batches
class _SafeUnpickler(pickle.Unpickler):
    """Only what CIFAR-10 batches hold: a dict of bytes, lists and numpy arrays. Nothing executes."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise ValueError(f"{path}: missing CIFAR-10 batch (expected the python version: data_batch_1..5, test_batch)")
    try:
        d = _SafeUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except Exception as e:  # a truncated or hostile pickle raises many different types
        raise ValueError(f"{path}: not a readable CIFAR-10 batch ({type(e).__name__}: {e})") from None
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise ValueError(f"{path}: expected a dict with b'data' and b'labels'")
    data, labels = np.asarray(d[b"data"]), np.asarray(d[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: b'data' must be uint8 (N, 3072), got {data.dtype} {data.shape}")
    if len(labels) != len(data) or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise ValueError(f"{path}: b'labels' must hold {len(data)} labels in 0..9")
    # channel-planar RGB rows -> (N, 32, 32, 3)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels


def load_cifar10(folder: str) -> tuple[Split, Split]:
    d = Path(folder)
    parts = [_load_cifar_batch(d / f"data_batch_{i}") for i in range(1, 6)]
    test = _load_cifar_batch(d / "test_batch")
    return Split(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])), Split(*test)


# ---------------------------------------------------------------- image folders
def _read_class_tree(root: Path, classes: list[str] | None = None) -> tuple[Split, list[str]]:
    import cv2

    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    classes = classes or found
    if not classes:
        raise ValueError(f"{root}: no class sub-folders (expected one sub-folder per class)")
    if set(found) - set(classes):
        raise ValueError(f"{root}: classes {sorted(set(found) - set(classes))} are not in the training classes")
    images, labels, shape = [], [], None
    for k, name in enumerate(classes):
        for f in sorted((root / name).iterdir()) if (root / name).is_dir() else []:
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            if img is None:
                raise ValueError(f"{f}: not a decodable image")
            if img.dtype != np.uint8:
                raise ValueError(f"{f}: {img.dtype} pixels, expected 8-bit")
            img = (
                img[..., None]
                if img.ndim == 2
                else cv2.cvtColor(img, cv2.COLOR_BGRA2RGB if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)
            )
            if shape is None:
                shape = img.shape
            elif img.shape != shape:
                img = cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
                img = img[..., None] if img.ndim == 2 else img
                if img.shape[2] != shape[2]:
                    raise ValueError(f"{f}: {img.shape[2]} channels, the first image had {shape[2]}")
            images.append(img)
            labels.append(k)
    if not images:
        raise ValueError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in the class folders")
    return Split(np.stack(images), np.asarray(labels, np.int64)), classes


def load_folder(folder: str, seed: int, test_fraction: float = 0.2) -> tuple[Split, Split, list[str]]:
    """DIR/train/<class>/* and DIR/test/<class>/*, or DIR/<class>/* split by seed."""
    root = Path(folder)
    if (root / "train").is_dir() and (root / "test").is_dir():
        train, classes = _read_class_tree(root / "train")
        test, _ = _read_class_tree(root / "test", classes)
        return train, test, classes
    full, classes = _read_class_tree(root)
    train_idx, test_idx = stratified_split(full.labels, test_fraction, seed + 7919)
    return full.subset(train_idx), full.subset(test_idx), classes


def load_digits_split(seed: int, test_fraction: float = 0.2) -> tuple[Split, Split]:
    """scikit-learn's 1,797 real 8x8 digits (values 0..16 scaled to 0..255), split by seed."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    full = Split(images, d.target.astype(np.int64))
    train_idx, test_idx = stratified_split(full.labels, test_fraction, seed + 7919)
    return full.subset(train_idx), full.subset(test_idx)


# ---------------------------------------------------------------- splits and preprocessing
def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded per-class split: (keep indices, held-out indices), each sorted."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"split fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        held.append(idx[: int(round(len(idx) * fraction))])
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    keep = np.setdiff1d(np.arange(len(labels)), held_idx)
    return keep, held_idx


def load(spec: str, seed: int = 0, val_fraction: float = 0.1) -> DataSet:
    """Load a data set from its spec; the validation split is carved from train (seeded)."""
    kind, _, arg = spec.partition(":")
    if kind == "fashion-mnist":
        train, test = load_fashion_mnist(arg or FASHION_MNIST_DIR)
        classes, flip_ok = FASHION_CLASSES, True
    elif kind == "cifar10":
        if not arg:
            raise ValueError("cifar10 needs a folder: --data cifar10:DIR (the python batches)")
        train, test = load_cifar10(arg)
        classes, flip_ok = CIFAR10_CLASSES, True
    elif kind == "folder":
        if not arg:
            raise ValueError("folder needs a path: --data folder:DIR")
        train, test, classes = load_folder(arg, seed)
        flip_ok = True
    elif kind == "digits":
        train, test = load_digits_split(seed)
        classes, flip_ok = tuple(str(i) for i in range(10)), False
    else:
        raise ValueError(f"unknown data spec {spec!r}; expected fashion-mnist[:DIR], cifar10:DIR, folder:DIR or digits")
    keep, val_idx = stratified_split(train.labels, val_fraction, seed)
    color = "gray" if train.images.shape[-1] == 1 else "rgb"
    return DataSet(kind, tuple(classes), train.subset(keep), train.subset(val_idx), test, color, flip_ok)


def make_preprocessing(ds: DataSet, input_size: int, resize: str = "bilinear") -> Preprocessing:
    """The spec a model trained on `ds` will carry: size, colour, and mean/std of the training split."""
    base = Preprocessing((input_size, input_size), ds.class_names, color=ds.color, resize=resize)
    x = prepare(ds.train.subset(np.arange(min(len(ds.train), 20000))), base).astype(np.float64) * base.scale
    mean = tuple(float(v) for v in x.mean(axis=(0, 1, 2)))
    std = tuple(float(max(v, 1e-3)) for v in x.std(axis=(0, 1, 2)))
    return Preprocessing(base.input_size, ds.class_names, color=ds.color, resize=resize, mean=mean, std=std)


def prepare(split: Split, prep: Preprocessing) -> np.ndarray:
    """uint8 (N, H, W, C) images -> uint8 (N, h, w, 3) RGB at the network's size, via the runtime's code."""
    seq = "GRAY" if split.images.shape[-1] == 1 else "RGB"
    h, w = prep.input_size
    out = np.empty((len(split), h, w, 3), np.uint8)
    for i, img in enumerate(split.images):
        out[i] = prep.resize_rgb(prep.to_rgb(img, seq))
    return out
