"""Export a (pruned or not) SqueezeNet to ONNX with its preprocessing in the metadata, and check parity."""

from __future__ import annotations

import copy
import dataclasses
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from rtmaps_components.atomic import atomic_path
from rtmaps_components.model_meta import INPUT_NAME, OUTPUT_NAME, ModelMeta
from rtmaps_components.preprocess import Preprocessing

from .model import SqueezeNet

DEFAULT_OPSET = 18


def _atomic_save_onnx(model_proto, path: Path) -> None:
    import onnx

    with atomic_path(path, mode=0o644) as tmp:  # 0644: RTMaps may run as another user
        onnx.save(model_proto, str(tmp))


def plane_channels(prep: Preprocessing) -> list[int]:
    """The RGB channel whose normalisation each of the network's three input planes carries."""
    return [2, 1, 0] if prep.channel_order == "BGR" else [0, 1, 2]


def luma_plane(prep: Preprocessing) -> int:
    """Which of a gray model's three input planes is normalised as RGB channel 0 (the one kept)."""
    return plane_channels(prep).index(0)


def fold_gray_stem(model: SqueezeNet, prep: Preprocessing) -> tuple[SqueezeNet, Preprocessing]:
    """A gray model whose stem takes the luma plane alone: the same function, a third of the stem.

    A gray model's planes are x_c = (v * scale - mean_c) / std_c of one luma v. With x the plane
    normalised as RGB channel 0 is, x_c = (std_0 / std_c) x + (mean_0 - mean_c) / std_c, so
    sum_c W_c * x_c + b = (sum_c W_c std_0 / std_c) * x + b + sum_c sum(W_c) (mean_0 - mean_c) / std_c.
    Exact because SqueezeNet's stems have no padding: every tap reads a pixel, never a zero.
    Folded in double, rounded once to float32. Returns a copy; `model` is untouched.
    """
    if prep.color != "gray" or prep.channels != 3:
        raise ValueError(f"only a 3-plane gray model folds to one plane (color {prep.color!r}, {prep.channels} planes)")
    conv = model.conv1
    if tuple(conv.padding) != (0, 0) or conv.in_channels != 3:
        raise ValueError(f"the stem must be an unpadded 3-plane convolution, got padding {conv.padding}")
    order = plane_channels(prep)
    mean = torch.tensor([prep.mean[c] for c in order], dtype=torch.float64)
    std = torch.tensor([prep.std[c] for c in order], dtype=torch.float64)
    w = conv.weight.detach().to(torch.float64)
    b = conv.bias.detach().to(torch.float64) if conv.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
    gain, offset = prep.std[0] / std, (prep.mean[0] - mean) / std
    folded = torch.nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride)
    with torch.no_grad():
        folded.weight.copy_((w * gain[None, :, None, None]).sum(1, keepdim=True).float())
        folded.bias.copy_((b + (w.sum((2, 3)) * offset[None, :]).sum(1)).float())
    out = copy.deepcopy(model).eval()
    out.features[0] = folded
    return out, dataclasses.replace(prep, channels=1, mean=(prep.mean[0],), std=(prep.std[0],))


def export_onnx(
    model: SqueezeNet, prep: Preprocessing, path: str | Path, opset: int = DEFAULT_OPSET, planes: int = 3
) -> Path:
    """Write `model` as ONNX (dynamic batch, input 'image', output 'logits') with bluefire metadata.

    planes=1 (gray models only): the stem folded to take the luma plane alone (fold_gray_stem).
    """
    import onnx

    if opset < 17:
        raise ValueError(f"opset must be 17 or newer, got {opset}")
    if prep.num_classes != model.num_classes:
        raise ValueError(f"preprocessing names {prep.num_classes} classes, the model has {model.num_classes}")
    if planes not in (1, 3):
        raise ValueError(f"planes must be 1 or 3, got {planes}")
    check_finite_weights(model)
    path = Path(path)
    model = model.eval()
    if planes == 1:
        model, prep = fold_gray_stem(model, prep)
    h, w = prep.input_size
    example = torch.zeros(1, prep.channels, h, w)
    # torch's exporter logs a warning per torchvision op it cannot register; we never use torchvision
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmpdir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = Path(tmpdir) / "raw.onnx"
        torch.onnx.export(
            model,
            (example,),
            str(raw),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
        proto = onnx.load(str(raw))
    meta = ModelMeta(model.arch, model.widths.to_dict(), prep)
    del proto.metadata_props[:]
    for k, v in meta.to_metadata().items():
        proto.metadata_props.add(key=k, value=v)
    proto.producer_name = "bluefire"
    onnx.checker.check_model(proto, full_check=True)
    _atomic_save_onnx(proto, path)
    return path


def check_finite_weights(model: torch.nn.Module) -> None:
    """ValueError when any weight is NaN or Inf (a diverged run): such a model is never exported."""
    bad = [k for k, t in model.state_dict().items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise ValueError(
            f"the weights hold NaN or Inf in {len(bad)} tensor(s) ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}); a diverged model is not exported"
        )


def check_parity(
    model: SqueezeNet,
    onnx_path: str | Path,
    inputs: np.ndarray,
    atol: float = 1e-4,
    onnx_inputs: np.ndarray | None = None,
) -> float:
    """Max |torch - ONNX Runtime| over `inputs` (float32 NCHW); raises if above `atol`.

    `onnx_inputs`: what the ONNX file gets instead, when its input differs (a single-plane gray model).
    """
    from rtmaps_components.backends import ort_session

    sess = ort_session(onnx_path)
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(inputs)).numpy()
    got = sess.run([OUTPUT_NAME], {INPUT_NAME: inputs if onnx_inputs is None else onnx_inputs})[0]
    err = float(np.max(np.abs(ref - got))) if ref.size else 0.0
    if not err <= atol:
        raise AssertionError(f"{onnx_path}: ONNX Runtime differs from torch by {err:.3g} (> {atol})")
    return err
