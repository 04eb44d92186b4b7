"""Time one 3x3 pad-1 stride-1 convolution (+ReLU) layer alone in the native engine, per map size
(--kernel 1: a 1x1 layer, the squeeze / expand1x1 / classifier shape).

    .venv/bin/python native/tools/conv_layer_bench.py --channels 32 128 --maps 5 6 7 8 9 12 \
        [--baseline OLD/_native*.so] [--variant avx512] [--calls 2000] [--json out.json]

A one-convolution ONNX file (training.onnx_files.conv_model) with random weights per (C, M, map); with --baseline that build of the
extension runs the same file, call by call in turn with the current one (bench_runners.interleaved), so both see the same
machine load. Reports the minimum over --calls (weights warm in cache: the layer's own cost, not
its cost inside a network, where weights stream from L2/L3). Only ratios within one run mean
anything on a shared host.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from rtmaps_components.bench_runners import interleaved, native_builds, timed
from training.onnx_files import conv_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--channels",
        type=int,
        nargs=2,
        action="append",
        metavar=("C", "M"),
        help="input and output channels (repeatable; default 32 128)",
    )
    ap.add_argument("--maps", type=int, nargs="+", default=[5, 6, 7, 8, 9, 12])
    ap.add_argument("--baseline", help="another build's _native*.so, timed interleaved")
    ap.add_argument("--variant", default="avx512")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--kernel", type=int, choices=(1, 3), default=3, help="3x3 pad 1 (default) or 1x1")
    args = ap.parse_args()
    try:
        builds = native_builds(args.baseline, alone="now")
    except ValueError as e:
        raise SystemExit(f"--baseline {e}") from None
    mods = [mod for _, mod in builds]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for c, m in args.channels or [(32, 128)]:
            for side in args.maps:
                path = conv_model(
                    Path(tmp) / f"c{c}m{m}s{side}.onnx", c, m, side, k=args.kernel, pad=args.kernel // 2, scale=0.1
                )
                engines = [mod.Engine(str(path), threads=1, variant=args.variant) for mod in mods]
                x = np.random.default_rng(1).standard_normal((1, c, side, side)).astype(np.float32)
                outs = [e.run(x) for e in engines]
                if len(outs) > 1 and not np.allclose(outs[0], outs[1], rtol=1e-4, atol=1e-4):
                    raise SystemExit(f"C={c} M={m} map {side}: the two builds disagree")
                times = interleaved(
                    {n: timed(lambda e=e, x=x: e.run(x)) for (n, _), e in zip(builds, engines)}, args.calls
                )
                rows.append({"C": c, "M": m, "map": side, **{n: min(t) * 1e6 for n, t in times.items()}})
    names = [n for n, _ in builds]
    print(
        f"{'C':>4} {'M':>4} {'map':>4} "
        + " ".join(f"{n + ' us':>10}" for n in names)
        + ("   after/before" if args.baseline else "")
    )
    for r in rows:
        ratio = f"   {r['after'] / r['before']:.2f}" if args.baseline else ""
        print(f"{r['C']:>4} {r['M']:>4} {r['map']:>4} " + " ".join(f"{r[n]:>10.1f}" for n in names) + ratio)
    if args.json:
        Path(args.json).write_text(json.dumps({"variant": args.variant, "calls": args.calls, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
