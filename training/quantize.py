"""`bluefire quantize`: post-training int8 quantization of an exported SqueezeNet, written as QDQ ONNX.

Weights: int8, symmetric, one scale per output channel (zero point 0, range -127..127); biases int32
at scale input_scale * weight_scale. Activations: uint8, asymmetric, one scale per tensor, calibrated
on training images (never the validation or test split). The file is plain ONNX QuantizeLinear /
DequantizeLinear around float operators ("QDQ"), which ONNX Runtime fuses into its int8 kernels and
the native engine reads as int8 layers. Where the pairs sit:

  image -> Q/DQ -> Conv -> Relu -> Q/DQ -> ...            every convolution's input and output
  DQ -> MaxPool -> Q/DQ (the input's scale)             max commutes with a monotone quantizer
  Relu -> Q/DQ(s_cat) -\
                        Concat -> Q/DQ(s_cat)            both Fire halves share the concat's scale,
  Relu -> Q/DQ(s_cat) -/                                 so they can be written in place
  classifier Relu -> Q/DQ -> ReduceMean -> logits       the average pool runs dequantized

Calibration methods (per activation tensor, the upper end of its range; every tensor quantized here
follows a ReLU or is the image, whose range is exact from the preprocessing): minmax, percentile
(99.99 and 99.999), and mse (the clip that minimises the quantization error of the calibration
values). Each candidate model is scored on the validation split with ONNX Runtime and the best one
is written; the scores, the method and the calibration set are recorded in the file's metadata
('bluefire.quantization').
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtmaps_components.model_meta import INPUT_NAME, OUTPUT_NAME, ModelMeta

QUANT_KEY = "bluefire.quantization"
METHODS = ("minmax", "percentile-99.99", "percentile-99.999", "mse")
QMIN, QMAX = 0, 255  # uint8 activations
WMAX = 127  # int8 weights, symmetric (-127..127: -128 never used, so a negated weight is representable)


@dataclass
class QuantizeConfig:
    data: str = "fashion-mnist"  # data spec (training.data.load)
    calib_images: int = 1000  # training images the activation ranges are measured on
    samples_per_image: int = 4096  # values kept per tensor per image for percentile / mse (minmax sees all)
    methods: tuple[str, ...] = METHODS  # candidates; the best on the validation split is written
    seed: int = 0  # split seed (the model's training seed) and calibration-image draw
    val_fraction: float = 0.1
    threads: int = 0  # ONNX Runtime threads (0: library default)


def is_quantized(path: str | Path) -> bool:
    """Whether an ONNX file was written by `bluefire quantize` (has its metadata record)."""
    import onnx

    return any(p.key == QUANT_KEY for p in onnx.load(str(path), load_external_data=False).metadata_props)


# ---------------------------------------------------------------- graph analysis
@dataclass
class _Graph:
    """The float graph's activation tensors that get quantization parameters, and who shares whose."""

    points: list[
        str
    ]  # tensors with their own calibrated range (image, Relu outputs not feeding a Concat, Concat outputs)
    alias: dict[str, str]  # tensor -> the point whose parameters it uses (Concat inputs, MaxPool outputs)


def _analyse(model) -> _Graph:
    g = model.graph
    producers = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    known = {"Conv", "Relu", "MaxPool", "Concat", "ReduceMean", "GlobalAveragePool", "Reshape", "Flatten", "Softmax"}
    for n in g.node:
        if n.op_type not in known:
            raise ValueError(
                f"node {n.name or n.output[0]!r}: {n.op_type} is not an operator of an exported SqueezeNet "
                f"(expected {', '.join(sorted(known))}); quantize a file written by `bluefire export`"
            )
    points, alias = [INPUT_NAME], {}
    for n in g.node:
        if n.op_type == "Relu":
            src = producers.get(n.input[0])
            if src is None or src.op_type != "Conv":
                raise ValueError(f"node {n.name or n.output[0]!r}: Relu not after a Conv")
            users = consumers.get(n.output[0], [])
            if any(u.op_type == "Concat" for u in users):
                if len(users) != 1:
                    raise ValueError(f"tensor {n.output[0]!r} feeds a Concat and other nodes; expected a Fire module")
                alias[n.output[0]] = users[0].output[0]
            else:
                points.append(n.output[0])
        elif n.op_type == "Concat":
            points.append(n.output[0])
        elif n.op_type == "MaxPool":
            alias[n.output[0]] = alias.get(n.input[0], n.input[0])
    for n in g.node:  # a conv must not feed anything directly: its ReLU output is what gets quantized
        if n.op_type == "Conv":
            users = consumers.get(n.output[0], [])
            if len(users) != 1 or users[0].op_type != "Relu":
                raise ValueError(f"Conv {n.name or n.output[0]!r} is not followed by exactly one Relu")
    return _Graph(points, alias)


# ---------------------------------------------------------------- calibration
def _float_session(model, outputs: list[str], threads: int):
    import onnx
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for name in outputs:
        if name not in have and name != INPUT_NAME:
            m.graph.output.add().name = name
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def calibrate(model, x_calib: np.ndarray, cfg: QuantizeConfig, graph: _Graph, batch: int = 64) -> dict[str, dict]:
    """Per point tensor: its exact min/max and a seeded sample of its values (float32)."""
    names = [p for p in graph.points if p != INPUT_NAME]
    sess = _float_session(model, names, cfg.threads)
    rng = np.random.default_rng(cfg.seed + 1)
    stats = {p: {"min": np.inf, "max": -np.inf, "samples": []} for p in names}
    for i in range(0, len(x_calib), batch):
        outs = sess.run(names, {INPUT_NAME: x_calib[i : i + batch]})
        for name, v in zip(names, outs):
            s = stats[name]
            s["min"], s["max"] = min(s["min"], float(v.min())), max(s["max"], float(v.max()))
            flat = v.reshape(len(v), -1)
            k = min(cfg.samples_per_image, flat.shape[1])
            idx = rng.integers(0, flat.shape[1], size=(len(v), k))
            s["samples"].append(np.take_along_axis(flat, idx, 1).ravel())
    for s in stats.values():
        s["samples"] = np.concatenate(s["samples"]).astype(np.float32)
    return stats


def _qdq_error(v: np.ndarray, hi: float) -> float:
    """Mean squared error of quantizing non-negative values `v` to uint8 over [0, hi]."""
    s = hi / QMAX
    q = np.clip(np.round(v / s), QMIN, QMAX)
    return float(np.mean((q * s - v) ** 2))


def choose_upper(stat: dict, method: str) -> float:
    """The upper end of a non-negative tensor's quantization range by `method`."""
    v, top = stat["samples"], stat["max"]
    if stat["min"] < 0:
        raise ValueError(f"calibration saw a negative value ({stat['min']}) where a ReLU output was expected")
    if top <= 0:
        return 1.0  # an all-zero tensor: any positive scale represents it
    if method == "minmax":
        return top
    if method.startswith("percentile-"):
        return max(float(np.percentile(v, float(method.split("-", 1)[1]))), top * 1e-3)
    if method == "mse":
        cands = np.linspace(0.2, 1.0, 81) * top
        sub = v[:: max(1, len(v) // 500_000)]
        errs = [_qdq_error(sub, c) for c in cands]
        return float(cands[int(np.argmin(errs))])
    raise ValueError(f"unknown calibration method {method!r}; expected one of {', '.join(METHODS)}")


def input_range(meta: ModelMeta) -> tuple[float, float]:
    """The exact range of the network's input: uint8 0..255 through the file's own normalisation."""
    prep = meta.preprocessing
    lo = min((0.0 - m) / s for m, s in zip(prep.mean, prep.std))
    hi = max((255.0 * prep.scale - m) / s for m, s in zip(prep.mean, prep.std))
    return lo, hi


def act_params(lo: float, hi: float) -> tuple[float, int]:
    """uint8 asymmetric (scale, zero point) covering [lo, hi], with 0 exactly representable."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / (QMAX - QMIN) if hi > lo else 1.0
    zp = int(np.clip(round(QMIN - lo / scale), QMIN, QMAX))
    return float(np.float32(scale)), zp


# ---------------------------------------------------------------- writing the QDQ graph
def weight_params(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel symmetric int8: (int8 weights, float32 scales); an all-zero channel gets scale 1/127."""
    absmax = np.abs(w.reshape(len(w), -1)).max(1).astype(np.float64)
    scale = np.where(absmax > 0, absmax / WMAX, 1.0 / WMAX).astype(np.float32)
    q = np.clip(np.round(w / scale.reshape(-1, *[1] * (w.ndim - 1)).astype(np.float64)), -WMAX, WMAX).astype(np.int8)
    return q, scale


def write_qdq(model, params: dict[str, tuple[float, int]], graph: _Graph):
    """A copy of `model` with Q/DQ pairs on every point and alias tensor and int8/int32 conv initializers."""
    import onnx
    from onnx import helper, numpy_helper

    src = model.graph
    inits = {t.name: t for t in src.initializer}
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    del g.node[:]
    keep_inits = [
        t for t in src.initializer if not any(n.op_type == "Conv" and t.name in n.input[1:] for n in src.node)
    ]
    del g.initializer[:]
    g.initializer.extend(keep_inits)

    def p_of(t: str) -> tuple[float, int]:
        return params[graph.alias.get(t, t)]

    renamed: dict[str, str] = {}  # float tensor -> its dequantized twin

    def add_qdq(t: str) -> None:
        scale, zp = p_of(t)
        s_name, z_name = f"{t}_scale", f"{t}_zero_point"
        g.initializer.append(numpy_helper.from_array(np.array(scale, np.float32), s_name))
        g.initializer.append(numpy_helper.from_array(np.array(zp, np.uint8), z_name))
        g.node.append(
            helper.make_node("QuantizeLinear", [t, s_name, z_name], [f"{t}_quantized"], name=f"{t}_QuantizeLinear")
        )
        g.node.append(
            helper.make_node(
                "DequantizeLinear",
                [f"{t}_quantized", s_name, z_name],
                [f"{t}_dequantized"],
                name=f"{t}_DequantizeLinear",
            )
        )
        renamed[t] = f"{t}_dequantized"

    quantized = set(graph.points) | set(graph.alias)
    add_qdq(INPUT_NAME)
    for n in src.node:
        node = onnx.NodeProto()
        node.CopyFrom(n)
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
        if n.op_type == "Conv":
            x = n.input[0]
            s_x, _ = p_of(x)
            w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
            b = (
                numpy_helper.to_array(inits[n.input[2]]).astype(np.float64)
                if len(n.input) > 2 and n.input[2]
                else np.zeros(len(w))
            )
            wq, ws = weight_params(w)
            bs = (np.float64(s_x) * ws.astype(np.float64)).astype(np.float32)
            bq = np.round(b / bs.astype(np.float64))
            if np.abs(bq).max(initial=0) >= 2**31 - 1:
                raise ValueError(f"Conv {n.output[0]!r}: a bias does not fit int32 at scale input x weight scale")
            wn, bn = n.input[1], f"{n.input[1].rsplit('.', 1)[0]}.bias"
            g.initializer.extend(
                [
                    numpy_helper.from_array(wq, f"{wn}_quantized"),
                    numpy_helper.from_array(ws, f"{wn}_scale"),
                    numpy_helper.from_array(np.zeros(len(w), np.int8), f"{wn}_zero_point"),
                    numpy_helper.from_array(bq.astype(np.int32), f"{bn}_quantized"),
                    numpy_helper.from_array(bs, f"{bn}_scale"),
                    numpy_helper.from_array(np.zeros(len(w), np.int32), f"{bn}_zero_point"),
                ]
            )
            g.node.append(
                helper.make_node(
                    "DequantizeLinear",
                    [f"{wn}_quantized", f"{wn}_scale", f"{wn}_zero_point"],
                    [f"{wn}_dequantized"],
                    name=f"{wn}_DequantizeLinear",
                    axis=0,
                )
            )
            g.node.append(
                helper.make_node(
                    "DequantizeLinear",
                    [f"{bn}_quantized", f"{bn}_scale", f"{bn}_zero_point"],
                    [f"{bn}_dequantized"],
                    name=f"{bn}_DequantizeLinear",
                    axis=0,
                )
            )
            del node.input[1:]
            node.input.extend([f"{wn}_dequantized", f"{bn}_dequantized"])
        g.node.append(node)
        for o in n.output:
            if o in quantized:
                add_qdq(o)
    del g.value_info[:]
    onnx.checker.check_model(out, full_check=True)
    return out


# ---------------------------------------------------------------- scoring and the command
def score(model_bytes: bytes, x: np.ndarray, labels: np.ndarray, threads: int, batch: int = 256) -> float:
    """Top-1 of a serialized model in ONNX Runtime on preprocessed inputs."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    pred = np.concatenate(
        [sess.run([OUTPUT_NAME], {INPUT_NAME: x[i : i + batch]})[0].argmax(1) for i in range(0, len(x), batch)]
    )
    return float((pred == labels).mean())


def _inputs(meta: ModelMeta, images: np.ndarray) -> np.ndarray:
    from .evaluate import preprocess_batch

    seq = "GRAY" if images.shape[-1] == 1 else "RGB"
    return np.concatenate(
        [preprocess_batch(meta.preprocessing, images[i : i + 512], seq) for i in range(0, len(images), 512)]
    )


def quantize(src: str | Path, dst: str | Path, cfg: QuantizeConfig, log=print) -> dict[str, Any]:
    """Calibrate, build every candidate, score them on the validation split, write the best; returns its record."""
    import onnx

    from . import data as data_mod
    from .export import _atomic_save_onnx

    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise ValueError(f"{src}: no such ONNX file")
    if cfg.calib_images < 1:
        raise ValueError(f"--calib-images must be at least 1, got {cfg.calib_images}")
    for m in cfg.methods:
        if m not in METHODS:
            raise ValueError(f"unknown calibration method {m!r}; expected some of {', '.join(METHODS)}")
    try:
        model = onnx.load(str(src), load_external_data=False)
    except Exception as e:  # protobuf raises DecodeError and others on a corrupt file
        raise ValueError(f"{src}: not a readable ONNX file ({type(e).__name__}: {e})") from None
    props = {p.key: p.value for p in model.metadata_props}
    if QUANT_KEY in props:
        raise ValueError(f"{src}: already quantized ('{QUANT_KEY}' metadata present); quantize the float model")
    meta = ModelMeta.from_metadata(props, str(src))
    graph = _analyse(model)
    t0 = time.time()
    ds = data_mod.load(cfg.data, cfg.seed, cfg.val_fraction)
    if len(ds.class_names) != meta.preprocessing.num_classes:
        raise ValueError(
            f"{src}: the model knows {meta.preprocessing.num_classes} classes, {cfg.data} has {len(ds.class_names)}"
        )
    rng = np.random.default_rng(cfg.seed)
    calib_idx = np.sort(rng.choice(len(ds.train), size=min(cfg.calib_images, len(ds.train)), replace=False))
    x_cal = _inputs(meta, ds.train.images[calib_idx])
    x_val = _inputs(meta, ds.val.images)
    log(f"calibrating on {len(x_cal)} training images, {len(graph.points)} activation tensors")
    stats = calibrate(model, x_cal, cfg, graph)
    fp32_val = score(model.SerializeToString(), x_val, ds.val.labels, cfg.threads)
    log(f"fp32 validation top-1 {fp32_val:.4f}")
    lo, hi = input_range(meta)
    candidates: dict[str, Any] = {}
    best = None
    for method in cfg.methods:
        params = {INPUT_NAME: act_params(lo, hi)}
        for p in graph.points:
            if p != INPUT_NAME:
                params[p] = act_params(0.0, choose_upper(stats[p], method))
        qmodel = write_qdq(model, params, graph)
        acc = score(qmodel.SerializeToString(), x_val, ds.val.labels, cfg.threads)
        candidates[method] = acc
        log(f"  {method:<18} validation top-1 {acc:.4f} ({100 * (acc - fp32_val):+.2f} points)")
        if best is None or acc > best[1]:
            best = (method, acc, qmodel, params)
    method, acc, qmodel, params = best
    record = {
        "format": "QDQ",
        "weights": "int8 symmetric per output channel (zero point 0, -127..127)",
        "bias": "int32 at input scale x weight scale",
        "activations": "uint8 asymmetric per tensor",
        "method": method,
        "candidates_val_top1": candidates,
        "fp32_val_top1": fp32_val,
        "val_top1": acc,
        "calibration": {
            "data": cfg.data,
            "split": "train",
            "images": len(x_cal),
            "seed": cfg.seed,
            "samples_per_image": cfg.samples_per_image,
            "chosen_by": f"validation top-1 ({len(x_val)} images, seed {cfg.seed}, fraction {cfg.val_fraction})",
        },
        "source": {"file": src.name, "sha256": hashlib.sha256(src.read_bytes()).hexdigest()},
        "seconds": round(time.time() - t0, 1),
    }
    for p in list(qmodel.metadata_props):
        if p.key == QUANT_KEY:
            qmodel.metadata_props.remove(p)
    qmodel.metadata_props.add(key=QUANT_KEY, value=json.dumps(record, sort_keys=True))
    qmodel.producer_name = "bluefire"
    _atomic_save_onnx(qmodel, dst)
    log(
        f"{dst}: {method}, validation top-1 {record['val_top1']:.4f} (fp32 {fp32_val:.4f}), "
        f"{dst.stat().st_size:,} bytes"
    )
    return record


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = (__doc__ or "").split("\n", 1)[0] + (
        "\nint8 weights per output channel, uint8 activations per tensor calibrated on training images; the\n"
        "calibration method is chosen by validation top-1 in ONNX Runtime and recorded in the file's metadata."
    )
    p.epilog = (
        "example:\n  bluefire quantize models/squeezenet1_1_fmnist_pruned.onnx --data fashion-mnist "
        "-o models/squeezenet1_1_fmnist_pruned_int8.onnx"
    )
    d = QuantizeConfig()
    p.add_argument("model", metavar="MODEL", help="a float ONNX file written by `bluefire export`")
    p.add_argument("-o", "--out", required=True, metavar="FILE", help="the QDQ int8 ONNX file to write")
    p.add_argument(
        "--data", default=d.data, metavar="SPEC", help=f"data set the model was trained on (default {d.data})"
    )
    p.add_argument(
        "--calib-images",
        type=int,
        default=d.calib_images,
        help=f"training images to calibrate on (default {d.calib_images})",
    )
    p.add_argument(
        "--methods",
        default=",".join(d.methods),
        help=f"calibration candidates, comma-separated (default: all of {','.join(METHODS)})",
    )
    p.add_argument("--seed", type=int, default=d.seed, help="split seed, as the model was trained with (default 0)")
    p.add_argument(
        "--val-fraction", type=float, default=d.val_fraction, help="validation fraction of train (default 0.1)"
    )
    p.add_argument("--threads", type=int, default=d.threads, help="ONNX Runtime threads (default: library default)")


def main(args: argparse.Namespace) -> int:
    cfg = QuantizeConfig(
        data=args.data,
        calib_images=args.calib_images,
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
        seed=args.seed,
        val_fraction=args.val_fraction,
        threads=args.threads,
    )
    try:
        quantize(args.model, args.out, cfg)
    except ValueError as e:
        raise SystemExit(f"bluefire quantize: {e}") from None
    return 0
