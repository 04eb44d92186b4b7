"""`python -m training.int8_check MODEL_int8.onnx...`: the native engine against ONNX Runtime on a QDQ file.

On the test split: top-1 of each, how often their top-1 agree, and how far the logits are apart in
quantization steps of the last quantized tensor (the classifier's output, which the average pool
dequantizes). Every native variant this CPU runs is checked; the integer kernels must give the
same bytes, so their rows are identical. Writes JSON with --json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np


def output_step(path: str | Path) -> float:
    """The scale of the tensor the graph's ReduceMean / GlobalAveragePool dequantizes."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    inits = {t.name: t for t in m.graph.initializer}
    pool = next((n for n in m.graph.node if n.op_type in ("ReduceMean", "GlobalAveragePool")), None)
    dq = next(
        (
            n
            for n in m.graph.node
            if pool is not None and n.output[0] == pool.input[0] and n.op_type == "DequantizeLinear"
        ),
        None,
    )
    if dq is None:
        raise ValueError(f"{path}: no DequantizeLinear before the average pool; is it a `bluefire quantize` file?")
    return float(numpy_helper.to_array(inits[dq.input[1]]))


def check(path: str | Path, data: str = "fashion-mnist", limit: int = 0, batch: int = 250) -> dict[str, Any]:
    """Native (every available variant) vs ONNX Runtime on the test split of `data`."""
    from rtmaps_components import _native
    from rtmaps_components.backends import load_model

    from .data import load
    from .evaluate import preprocess_batch

    ort = load_model(path, backend="onnxruntime", threads=1)
    ds = load(data)
    images, labels = ds.test.images, ds.test.labels
    if limit:
        images, labels = images[:limit], labels[:limit]
    seq = "GRAY" if images.shape[-1] == 1 else "RGB"
    step = output_step(path)
    engines = {v: _native.Engine(str(path), threads=1, variant=v) for v in _native.available_variants()}
    ort_out, nat = [], {v: [] for v in engines}
    for i in range(0, len(images), batch):
        x = preprocess_batch(ort.prep, images[i : i + batch], seq)
        ort_out.append(ort.run(x))
        for v, e in engines.items():
            nat[v].append(e.run(x))
    o = np.concatenate(ort_out)
    out: dict[str, Any] = {
        "model": Path(path).name,
        "data": data,
        "images": len(labels),
        "output_step": step,
        "ort_top1": float((o.argmax(1) == labels).mean()),
        "variants": {},
    }
    for v, parts in nat.items():
        r = np.concatenate(parts)
        d = np.abs(r - o).max(1) / step
        # an image whose top-1 differs only because two logits tie (ORT's float average can split
        # a tie by an ulp) is not a disagreement of the kernels
        rows = np.arange(len(r))
        gap = np.abs(o[rows, r.argmax(1)] - o[rows, o.argmax(1)])
        real = (r.argmax(1) != o.argmax(1)) & (gap > 1e-5 * np.maximum(1.0, np.abs(o).max(1)))
        out["variants"][v] = {
            "top1": float((r.argmax(1) == labels).mean()),
            "top1_agree": float((r.argmax(1) == o.argmax(1)).mean()),
            "top1_differs_beyond_ties": int(real.sum()),
            "max_abs": float(np.abs(r - o).max()),
            "max_steps": float(d.max()),
            "images_over_one_step": float((d > 1 + 1e-3).mean()),
            "identical_to_ref": bool(np.array_equal(r, np.concatenate(nat["ref"]))),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.int8_check", description=__doc__.split("\n", 1)[0])
    ap.add_argument("models", nargs="+", help="QDQ files written by `bluefire quantize`")
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--limit", type=int, default=0, help="only the first N test images")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args(argv)
    results = []
    for path in a.models:
        r = check(path, a.data, a.limit)
        results.append(r)
        print(
            f"{r['model']}: {r['images']} test images, ONNX Runtime top-1 {100 * r['ort_top1']:.2f} %, "
            f"output step {r['output_step']:.4g}"
        )
        for v, s in r["variants"].items():
            print(
                f"  native {v:<7} top-1 {100 * s['top1']:.2f} %, same top-1 as ORT on {100 * s['top1_agree']:.2f} % "
                f"of images ({s['top1_differs_beyond_ties']} differ beyond a tie), logits at most "
                f"{s['max_steps']:.2f} steps ({s['max_abs']:.2g}) apart, {100 * s['images_over_one_step']:.2f} % "
                f"of images over one step{'' if s['identical_to_ref'] else ', DIFFERS from the reference'}"
            )
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
