"""Small ONNX graphs written with onnx.helper, no torch: the one-convolution model that native/tools and
tests time and check. (Reading a bluefire file's metadata: rtmaps_components.model_meta.read_metadata.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OPSET = 18


def save_graph(graph, path: Path, meta: dict[str, str] | None = None):
    """Wrap `graph` in a checked opset-18 model (IR 8, with `meta` as metadata) and save it to `path`."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    for k, v in (meta or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def conv_model(
    path: Path,
    cin: int,
    cout: int,
    size: int,
    k: int = 3,
    stride: int = 1,
    pad: int = 1,
    relu: bool = True,
    bias: bool = True,
    rng: np.random.Generator | None = None,
    float_data: bool = False,
    scale: float = 1.0,
) -> Path:
    """One Conv (+ Relu) on a (N, cin, size, size) input named 'image'; seeded normal weights times `scale`.

    float_data stores the weights as float_data instead of raw_data (both are valid ONNX)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = rng if rng is not None else np.random.default_rng(0)
    w = rng.standard_normal((cout, cin, k, k)).astype(np.float32)
    if scale != 1.0:
        w = (w * scale).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    if float_data:
        inits = [helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.ravel().tolist())]
    inputs = ["image", "w"]
    if bias:
        b = rng.standard_normal(cout).astype(np.float32)
        inits.append(numpy_helper.from_array((b * scale).astype(np.float32) if scale != 1.0 else b, "b"))
        inputs.append("b")
    nodes = [
        helper.make_node(
            "Conv",
            inputs,
            ["c" if relu else "y"],
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[pad] * 4,
            dilations=[1, 1],
            group=1,
        )
    ]
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    out = (size + 2 * pad - k) // stride + 1
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", cin, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", cout, out, out])],
        inits,
    )
    return save_graph(graph, path)
