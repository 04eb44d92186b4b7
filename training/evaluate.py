"""`bluefire evaluate`: top-1, per-class accuracy and the confusion matrix of a checkpoint or an ONNX file.

A checkpoint is run in torch on the data prepared exactly as in training. An ONNX file is run in
ONNX Runtime with the preprocessing its own metadata names, applied to the raw data set images by
the runtime's `Preprocessing` (the RTMaps pipeline test compares its accuracy with `evaluate_onnx`).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rtmaps_components.atomic import atomic_write
from rtmaps_components.preprocess import Preprocessing


# ---------------------------------------------------------------- metrics
def confusion_matrix(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (true class, predicted class), int64 (num_classes, num_classes)."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(labels, np.int64), np.asarray(pred, np.int64)), 1)
    return cm


def summarize(labels: np.ndarray, pred: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """top1, per-class accuracy (None for a class with no examples) and the confusion matrix."""
    labels = np.asarray(labels, np.int64)
    k = len(class_names)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels span {labels.min()}..{labels.max()}, the model knows {k} classes")
    cm = confusion_matrix(labels, pred, k)
    support = cm.sum(1)
    per_class = {name: (float(cm[i, i] / support[i]) if support[i] else None) for i, name in enumerate(class_names)}
    return {
        "n": int(labels.size),
        "top1": float(np.trace(cm) / max(1, labels.size)),
        "per_class": per_class,
        "support": support.tolist(),
        "class_names": list(class_names),
        "confusion": cm.tolist(),
    }


def format_report(result: dict[str, Any]) -> str:
    """Human-readable top-1, per-class table and confusion matrix (rows: true class, columns: predicted)."""
    names = result["class_names"]
    lines = [
        f"top-1 {result['top1']:.4f} on {result['n']} images"
        + (f" ({result['model']}, {result['data']} {result['split']})" if "model" in result else ""),
        "",
        f"{'#':>3}  {'class':<16} {'acc':>7} {'n':>6}",
    ]
    for i, name in enumerate(names):
        acc = result["per_class"][name]
        lines.append(f"{i:>3}  {name[:16]:<16} {'-' if acc is None else f'{acc:.4f}':>7} {result['support'][i]:>6}")
    cm = np.asarray(result["confusion"])
    w = max(4, len(str(cm.max() if cm.size else 0)) + 1)
    lines += [
        "",
        "confusion matrix (rows: true class #, columns: predicted class #)",
        "   " + "".join(f"{j:>{w}}" for j in range(len(names))),
    ]
    lines += [f"{i:>3}" + "".join(f"{v:>{w}}" for v in row) for i, row in enumerate(cm)]
    return "\n".join(lines)


def save_confusion_png(result: dict[str, Any], path: str | Path) -> Path:
    """The confusion matrix as a PNG: colour is the row-normalised rate, text the count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(result["confusion"], np.float64)
    names = result["class_names"]
    rate = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    k = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * k, 0.8 + 0.55 * k), dpi=100)
    im = ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    if k <= 30:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    str(int(cm[i, j])),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if rate[i, j] > 0.5 else "black",
                )
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    title = f"top-1 {result['top1']:.4f}, n={result['n']}"
    if "model" in result:
        title = f"{Path(result['model']).name} on {result['data']} {result['split']}\n" + title
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- running the models
def preprocess_batch(prep: Preprocessing, images: np.ndarray, channel_seq: str) -> np.ndarray:
    """uint8 (N, H, W, C) -> float32 (N, channels, h, w): `Preprocessing.apply` on each image, batched."""
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"images must be uint8 (N, H, W[, C]), got {images.dtype} {images.shape}")
    rgb = (
        np.stack([prep.resize_rgb(prep.to_rgb(img, channel_seq)) for img in images])
        if len(images)
        else np.zeros((0, *prep.input_size, 3), np.uint8)
    )
    return prep.normalize(rgb)


def evaluate_onnx(
    path: str | Path,
    images_uint8_nhwc: np.ndarray,
    labels: np.ndarray,
    channel_seq: str = "RGB",
    batch: int = 256,
    threads: int = 0,
) -> dict[str, Any]:
    """Accuracy of an exported model on raw uint8 images, preprocessed as its metadata says.

    Loaded by the runtime's `load_model` on ONNX Runtime: its file, metadata and graph checks (a metadata
    that disagrees with the graph is a named ValueError, never an ONNX Runtime traceback)."""
    from rtmaps_components.backends import load_model

    model = load_model(path, backend="onnxruntime", threads=threads)
    prep = model.prep
    preds = []
    for i in range(0, len(images_uint8_nhwc), batch):
        x = preprocess_batch(prep, images_uint8_nhwc[i : i + batch], channel_seq)
        preds.append(model.run(x).argmax(1))
    pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    return summarize(labels, pred, prep.class_names)


def evaluate_checkpoint(
    ckpt: dict, images_uint8_nhwc: np.ndarray, labels: np.ndarray, channel_seq: str = "RGB", source: str = "checkpoint"
) -> dict[str, Any]:
    """Accuracy of a checkpoint in torch, on images prepared exactly as training prepares them."""
    from . import checkpoint as ckpt_io
    from .data import Split, prepare
    from .train import predict

    model, prep = ckpt_io.model_from_checkpoint(ckpt, source)
    if channel_seq.upper() in ("RGB", "GRAY"):
        x = prepare(Split(images_uint8_nhwc, np.asarray(labels)), prep)
    else:
        x = np.stack([prep.resize_rgb(prep.to_rgb(img, channel_seq)) for img in images_uint8_nhwc])
    pred = predict(model, x, prep).argmax(1) if len(x) else np.zeros(0, np.int64)
    return summarize(labels, pred, prep.class_names)


# ---------------------------------------------------------------- command line
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = (
        "Top-1 accuracy, per-class accuracy and the confusion matrix (printed; --png draws it) of a\n"
        "bluefire checkpoint (.pt, run in torch) or an exported model (.onnx, run in ONNX Runtime with\n"
        "the preprocessing stored in its metadata). For a checkpoint, --data, --seed and\n"
        "--val-fraction default to the values it was trained with, so the splits are the same."
    )
    p.epilog = (
        "examples:\n"
        "  bluefire evaluate runs/baseline/best.pt --png out/confusion.png\n"
        "  bluefire evaluate models/squeezenet_pruned.onnx --data fashion-mnist --json out/eval.json"
    )
    p.add_argument("model", metavar="MODEL", help="a bluefire checkpoint (.pt) or an exported ONNX file (.onnx)")
    p.add_argument(
        "--data",
        metavar="SPEC",
        help="data set: fashion-mnist[:DIR] | cifar10:DIR | folder:DIR | digits "
        "(default: the checkpoint's training data; required for .onnx)",
    )
    p.add_argument("--split", choices=("test", "val"), default="test", help="which split to score (default: test)")
    p.add_argument("--seed", type=int, help="split seed (default: the checkpoint's, else 0)")
    p.add_argument(
        "--val-fraction", type=float, help="validation fraction carved from train (default: the checkpoint's, else 0.1)"
    )
    p.add_argument("--limit", type=int, default=0, metavar="N", help="score only the first N images (default: all)")
    p.add_argument("--png", metavar="FILE", help="write the confusion matrix as a PNG")
    p.add_argument("--json", metavar="FILE", help="write top-1, per-class accuracy and the confusion matrix as JSON")
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads for torch / ONNX Runtime, 0 = the library's default (default: 0); "
        "ONNX Runtime accepts at most this machine's CPU count",
    )


def check_args(args: argparse.Namespace) -> None:
    """Every flag checked before any work: one-line errors, nothing loaded yet."""
    from rtmaps_components.output_paths import check_output_path

    if args.limit < 0:
        raise ValueError(f"--limit must be >= 0 (0 = all images), got {args.limit}")
    if not 0 <= args.threads <= (os.cpu_count() or 1):
        raise ValueError(
            f"--threads must be 0 (the library default) or 1..{os.cpu_count() or 1} "
            f"(this machine's CPUs), got {args.threads}"
        )
    if args.val_fraction is not None and not 0 <= args.val_fraction < 1:
        raise ValueError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    check_output_path(args.png, "--png")
    check_output_path(args.json, "--json")


def main(args: argparse.Namespace) -> int:
    try:
        check_args(args)
        result = run(args)
    except ValueError as e:
        raise SystemExit(f"bluefire evaluate: {e}") from None
    # Files first: a reader that leaves early (`| head -1`) must not cost the files asked for.
    png = save_confusion_png(result, args.png) if args.png else None
    if args.json:
        atomic_write(args.json, json.dumps(result, indent=1))
    print(format_report(result))
    if png:
        print(f"confusion matrix: {png}")
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load the model and the requested split, score it; the result dict also names model, data and split."""
    from . import data as data_mod

    path = Path(args.model)
    is_onnx = path.suffix.lower() == ".onnx"
    ckpt, known = None, {"spec": "", "seed": 0, "val_fraction": 0.1}
    if is_onnx:  # the model file's own checks come before any data is loaded
        from rtmaps_components.backends import check_model_file

        check_model_file(path)
    else:
        from . import checkpoint as ckpt_io

        ckpt = ckpt_io.load(path)
        known = ckpt_io.data_split_of(ckpt)
    spec = args.data or known["spec"]
    if not spec:
        raise ValueError(
            f"{path}: give --data SPEC ("
            + (
                "an ONNX file does not record its data set)"
                if is_onnx
                else "the checkpoint does not name its data set)"
            )
        )
    seed = args.seed if args.seed is not None else known["seed"]
    val_fraction = args.val_fraction if args.val_fraction is not None else known["val_fraction"]
    if args.threads:
        try:
            import torch

            torch.set_num_threads(args.threads)
        except ImportError:
            pass
    ds = data_mod.load(spec, seed, val_fraction)
    split = ds.test if args.split == "test" else ds.val
    if args.limit:
        split = split.subset(np.arange(min(args.limit, len(split))))
    seq = "GRAY" if split.images.shape[-1] == 1 else "RGB"
    if is_onnx:
        result = evaluate_onnx(path, split.images, split.labels, seq, threads=args.threads)
    else:
        result = evaluate_checkpoint(ckpt, split.images, split.labels, seq, str(path))
    if len(result["class_names"]) != len(ds.class_names):
        raise ValueError(
            f"{path}: the model knows {len(result['class_names'])} classes, {spec} has {len(ds.class_names)}"
        )
    return {"model": str(path), "data": spec, "split": args.split, "seed": seed, **result}
