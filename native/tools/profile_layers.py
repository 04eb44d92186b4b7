"""Per-layer times of the native engine: minima of `Engine.profile` over many passes.

    .venv/bin/python native/tools/profile_layers.py models/squeezenet1_1_fmnist_pruned.onnx \
        [--baseline OLD/_native*.so] [--variant avx512] [--passes 300]

With --baseline, that build of the extension is profiled too, pass by pass in turn with the
current one (so both see the same machine load), and the table has a column for each.
Only ratios within one run mean anything on a shared host. With --threads 2+ a Fire's two expands
may run as one pool job, timed together on the first (kind `... +next`; the second reads 0).
"""

from __future__ import annotations

import argparse

import numpy as np

from rtmaps_components.bench_runners import elementwise_min, interleaved, native_builds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--baseline", help="another build's _native*.so, profiled interleaved")
    ap.add_argument("--variant", default="avx512")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--passes", type=int, default=300)
    args = ap.parse_args()
    try:
        builds = native_builds(args.baseline, alone="us")
    except ValueError as e:
        raise SystemExit(f"--baseline {e}") from None
    engines = [mod.Engine(args.model, threads=args.threads, variant=args.variant) for _, mod in builds]
    h, w = engines[0].input_size
    x = np.random.default_rng(0).random((1, engines[-1].input_channels, h, w), dtype=np.float32)
    rows = [(r[0], r[1], r[2]) for r in engines[-1].profile(x)]
    passes = interleaved(
        {n: (lambda e=e: [r[3] for r in e.profile(x)]) for (n, _), e in zip(builds, engines)}, args.passes
    )
    best = [elementwise_min(passes[n]) for n, _ in builds]
    print(f"{'layer':24s} {'kind':8s} {'MACs':>9s} " + " ".join(f"{n:>8s}" for n, _ in builds))
    for j, (name, kind, macs) in enumerate(rows):
        print(f"{name:24s} {kind:8s} {macs:9d} " + " ".join(f"{b[j] * 1e6:8.2f}" for b in best))
    print(f"{'total':43s}" + " ".join(f"{sum(b) * 1e6:8.1f}" for b in best))


if __name__ == "__main__":
    main()
