"""`bluefire bench`: latency of the native engine vs ONNX Runtime vs torch, batch 1.

Runners are timed interleaved by rtmaps_components.bench_runners (one call each per round, the order
rotating, after a warm-up), so a noisy shared machine slows all of them alike; the ratio to ONNX
Runtime is the number to quote. torch eager, the reference, runs in a pass of its own after the
others: between their calls it evicted their caches (see bench_case). With several threads every
timed call follows untimed ones of the same engine (WAKE_SECONDS) once no other engine's threads still
spin; with --frame-gap-ms every call instead comes after an idle gap, as a camera paces frames.
GFLOP/s use the model's standard multiply-accumulate count (2 FLOP each) and are set against a
measured single-thread sgemm peak. Every JSON records the CPU model and
its SIMD flags.

Adding a kind of row (an int8 model, another engine): register a factory in RUNNERS that returns the
Runner objects for one model file and thread count; `--engines` then accepts its name, and its rows
get the same statistics, ratios and table line as the others.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rtmaps_components.atomic import atomic_write
from rtmaps_components.bench_runners import (
    Runner,
    cpu_info,
    interleaved,
    load_native_build,
    native_runners,
    ort_runner,
    timed,
    timing_stats,
    wait_until_quiet,
)
from rtmaps_components.output_paths import check_output_path

from .bench_cases import BUILTIN, export_builtin, measure_peak_gflops, model_macs, torch_runners

REPO = Path(__file__).resolve().parent.parent
# Untimed calls of an engine before each of its timed calls with several threads last at least this
# long: a worker asleep on an idle vCPU woke 2.8 ms after the job that woke it (2-core host,
# native/tools/dispatch_cost.sh), longer than a small model's call, so after one untimed call the
# timed one could start with the pool half asleep.
WAKE_SECONDS = 0.005


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="FILE", help="write the rows as JSON here")
    p.add_argument("--runs", type=int, default=200, help="timed calls per engine and case (>= 200 for the report)")
    p.add_argument("--warmup", type=int, default=20, help="untimed calls per engine first")
    p.add_argument("--threads", default="1", help="comma list of thread counts, e.g. 1,2,4")
    p.add_argument(
        "--variant",
        default="auto",
        help="native kernel variant(s), comma list, or 'all' for every available one (see _native.available_variants())",
    )
    p.add_argument("--engines", default="native,ort,torch", help=f"comma list from {', '.join(RUNNERS)}")
    p.add_argument(
        "--frame-gap-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="frames at a camera's pace: each timed call comes this long after the last call of any engine "
        "(33 for 30 frames/s), so thread pools are asleep when it starts, as in a diagram; 0 (default): "
        "frame after frame, each timed call right after untimed ones (for WAKE_SECONDS with several threads)",
    )
    p.add_argument(
        "--native-baseline",
        metavar="SO",
        help="also time another build of the native module (e.g. an older commit's _native*.so), "
        "engine 'native-base', interleaved with the rest: before/after in one run",
    )
    p.add_argument(
        "--native-build",
        metavar="SO",
        help="time this build of the native module (a _native*.so other than the installed file) as engine 'native' instead of the installed "
        "one: before/after runs with both builds made the same way (native/tools/threads_before_after.sh)",
    )
    p.add_argument("--models-dir", default=str(REPO / "models"), help="every *.onnx here is a case")
    p.add_argument("--no-builtin", action="store_true", help="skip the built-in random-weight SqueezeNet 1.1 cases")
    p.add_argument(
        "--cases", default="all", help=f"comma list of built-in cases to time, or 'all' ({', '.join(BUILTIN)})"
    )
    p.add_argument("--pipeline", action="store_true", help="benchmark the RTMaps replay pipeline instead")
    p.add_argument("--pipeline-model", help="model for --pipeline (default: the emulator's)")
    p.add_argument("--pipeline-clip", help="clip for --pipeline (default: the emulator's)")
    p.add_argument("--pipeline-frames", type=int, default=300)
    p.add_argument("--backend", default="auto", help="backend for --pipeline")
    p.add_argument(
        "--pipeline-set",
        action="append",
        default=[],
        metavar="COMPONENT.PROPERTY=VALUE",
        help="a diagram property for --pipeline, as `bluefire run --set` takes it (e.g. Camera.read_ahead=0)",
    )


# engine name -> factory(model path, threads, native variant spec) -> runners. The order is the rows' order.
RUNNERS: dict[str, Callable[[Path, int, str], list[Runner]]] = {
    "native": lambda path, threads, variants: native_runners(path, threads, variants),
    "ort": lambda path, threads, variants: [ort_runner(path, threads)],
    "torch": torch_runners,
}


def bench_case(
    path: Path,
    threads: int | list[int],
    *,
    engines: list[str],
    variants: str = "auto",
    runs: int = 200,
    warmup: int = 20,
    peak: float,
    baseline: str | None = None,
    frame_gap_ms: float = 0.0,
    native_build: str | None = None,
) -> list[dict]:
    """Interleaved timing of every runner at every thread count on one model; one row per runner and count.
    With `frame_gap_ms` every timed call (any thread count) comes that long after the previous call of any
    runner, with no untimed call before it: the latency of a frame as a camera paces them."""
    from .floor import floor_ms
    from .quantize import is_quantized

    if is_quantized(path):  # QDQ int8: torch has no int8 model of it
        engines = [e for e in engines if e != "torch"]
    counts = [threads] if isinstance(threads, int) else list(threads)
    runners: dict[str, tuple[Runner, int]] = {}  # key@threads -> (runner, threads); thread counts interleave too
    base = load_native_build(baseline) if baseline else None
    build = load_native_build(native_build) if native_build else None
    for t in counts:
        made: list[Runner] = []
        if base is not None:
            made += native_runners(path, t, variants, engine="native-base", module=base)
        for name in engines:
            if name == "native" and build is not None:
                made += native_runners(path, t, variants, module=build)
            else:
                made += RUNNERS[name](path, t, variants)
        for r in made:  # 'auto,avx512' may name one variant twice
            runners.setdefault(f"{r.key}@{t}", (r, t))
    native_macs = None
    if "native" in engines:
        from rtmaps_components import _native

        native_macs = _native.Engine(str(path), threads=1).macs
    macs, fewest, (c, h, w) = model_macs(path, native_macs)
    x = np.random.default_rng(0).random((1, c, h, w), dtype=np.float32)

    # torch eager is the reference, not a contender, and timed in its own pass: interleaved call by
    # call, its footprint evicted the caches between the others' calls and slowed the native engine
    # and ONNX Runtime by 25-40 % on the 2-core host (pruned fp32 native 0.085 -> 0.121 ms), while
    # the int8 files (no torch runner) were timed without it, so rows of different models stopped
    # comparing (models/evidence/bench_models.json feeds every card and the README's headline).
    # With several threads, each timed call comes once no other engine's threads still spin
    # (wait_until_quiet: ONNX Runtime's workers spun ~38 ms after a run by default and took the
    # native engine's second core; ort_session now stops them, other pools may not), right after
    # untimed calls of the same engine for WAKE_SECONDS (the wait's /proc reads
    # evicted the caches: pruned native 0.086 -> 0.204 ms): every engine as it runs frame after
    # frame alone, its own workers awake. One-thread cases leave no spinning threads and are timed
    # call by call as before (the cards' rows), so compare rows within one run only.
    # With a frame gap, every call waits for it instead (time.sleep: the process idles as between
    # a camera's frames, so sleeping workers stay asleep and the wake-up is part of the frame).
    def before(key: str) -> None:
        wait_until_quiet()
        t0 = time.perf_counter()
        runners[key][0].run(x)
        while time.perf_counter() - t0 < WAKE_SECONDS:
            runners[key][0].run(x)

    def paced(key: str) -> None:
        time.sleep(frame_gap_ms / 1000)

    calls = {k: timed(lambda r=r: r.run(x)) for k, (r, _) in runners.items()}
    hook = paced if frame_gap_ms > 0 else before if max(counts) > 1 else None
    times = interleaved({k: f for k, f in calls.items() if runners[k][0].engine != "torch"}, runs, warmup, hook)
    rest = {k: f for k, f in calls.items() if k not in times}
    if rest:
        times.update(interleaved(rest, runs, warmup, hook))
    rows = []
    for key, (r, t) in runners.items():
        st = timing_stats(times[key])
        rows.append(
            {
                "model": path.stem,
                "engine": r.engine,
                "threads": t,
                "variant": r.variant,
                "median_ms": st["median_ms"],
                "p99_ms": st["p99_ms"],
                "min_ms": st["min_ms"],
                "gflops": 2 * macs / st["median_ms"] / 1e6,
                "peak_gflops": peak,
                "macs": macs,
                "runs": runs,
                "frame_gap_ms": frame_gap_ms,
                **({"build": r.build} if r.build else {}),
            }
        )
    orts = {r["threads"]: r for r in rows if r["engine"] == "ort"}
    floor = floor_ms(fewest, peak) if fewest else None
    for r in rows:
        ort = orts.get(r["threads"])  # ONNX Runtime at the same thread count
        r["vs_ort"] = r["median_ms"] / ort["median_ms"] if ort else None
        # The fewest-multiply fp32 bound at the measured peak (training/floor.py): no engine can
        # take less, so a target ratio below floor_vs_ort is out of reach on this machine. Both
        # sides are best cases (the peak is a best of 30, so ORT's fastest call, not its median):
        # a busy stretch slows ORT's median but not the peak, and would understate the bound.
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
    """The rows as a text table, with each model's fewest-multiply bound and the peak below it."""
    many = len({r["threads"] for r in rows}) > 1  # --threads 1,2,4: a speedup column (x 1 thread)
    head = (
        f"{'model':<34} {'engine':<11} {'thr':>3} {'variant':<7} {'median ms':>10} {'p99 ms':>9} {'GFLOP/s':>8} "
        f"{'% peak':>7} {'x ORT':>6}"
    )
    head += f" {'speedup':>7}" if many else ""
    lines = [head, "-" * len(head)]
    for r in rows:
        vs = f"{r['vs_ort']:.2f}" if r.get("vs_ort") else "-"
        speed = (f" {r['speedup']:>6.2f}x" if r.get("speedup") else " " * 8) if many else ""
        lines.append(
            f"{r['model'][:34]:<34} {r['engine']:<11} {r['threads']:>3} {r['variant']:<7} {r['median_ms']:>10.3f} "
            f"{r['p99_ms']:>9.3f} {r['gflops']:>8.1f} {100 * r['gflops'] / peak:>6.0f}% {vs:>6}{speed}"
        )
    seen = set()
    for r in rows:
        if r.get("floor_ms") and r["model"] not in seen:
            seen.add(r["model"])
            vs = f" = {r['floor_vs_ort']:.2f}x ORT's fastest call" if r.get("floor_vs_ort") else ""
            lines.append(
                f"floor {r['model'][:34]}: {r['floor_macs'] / 1e6:.2f} M MACs with the fewest-multiply fp32 "
                f"algorithms, {r['floor_ms']:.3f} ms at peak{vs}"
            )
    lines.append(
        f"peak: {peak:.1f} GFLOP/s measured (torch.mm 1024^3 fp32, best of 30, 1 thread); "
        f"x ORT = median / ONNX Runtime's median in the same interleaved run"
    )
    built = [r for r in rows if r["threads"] > 1 and r.get("build")]
    for r in built:  # why two builds' multi-thread rows differ: what each measured at build
        b = r["build"]
        said = [
            f"{b['split_layers']} layers split" if "split_layers" in b else "",
            f"{b['pairs']} pairs" if "pairs" in b else "",
        ]
        if "calibration_ms" in b:
            said.append(f"measured in {b['calibration_ms']:.0f} ms")
        lines.append(
            f"{r['engine']} {r['threads']} threads, {r['model'][:34]}: {', '.join(x for x in said if x)} at build"
        )
    gap = max((r.get("frame_gap_ms") or 0 for r in rows), default=0)
    if gap:
        lines.append(f"paced frames: every timed call came {gap:g} ms after the previous call (thread pools asleep)")
    if many:
        lines.append(
            "speedup = the same engine's 1-thread median / this median (thread counts interleaved call by call; "
            + (
                "paced as above)"
                if gap
                else "with several threads each timed call follows untimed ones, once other engines' threads "
                "stopped spinning)"
            )
        )
    return "\n".join(lines)


def _write_json(path: str | None, result: dict) -> None:
    if path:
        atomic_write(path, json.dumps(result, indent=2))


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
    if args.pipeline_set:
        kw["overrides"] = list(args.pipeline_set)
    result = run_pipeline_bench(**kw)
    print(format_pipeline_bench(result))
    _write_json(args.json, {**result, "cpu": cpu_info()})
    return 0


def _error(text: str) -> int:
    print(f"bluefire bench: {text}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    if args.pipeline:
        return _pipeline(args)
    if args.runs < 1:
        return _error("--runs must be >= 1")
    if not 0 <= args.frame_gap_ms <= 1000:
        return _error(f"--frame-gap-ms: expected 0..1000 ms between frames, got {args.frame_gap_ms}")
    try:
        threads = [int(t) for t in args.threads.split(",")]
        if not threads or min(threads) < 1:
            raise ValueError
    except ValueError:
        return _error(f"--threads: expected a comma list of counts >= 1 (e.g. 1,2,4), got {args.threads!r}")
    try:
        check_output_path(args.json, "--json")  # before minutes of timing, not after
    except ValueError as e:
        return _error(str(e))
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in RUNNERS]
    if unknown:
        return _error(f"--engines: unknown engine(s) {', '.join(unknown)}; expected some of {', '.join(RUNNERS)}")
    models = Path(args.models_dir)
    if not models.is_dir():
        return _error(f"--models-dir {models}: no such directory")
    if args.no_builtin and not any(models.glob("*.onnx")):
        return _error(f"nothing to time: --no-builtin and no *.onnx in {models}")
    for flag, so in (("--native-baseline", args.native_baseline), ("--native-build", args.native_build)):
        if so:
            try:
                load_native_build(so)
            except ValueError as e:
                return _error(f"{flag} {e}")
    peak = measure_peak_gflops()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            cases = [] if args.no_builtin else export_builtin(Path(tmp), args.cases)
        except ValueError as e:
            return _error(str(e))
        cases += sorted(models.glob("*.onnx"))
        for path in cases:
            print(
                f"  timing {path.name}, {args.threads} thread(s), {args.runs} runs per engine ...",
                file=sys.stderr,
                flush=True,
            )
            try:
                rows += bench_case(
                    path,
                    threads,
                    engines=engines,
                    variants=args.variant,
                    runs=args.runs,
                    warmup=args.warmup,
                    peak=peak,
                    baseline=args.native_baseline,
                    frame_gap_ms=args.frame_gap_ms,
                    native_build=args.native_build,
                )
            except ValueError as e:  # a model either backend refuses: its file and reason, no traceback
                print(f"bluefire bench: {e}", file=sys.stderr)
                return 2
    add_speedups(rows)
    print(format_table(rows, peak))
    _write_json(args.json, {"peak_gflops": peak, "cpu": cpu_info(), "rows": rows})
    return 0
