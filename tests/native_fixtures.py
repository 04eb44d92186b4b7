"""ONNX files for the native engine's tests: single ops built with onnx.helper (fast) and whole
SqueezeNets written by the real exporter (training.export), all with seeded random weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from training.onnx_files import OPSET, conv_model, save_graph  # noqa: F401  (conv_model: the one writer)


def fire_model(path: Path, cin: int, s: int, e1: int, e3: int, size: int, rng: np.random.Generator) -> Path:
    """A Fire module (squeeze, expand1x1 | expand3x3, Concat) followed by max-pool 3x3 s2 ceil."""

    def conv(name: str, x: str, cout: int, c: int, k: int, pad: int) -> list:
        w = numpy_helper.from_array(
            (rng.standard_normal((cout, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32), f"{name}.weight"
        )
        b = numpy_helper.from_array((rng.standard_normal(cout) * 0.1).astype(np.float32), f"{name}.bias")
        inits.extend([w, b])
        return [
            helper.make_node("Conv", [x, w.name, b.name], [name], kernel_shape=[k, k], pads=[pad] * 4),
            helper.make_node("Relu", [name], [name + ".relu"]),
        ]

    inits: list = []
    nodes = conv("squeeze", "image", s, cin, 1, 0)
    nodes += conv("expand1x1", "squeeze.relu", e1, s, 1, 0) + conv("expand3x3", "squeeze.relu", e3, s, 3, 1)
    nodes.append(helper.make_node("Concat", ["expand1x1.relu", "expand3x3.relu"], ["cat"], axis=1))
    nodes.append(helper.make_node("MaxPool", ["cat"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1))
    graph = helper.make_graph(
        nodes,
        "fire",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", cin, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", e1 + e3, "h", "w"])],
        inits,
    )
    return save_graph(graph, path)


def network(
    path: Path,
    arch: str,
    size: int,
    classes: int,
    pruned: bool,
    seed: int,
    color: str = "rgb",
    channel_order: str = "RGB",
    planes: int = 3,
) -> Path:
    """A whole SqueezeNet through the real exporter; `pruned` draws odd per-Fire widths and biases;
    planes=1: a gray model exported with its stem folded to the luma plane."""
    import torch

    from rtmaps_components.preprocess import Preprocessing
    from training.export import export_onnx
    from training.model import SqueezeNet, Widths

    g = np.random.default_rng(seed)
    widths = None
    if pruned:
        base = Widths.default(arch)
        widths = Widths(
            int(g.integers(5, base.conv1)), tuple(tuple(int(g.integers(1, c + 1)) for c in f) for f in base.fires)
        )
    torch.manual_seed(seed)
    model = SqueezeNet(arch, classes, widths)
    if pruned:  # non-zero biases everywhere, so the exporter keeps every Conv's third input
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.Conv2d):
                    m.bias.uniform_(-0.1, 0.1)
    prep = Preprocessing(
        (size, size),
        tuple(f"c{i}" for i in range(classes)),
        color=color,
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        channel_order=channel_order,
    )
    return export_onnx(model, prep, path, planes=planes)


def prep_networks(d: Path) -> dict:
    """The preprocessing tests' three 96x96 networks in `d`, keyed (color, channel_order): rgb/RGB, gray/BGR
    with three planes, and ("gray1", "BGR") with one (tests/test_native.py, tests/test_preprocess_native.py)."""
    nets = {
        (c, o): network(d / f"{c}{o}.onnx", "squeezenet1_1", 96, 5, False, seed=4, color=c, channel_order=o)
        for c, o in (("rgb", "RGB"), ("gray", "BGR"))
    }
    nets[("gray1", "BGR")] = network(
        d / "gray1.onnx", "squeezenet1_1", 96, 5, False, seed=4, color="gray", channel_order="BGR", planes=1
    )
    return nets


def ort_run(path: Path, x: np.ndarray) -> np.ndarray:
    """ONNX Runtime's output for `x` (the oracle for every native variant)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]
