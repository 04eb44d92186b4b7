"""Export a (pruned or not) SqueezeNet to ONNX with its preprocessing in the metadata, and check parity."""
from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from rtmaps_components.model_meta import INPUT_NAME, OUTPUT_NAME, ModelMeta
from rtmaps_components.preprocess import Preprocessing

from .model import SqueezeNet

DEFAULT_OPSET = 18


def _atomic_save_onnx(model_proto, path: Path) -> None:
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        onnx.save(model_proto, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; RTMaps may run as another user
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def export_onnx(model: SqueezeNet, prep: Preprocessing, path: str | Path, opset: int = DEFAULT_OPSET) -> Path:
    """Write `model` as ONNX (dynamic batch, input 'image', output 'logits') with bluefire metadata."""
    import onnx

    if opset < 17:
        raise ValueError(f"opset must be 17 or newer, got {opset}")
    if prep.num_classes != model.num_classes:
        raise ValueError(f"preprocessing names {prep.num_classes} classes, the model has {model.num_classes}")
    path = Path(path)
    model = model.eval()
    h, w = prep.input_size
    example = torch.zeros(1, 3, h, w)
    # torch's exporter logs a warning per torchvision op it cannot register; we never use torchvision
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmpdir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = Path(tmpdir) / "raw.onnx"
        torch.onnx.export(model, (example,), str(raw), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
                          opset_version=opset, dynamo=True, verbose=False)
        proto = onnx.load(str(raw))
    meta = ModelMeta(model.arch, model.widths.to_dict(), prep)
    del proto.metadata_props[:]
    for k, v in meta.to_metadata().items():
        proto.metadata_props.add(key=k, value=v)
    proto.producer_name = "bluefire"
    onnx.checker.check_model(proto, full_check=True)
    _atomic_save_onnx(proto, path)
    return path


def check_parity(model: SqueezeNet, onnx_path: str | Path, inputs: np.ndarray, atol: float = 1e-4) -> float:
    """Max |torch - ONNX Runtime| over `inputs` (float32 NCHW); raises if above `atol`."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(inputs)).numpy()
    got = sess.run([OUTPUT_NAME], {INPUT_NAME: inputs})[0]
    err = float(np.max(np.abs(ref - got))) if ref.size else 0.0
    if not err <= atol:
        raise AssertionError(f"{onnx_path}: ONNX Runtime differs from torch by {err:.3g} (> {atol})")
    return err
