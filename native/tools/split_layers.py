"""Which layers gain from threads: per-layer minima of `Engine.profile` at 1 thread and at N threads
with every layer split over the pool (BLUEFIRE_SPLIT=always), none (never) and as measured at build
(auto, the default), profiled pass by pass in turn so all see the same machine load.

    .venv/bin/python native/tools/split_layers.py MODEL.onnx [--threads 4] [--passes 200] [--variant auto]

Columns: microseconds per layer; `x` = 1-thread / always (what splitting that layer gains; < 1:
it loses); `auto` = whether the build's measurement kept the split. Only ratios within one run
mean anything on a shared host. A Fire's two expands run as one pool job (`always`; `auto` where the
build measured it faster) are timed together on the first (kind `... +next`; the second reads 0).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from rtmaps_components.bench_runners import elementwise_min, interleaved, native_module


def build(mod, model: str, threads: int, variant: str, mode: str):
    old = os.environ.get("BLUEFIRE_SPLIT")
    os.environ["BLUEFIRE_SPLIT"] = mode
    try:
        return mod.Engine(model, threads=threads, variant=variant)
    finally:
        if old is None:
            del os.environ["BLUEFIRE_SPLIT"]
        else:
            os.environ["BLUEFIRE_SPLIT"] = old


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--passes", type=int, default=200)
    ap.add_argument("--variant", default="auto")
    args = ap.parse_args()
    mod = native_module()
    engines = {
        "1 thread": build(mod, args.model, 1, args.variant, "never"),
        "never": build(mod, args.model, args.threads, args.variant, "never"),
        "always": build(mod, args.model, args.threads, args.variant, "always"),
        "auto": build(mod, args.model, args.threads, args.variant, "auto"),
    }
    auto = engines["auto"]
    h, w = auto.input_size
    x = np.random.default_rng(0).random((1, auto.input_channels, h, w), dtype=np.float32)
    rows = auto.profile(x)
    passes = interleaved({n: (lambda e=e: [r[3] for r in e.profile(x)]) for n, e in engines.items()}, args.passes, 5)
    best = {n: elementwise_min(p) for n, p in passes.items()}
    print(
        f"{args.model}: {args.threads} threads, variant {auto.variant}; auto splits {auto.split_layers} layers "
        f"(calibration {auto.calibration_seconds * 1e3:.1f} ms at build)"
    )
    print(f"{'layer':24s} {'kind':24s} {'MACs':>9s} " + " ".join(f"{n:>8s}" for n in best) + f" {'x':>6s} auto")
    for j, r in enumerate(rows):
        gain = best["1 thread"][j] / best["always"][j] if best["always"][j] > 0 else 1.0
        print(
            f"{r[0][:24]:24s} {r[1][:24]:24s} {r[2]:9d} "
            + " ".join(f"{b[j] * 1e6:8.1f}" for b in best.values())
            + f" {gain:6.2f} {'split' if r[4] else '-'}"
        )
    totals = {n: sum(b) for n, b in best.items()}
    print(
        f"{'total':59s}"
        + " ".join(f"{t * 1e6:8.1f}" for t in totals.values())
        + f" {totals['1 thread'] / totals['always']:6.2f}; 1 thread / auto {totals['1 thread'] / totals['auto']:.2f}"
    )


if __name__ == "__main__":
    main()
