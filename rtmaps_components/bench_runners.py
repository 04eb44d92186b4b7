"""Timing building blocks shared by `bluefire bench`, native/tools and tests; torch-free, so they run on a vehicle.

A runner is one callable on a prepared input (a native engine of some build and variant, an ONNX
Runtime session, ...). Runners are timed interleaved: one call each per round, the order rotating,
after a warm-up, so a noisy shared machine slows all of them alike; only ratios within one run mean
anything. Machine facts (CPU model, SIMD flags) go with every result.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

# The CPU flags that decide which kernels can run (x86 /proc/cpuinfo "flags", aarch64 "Features").
SIMD_FLAGS = (
    "sse4_1",
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512dq",
    "avx512vl",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "neon",
    "asimd",
    "asimdhp",
    "asimddp",
    "i8mm",
    "sve",
    "sve2",
    "bf16",
)


@dataclass(frozen=True)
class Runner:
    """One thing to time: `run(x)` on a prepared input. `engine` and `variant` label its rows; `build`
    says what the engine decided when it was made (native: its thread splits), for the JSON."""

    engine: str
    variant: str
    run: Callable[[np.ndarray], Any]
    build: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.engine}:{self.variant}"


def load_native_build(so: str | os.PathLike) -> ModuleType:
    """Another build of the native extension module from a file (e.g. an older commit's _native*.so).

    It is imported under its own name, so it runs beside the installed one in the same process."""
    import importlib.util

    so = os.fspath(so)
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


def native_module(so: str | os.PathLike | None = None) -> ModuleType:
    """The installed native extension, or (with `so`) another build of it."""
    if so is None:
        from . import _native

        return _native
    return load_native_build(so)


def native_builds(baseline: str | os.PathLike | None, alone: str = "now") -> list[tuple[str, ModuleType]]:
    """[(label, module)]: the installed build alone (labelled `alone`), or ('before', baseline) and ('after', installed)."""
    if baseline is None:
        return [(alone, native_module())]
    return [("before", load_native_build(baseline)), ("after", native_module())]


def native_variants(spec: str, module: ModuleType | None = None) -> list[str]:
    """Variant names from a comma list, or every variant this CPU runs for 'all'."""
    if spec == "all":
        return list((module or native_module()).available_variants())
    return [v.strip() for v in spec.split(",") if v.strip()]


def native_runners(
    path: str | os.PathLike, threads: int, variants: str, engine: str = "native", module: ModuleType | None = None
) -> list[Runner]:
    """One runner per native variant of `module` (default: the installed build) on the model at `path`."""
    module = module or native_module()
    out = []
    for v in native_variants(variants, module):
        eng = module.Engine(os.fspath(path), threads=threads, variant=v)
        out.append(Runner(engine, eng.variant, eng.run, native_build_info(eng)))
    return out


def native_build_info(eng: Any) -> dict[str, Any]:
    """What a native engine chose at build for its threads: layers split over the pool, sibling pairs
    run as one job (a profile's kinds ending in ' +next'; 0 for builds before pairs), the measurement's
    cost. A snapshot of the machine's load when it was built: the reason two builds' rows differ. An
    older build (`--native-baseline`) may lack some of these: they are left out."""
    info: dict[str, Any] = {}
    if hasattr(eng, "split_layers"):
        info["split_layers"] = eng.split_layers
    if hasattr(eng, "profile") and hasattr(eng, "input_channels"):
        x = np.zeros((1, eng.input_channels, *eng.input_size), np.float32)
        info["pairs"] = sum(1 for row in eng.profile(x) if str(row[1]).endswith("+next"))
    if hasattr(eng, "calibration_seconds"):
        info["calibration_ms"] = 1e3 * eng.calibration_seconds
    return info


def ort_runner(path: str | os.PathLike, threads: int) -> Runner:
    """ONNX Runtime (CPU provider, MLAS kernels) on the model at `path`, the session as backends makes it."""
    from .backends import ort_session

    sess = ort_session(path, threads)
    name = sess.get_inputs()[0].name
    return Runner("ort", "mlas", lambda x: sess.run(None, {name: x}))


def interleaved(
    calls: dict[str, Callable[[], T]],
    rounds: int,
    warmup: int = 0,
    before: Callable[[str], Any] | None = None,
) -> dict[str, list[T]]:
    """Call each function `warmup` times, then `rounds` rounds of one call each, the order rotating every round.

    `before(name)` runs ahead of every call of `name`, outside what `timed` measures (see bench_case).
    Returns each function's results in call order (use `timed` to make a function return its seconds)."""
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    out: dict[str, list[T]] = {n: [] for n in names}
    for i in range(rounds):
        for j in range(len(names)):
            name = names[(i + j) % len(names)]
            if before is not None:
                before(name)
            out[name].append(calls[name]())
    return out


def running_threads() -> int | None:
    """How many other threads of this process are running or runnable now (state R in
    /proc/self/task/*/stat); None where there is no /proc."""
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    me, n = threading.get_native_id(), 0
    for tid in tids:
        if tid == str(me):
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # the thread ended
            continue
        state = stat.rindex(b")") + 2  # the name, in parentheses, may hold spaces
        n += stat[state : state + 1] == b"R"
    return n


def wait_until_quiet(limit_s: float = 0.5) -> float:
    """Busy-wait until no other thread of this process runs (at most `limit_s`); returns the seconds waited.

    Between calls of multi-threaded engines: a thread pool that spins on after its run shares the
    cores with the engine timed next. ONNX Runtime's intra-op workers spin about 38 ms after each
    run by default (ORT 1.30, the 2-core host: native at 2 threads on 224x224 ran 1.07x one thread
    interleaved with it, 1.56x alone); the runtime's sessions now stop at once (ort_session), and
    this wait keeps any other pool (torch's, another build's) from doing the same. Reading /proc
    disturbs the caches too, so the caller warms the next engine up again (training/bench.py)."""
    t0 = time.perf_counter()
    while running_threads() and time.perf_counter() - t0 < limit_s:
        pass
    return time.perf_counter() - t0


def timed(fn: Callable[[], Any]) -> Callable[[], float]:
    """`fn` wrapped to return the seconds one call took."""

    def call() -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    return call


def time_runners(runners: Iterable[Runner], x: np.ndarray, runs: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per call of every runner on `x`, timed interleaved; keyed by Runner.key."""
    return interleaved({r.key: timed(lambda r=r: r.run(x)) for r in runners}, runs, warmup)


def timing_stats(seconds: Iterable[float]) -> dict[str, float]:
    """median_ms, p99_ms and min_ms of per-call times in seconds."""
    t = np.asarray(list(seconds), dtype=np.float64) * 1e3
    return {"median_ms": float(np.median(t)), "p99_ms": float(np.percentile(t, 99)), "min_ms": float(t.min())}


def elementwise_min(rows: Iterable[list[float]]) -> list[float]:
    """The per-position minimum of equally long lists (e.g. per-layer times over many passes)."""
    best: list[float] | None = None
    for r in rows:
        best = list(r) if best is None else [min(a, b) for a, b in zip(best, r)]
    return best or []


def cpu_info() -> dict[str, Any]:
    """The machine a measurement ran on: CPU model, logical CPUs, architecture and the SIMD flags it reports."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "hardware", "cpu model") and not model:
                    model = value.strip()
                elif key in ("flags", "features") and not flags:
                    flags = set(value.split())
    except OSError:  # not Linux: what the platform module knows
        pass
    return {
        "model": model or platform.processor() or platform.machine(),
        "machine": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "simd": [f for f in SIMD_FLAGS if f in flags],
    }
