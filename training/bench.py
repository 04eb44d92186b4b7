"""`bluefire bench`: latency of the native engine vs ONNX Runtime vs torch, batch 1.

Engines are timed interleaved (one call each per round, the order rotating), after a warm-up,
so a noisy shared machine slows all of them alike; the ratio to ONNX Runtime is the number to
quote. GFLOP/s use the model's standard multiply-accumulate count (2 FLOP each) and are set
against a measured single-thread sgemm peak.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# Widths of a real 80 %-pruned SqueezeNet 1.1 (the 40x40 model shipped before the 64x64 one), fixed
# so this case stays comparable across runs: the odd channel counts a pruned network really has.
PRUNED80 = {"conv1": 37, "fires": [[11, 35, 41], [14, 31, 55], [23, 40, 58], [24, 30, 57], [24, 46, 56], [24, 59, 62],
                                   [28, 59, 69], [39, 96, 97]]}
# Built-in cases, random weights (timing does not depend on them): name -> (arch, size, classes, widths or None)
BUILTIN = {
    "squeezenet1_1-224-1000": ("squeezenet1_1", 224, 1000, None),
    "squeezenet1_1-32-10": ("squeezenet1_1", 32, 10, None),
    "squeezenet1_1-64-10": ("squeezenet1_1", 64, 10, None),
    "squeezenet1_1-64-10-pruned80": ("squeezenet1_1", 64, 10, PRUNED80),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="FILE", help="write the rows as JSON here")
    p.add_argument("--runs", type=int, default=200, help="timed calls per engine and case (>= 200 for the report)")
    p.add_argument("--warmup", type=int, default=20, help="untimed calls per engine first")
    p.add_argument("--threads", default="1", help="comma list of thread counts, e.g. 1,2,4")
    p.add_argument("--variant", default="auto",
                   help="native kernel variant(s), comma list, or 'all' for every available one (see _native.available_variants())")
    p.add_argument("--engines", default="native,ort,torch", help="comma list from native, ort, torch")
    p.add_argument("--native-baseline", metavar="SO",
                   help="also time another build of the native module (e.g. an older commit's _native*.so), "
                        "engine 'native-base', interleaved with the rest: before/after in one run")
    p.add_argument("--models-dir", default=str(REPO / "models"), help="every *.onnx here is a case")
    p.add_argument("--no-builtin", action="store_true", help="skip the built-in random-weight SqueezeNet 1.1 cases")
    p.add_argument("--cases", default="all",
                   help=f"comma list of built-in cases to time, or 'all' ({', '.join(BUILTIN)})")
    p.add_argument("--pipeline", action="store_true", help="benchmark the RTMaps replay pipeline instead")
    p.add_argument("--pipeline-model", help="model for --pipeline (default: the emulator's)")
    p.add_argument("--pipeline-clip", help="clip for --pipeline (default: the emulator's)")
    p.add_argument("--pipeline-frames", type=int, default=300)
    p.add_argument("--backend", default="auto", help="backend for --pipeline")


def _export_builtin(d: Path, cases: str = "all") -> list[Path]:
    from rtmaps_components.preprocess import Preprocessing

    from .export import export_onnx
    from .model import SqueezeNet, Widths
    import torch

    names = list(BUILTIN) if cases == "all" else [c.strip() for c in cases.split(",") if c.strip()]
    unknown = [n for n in names if n not in BUILTIN]
    if unknown:
        raise ValueError(f"--cases: unknown case(s) {', '.join(unknown)}; expected some of {', '.join(BUILTIN)}")
    out = []
    for name in names:
        arch, size, classes, widths = BUILTIN[name]
        torch.manual_seed(0)
        prep = Preprocessing((size, size), tuple(f"class{i}" for i in range(classes)))
        w = Widths.from_dict(widths, name) if widths else None
        out.append(export_onnx(SqueezeNet(arch, classes, w), prep, d / f"{name}.onnx"))
    return out


def _torch_model(path: Path):
    """The same network in torch eager, its weights read from the ONNX initializers."""
    import onnx
    import torch
    from onnx import numpy_helper

    from rtmaps_components.model_meta import ModelMeta

    from .model import Widths, build

    proto = onnx.load(str(path))
    meta = ModelMeta.from_metadata({p.key: p.value for p in proto.metadata_props}, str(path))
    model = build(meta.arch, meta.preprocessing.num_classes, Widths.from_dict(meta.widths, str(path)),
                  in_planes=meta.preprocessing.channels)
    inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in proto.graph.initializer}
    state = model.state_dict()
    for k in state:  # the exporter drops all-zero biases
        state[k] = inits.get(k, torch.zeros_like(state[k]))
    model.load_state_dict(state)
    return model.eval()


def _macs(path: Path, native_macs: int | None) -> tuple[int, int | None, tuple[int, int, int]]:
    """(plain MAC count, fewest-multiply floor or None, input planes and size) of a model file."""
    import onnx

    from rtmaps_components.model_meta import ModelMeta

    from .floor import floor_macs
    from .model import Widths, count_macs

    proto = onnx.load(str(path), load_external_data=False)
    meta = ModelMeta.from_metadata({p.key: p.value for p in proto.metadata_props}, str(path))
    h, w = meta.preprocessing.input_size
    c = meta.preprocessing.channels
    if h == w:
        args = (Widths.from_dict(meta.widths), meta.arch, meta.preprocessing.num_classes, h, c)
        return count_macs(*args), floor_macs(*args), (c, h, w)
    return int(native_macs or 0), None, (c, h, w)


def measure_peak_gflops() -> float:
    """Single-thread fp32 GEMM throughput (torch.mm 1024^3, best of 30): the machine's practical peak.

    The best of many short runs, so that on a shared machine at least one lands in a quiet moment.
    """
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(a, b)
    best = min(_time(lambda: torch.mm(a, b)) for _ in range(30))
    torch.set_num_threads(old)
    return 2 * 1024 ** 3 / best / 1e9


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _native_variants(spec: str) -> list[str]:
    from rtmaps_components import _native

    if spec == "all":
        return [v for v in _native.available_variants()]
    return [v.strip() for v in spec.split(",") if v.strip()]


def load_native_build(so: str):
    """A native extension module from a file, importable beside the installed one."""
    import importlib.util

    if not Path(so).is_file():
        raise ValueError(f"{so}: no such file (give another build's _native*.so)")
    spec = importlib.util.spec_from_file_location("bluefire_baseline._native", so)
    if spec is None or spec.loader is None:
        raise ValueError(f"{so}: not a loadable extension module (give another build's _native*.so)")
    try:  # an extension module is loaded (dlopen) in module_from_spec already
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    except ImportError as e:
        raise ValueError(f"{so}: not a loadable extension module ({e})") from None
    return mod


def _engines(path: Path, threads: int, variant: str, which: list[str],
             baseline: str | None = None) -> dict[str, tuple[Callable, str]]:
    """engine key -> (callable on x, variant label); native engines are keyed 'native:<variant>'."""
    out: dict[str, tuple[Callable, str]] = {}
    if baseline:
        base = load_native_build(baseline)
        for v in _native_variants(variant):
            eng = base.Engine(str(path), threads=threads, variant=v)
            out[f"native-base:{eng.variant}"] = (eng.run, eng.variant)
    if "native" in which:
        from rtmaps_components import _native

        for v in _native_variants(variant):
            eng = _native.Engine(str(path), threads=threads, variant=v)
            out[f"native:{eng.variant}"] = (eng.run, eng.variant)
    if "ort" in which:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        out["ort"] = (lambda x: sess.run(None, {name: x}), "mlas")
    if "torch" in which:
        import torch

        torch.set_num_threads(threads)
        model = _torch_model(path)

        def run_torch(x: np.ndarray):
            torch.set_num_threads(threads)  # global in torch: set per call, thread counts are interleaved
            with torch.inference_mode():
                return model(torch.from_numpy(x))
        out["torch"] = (run_torch, "eager")
    return out


def bench_case(path: Path, threads: int | list[int], args: argparse.Namespace, peak: float) -> list[dict]:
    """Interleaved timing of every engine at every thread count on one model; one row per engine and count."""
    from .floor import floor_ms

    threads = [threads] if isinstance(threads, int) else threads

    which = [e.strip() for e in args.engines.split(",") if e.strip()]
    from .quantize import is_quantized
    if is_quantized(path):  # QDQ int8: torch has no int8 model of it
        which = [e for e in which if e != "torch"]
    engines = {f"{key}@{t}": e for t in threads
               for key, e in _engines(path, t, args.variant, which, getattr(args, "native_baseline", None)).items()}
    native_macs = None
    if "native" in engines:
        from rtmaps_components import _native

        native_macs = _native.Engine(str(path), threads=1).macs
    macs, fewest, (c, h, w) = _macs(path, native_macs)
    x = np.random.default_rng(0).random((1, c, h, w), dtype=np.float32)
    names = list(engines)
    for name in names:
        for _ in range(args.warmup):
            engines[name][0](x)
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(args.runs):
        for j in range(len(names)):
            name = names[(i + j) % len(names)]
            times[name].append(_time(lambda: engines[name][0](x)))
    rows = []
    for name in names:
        t = np.asarray(times[name]) * 1e3
        med = float(np.median(t))
        key, n_threads = name.rsplit("@", 1)
        rows.append({"model": path.stem, "engine": key.split(":")[0], "threads": int(n_threads), "variant": engines[name][1],
                     "median_ms": med, "p99_ms": float(np.percentile(t, 99)), "min_ms": float(t.min()), "gflops": 2 * macs / med / 1e6,
                     "peak_gflops": peak, "macs": macs, "runs": args.runs})
    orts = {r["threads"]: r for r in rows if r["engine"] == "ort"}
    floor = floor_ms(fewest, peak) if fewest else None
    for r in rows:
        ort = orts.get(r["threads"])  # ONNX Runtime at the same thread count
        r["vs_ort"] = r["median_ms"] / ort["median_ms"] if ort else None
        # The fewest-multiply fp32 floor at the measured peak (training/floor.py): no engine can
        # take less, so a target ratio below floor_vs_ort is out of reach on this machine. Both
        # sides are best cases (the peak is a best of 30, so ORT's fastest call, not its median):
        # a busy stretch slows ORT's median but not the peak, and would understate the floor.
        r["floor_macs"], r["floor_ms"] = fewest, floor
        r["floor_vs_ort"] = floor / ort["min_ms"] if floor and ort else None
    return rows


def add_speedups(rows: list[dict]) -> None:
    """rows[i]["speedup"]: the same model, engine and variant's 1-thread median / this median (None without one)."""
    one = {(r["model"], r["engine"], r["variant"]): r["median_ms"] for r in rows if r["threads"] == 1}
    for r in rows:
        base = one.get((r["model"], r["engine"], r["variant"]))
        r["speedup"] = base / r["median_ms"] if base else None


def format_table(rows: list[dict], peak: float) -> str:
    many = len({r["threads"] for r in rows}) > 1  # --threads 1,2,4: a speedup column (x 1 thread)
    head = f"{'model':<34} {'engine':<11} {'thr':>3} {'variant':<7} {'median ms':>10} {'p99 ms':>9} {'GFLOP/s':>8} {'% peak':>7} {'x ORT':>6}"
    head += f" {'speedup':>7}" if many else ""
    lines = [head, "-" * len(head)]
    for r in rows:
        vs = f"{r['vs_ort']:.2f}" if r.get("vs_ort") else "-"
        lines.append(f"{r['model'][:34]:<34} {r['engine']:<11} {r['threads']:>3} {r['variant']:<7} {r['median_ms']:>10.3f} "
                     f"{r['p99_ms']:>9.3f} {r['gflops']:>8.1f} {100 * r['gflops'] / peak:>6.0f}% {vs:>6}"
                     + (f" {r['speedup']:>6.2f}x" if many and r.get("speedup") else " " * 8 if many else ""))
    seen = set()
    for r in rows:
        if r.get("floor_ms") and r["model"] not in seen:
            seen.add(r["model"])
            vs = f" = {r['floor_vs_ort']:.2f}x ORT's fastest call" if r.get("floor_vs_ort") else ""
            lines.append(f"floor {r['model'][:34]}: {r['floor_macs'] / 1e6:.2f} M MACs with the fewest-multiply fp32 "
                         f"algorithms, {r['floor_ms']:.3f} ms at peak{vs}")
    lines.append(f"peak: {peak:.1f} GFLOP/s measured (torch.mm 1024^3 fp32, best of 30, 1 thread); "
                 f"x ORT = median / ONNX Runtime's median in the same interleaved run")
    if many:
        lines.append("speedup = the same engine's 1-thread median / this median (thread counts interleaved call by call)")
    return "\n".join(lines)


def _pipeline(args: argparse.Namespace) -> int:
    try:
        from rtmaps_components.emulator.pipeline_bench import format_pipeline_bench, run_pipeline_bench
    except ImportError as e:
        print(f"bluefire bench --pipeline: the pipeline benchmark is not available ({e})", file=sys.stderr)
        return 2
    kw = {"frames": args.pipeline_frames, "backend": args.backend, "threads": int(args.threads.split(",")[0])}
    if args.pipeline_model:
        kw["model"] = args.pipeline_model
    if args.pipeline_clip:
        kw["clip"] = args.pipeline_clip
    result = run_pipeline_bench(**kw)
    print(format_pipeline_bench(result))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def main(args: argparse.Namespace) -> int:
    if args.pipeline:
        return _pipeline(args)
    if args.runs < 1:
        print("bluefire bench: --runs must be >= 1", file=sys.stderr)
        return 2
    threads = [int(t) for t in args.threads.split(",")]
    models = Path(args.models_dir)
    if not models.is_dir():
        print(f"bluefire bench: --models-dir {models}: no such directory", file=sys.stderr)
        return 2
    if args.no_builtin and not any(models.glob("*.onnx")):
        print(f"bluefire bench: nothing to time: --no-builtin and no *.onnx in {models}", file=sys.stderr)
        return 2
    if args.native_baseline:
        try:
            load_native_build(args.native_baseline)
        except ValueError as e:
            print(f"bluefire bench: --native-baseline {e}", file=sys.stderr)
            return 2
    peak = measure_peak_gflops()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            cases = [] if args.no_builtin else _export_builtin(Path(tmp), args.cases)
        except ValueError as e:
            print(f"bluefire bench: {e}", file=sys.stderr)
            return 2
        cases += sorted(models.glob("*.onnx"))
        for path in cases:
            print(f"  timing {path.name}, {args.threads} thread(s), {args.runs} runs per engine ...", file=sys.stderr, flush=True)
            rows += bench_case(path, threads, args, peak)
    add_speedups(rows)
    print(format_table(rows, peak))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"peak_gflops": peak, "rows": rows}, indent=2))
    return 0
