"""How long ONNX Runtime's intra-op workers spin after a run, and what stopping them costs.

    .venv/bin/python native/tools/ort_spin.py MODEL.onnx [MODEL.onnx ...] [--threads 2] [--runs 100]

Three sessions per model at --threads: ORT's default, `session.force_spinning_stop=1` (what
`rtmaps_components.backends.ort_session` makes) and `session.intra_op.allow_spinning=0`. For each:
the median seconds other threads of the process stay running after a run returns
(`bench_runners.wait_until_quiet`), then the median latency, the three timed interleaved, each
timed call after the process is quiet and one untimed call of the same session (as `bluefire bench`
times several threads). Only ratios within one run mean anything on a shared host.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from rtmaps_components.bench_runners import interleaved, timed, wait_until_quiet

MODES = {
    "default": {},
    "force_spinning_stop": {"session.force_spinning_stop": "1"},
    "no_spinning": {"session.intra_op.allow_spinning": "0"},
}


def session(path: str, threads: int, config: dict[str, str]):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads, opts.log_severity_level = threads, 1, 3
    for k, v in config.items():
        opts.add_session_config_entry(k, v)
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def spin_after(call) -> float:
    """Seconds other threads stay running after one call returns."""
    call()
    return wait_until_quiet(limit_s=1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=100)
    args = ap.parse_args()
    print(f"{'model':36s} {'sessions':20s} {'spins after run ms':>18s} {'median ms':>10s}")
    for path in args.models:
        sessions = {m: session(path, args.threads, c) for m, c in MODES.items()}
        inp = next(iter(sessions.values())).get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        x = {inp.name: np.random.default_rng(0).random(shape, dtype=np.float32)}
        calls = {m: (lambda s=s, x=x: s.run(None, x)) for m, s in sessions.items()}
        spin = {m: statistics.median(spin_after(call) for _ in range(5)) for m, call in calls.items()}
        before = lambda m, calls=calls: (wait_until_quiet(), calls[m]())  # noqa: E731
        times = interleaved({m: timed(c) for m, c in calls.items()}, args.runs, 5, before)
        name = path.rsplit("/", 1)[-1][:36]
        for m in MODES:
            print(f"{name:36s} {m:20s} {spin[m] * 1e3:18.1f} {statistics.median(times[m]) * 1e3:10.3f}")


if __name__ == "__main__":
    main()
