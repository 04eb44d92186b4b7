"""Do two builds of the native module give the same output bytes? The check behind "byte-identical" claims.

    .venv/bin/python native/tools/same_outputs.py OLD/_native*.so [--variant avx512,avx2] [--threads 1,2]
        [--models-dir models] [--cases all] [--inputs 3]

Runs the built-in cases (random weights, `training.bench_cases.export_builtin`; needs torch) and every
*.onnx in --models-dir on OLD.so and on the installed build, for each variant both have, each thread count
and --inputs seeded random inputs, and compares the logits byte for byte. Prints one line per model and
variant and exits 1 if any output differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from rtmaps_components.bench_runners import native_builds, native_variants


def compare(old, new, path: Path, variant: str, threads: list[int], inputs: int) -> tuple[int, int]:
    """(outputs compared, outputs that differ) for one model and variant."""
    compared = differ = 0
    for t in threads:
        a = old.Engine(str(path), threads=t, variant=variant)
        b = new.Engine(str(path), threads=t, variant=variant)
        h, w = b.input_size
        for seed in range(inputs):
            x = np.random.default_rng(seed).random((1, b.input_channels, h, w), dtype=np.float32)
            compared += 1
            differ += a.run(x).tobytes() != b.run(x).tobytes()
    return compared, differ


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("baseline", help="the other build's _native*.so")
    ap.add_argument("--variant", default="all", help="comma list, or 'all' the variants both builds have")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models-dir", default="models")
    ap.add_argument("--cases", default="all", help="built-in cases, or 'none'")
    ap.add_argument("--inputs", type=int, default=3)
    a = ap.parse_args(argv)
    (_, old), (_, new) = native_builds(a.baseline)
    variants = [v for v in native_variants(a.variant, new) if v in native_variants("all", old)]
    threads = [int(t) for t in a.threads.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        models = sorted(Path(a.models_dir).glob("*.onnx"))
        if a.cases != "none":
            from training.bench_cases import export_builtin

            models = export_builtin(Path(tmp), a.cases) + models
        total = bad = 0
        for path in models:
            for v in variants:
                n, d = compare(old, new, path, v, threads, a.inputs)
                total, bad = total + n, bad + d
                print(f"{path.stem:<36} {v:<8} {n:>3} outputs, {d} differ")
    print(f"{total} outputs compared, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
