"""Startup and memory of the runtime: x86 (the checkout's venv) vs aarch64 under qemu -cpu cortex-a53.

    python -m tests.aarch64.startup_memory [--repeats 3] [--json out/aarch64_startup.json]

Needs `make test-aarch64` first (the arm64 sysroot and the installed wheel under build/aarch64/).
Each measurement is a fresh process (cold imports; interleaved x86 / qemu; median of --repeats):
  import_s        `import rtmaps_components.backends` + its native module, numpy, OpenCV
  ort_import_s    `import onnxruntime`
  load_s[model][backend]  load_model() (file read, session/engine build, one probe inference)
  vmhwm_mib[backend]      peak resident memory (VmHWM) of a process that loaded the pruned model on
                  that backend and classified 50 frames of the shipped clip
qemu is a dynamic translator on an x86 host, not a Cortex-A53: the aarch64/x86 ratios say how much
slower the emulation is, nothing about A53 timing. Under qemu, VmHWM includes qemu's own memory
(translated-code cache, guest mappings), so it bounds the A53 figure from above.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted((ROOT / "models").glob("*.onnx"))
BACKENDS = ("native", "onnxruntime")


def _vmhwm_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(what: str, model: str, backend: str) -> dict:
    """One measurement in this (fresh) process."""
    t0 = time.perf_counter()
    if what == "import":
        import cv2  # noqa: F401
        import numpy  # noqa: F401

        from rtmaps_components import (
            _native,  # noqa: F401
            backends,  # noqa: F401
        )

        return {"s": time.perf_counter() - t0}
    if what == "ort_import":
        import onnxruntime  # noqa: F401

        return {"s": time.perf_counter() - t0}
    from rtmaps_components.backends import load_model

    if backend == "onnxruntime":
        import onnxruntime  # noqa: F401  (imported before timing the load: load_s is the model only)
    if what == "load":
        t0 = time.perf_counter()
        load_model(model, backend=backend)
        return {"s": time.perf_counter() - t0}
    import cv2

    m = load_model(model, backend=backend)
    clip = sorted((ROOT / "diagrams" / "data" / "fmnist_clip").glob("*.png"))[:50]
    for p in clip:
        m.classify(cv2.imread(str(p), cv2.IMREAD_COLOR), "BGR")
    return {"mib": _vmhwm_mib()}


def _measure(python: list[str], env: dict, what: str, model: str = "", backend: str = "") -> dict:
    p = subprocess.run(
        [*python, "-m", "startup_memory", "--child", what, model, backend],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT / "build",
    )
    if p.returncode != 0:
        raise SystemExit(f"{python[0]} {what} {model} {backend} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", nargs=3, metavar=("WHAT", "MODEL", "BACKEND"), help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=ROOT / "out" / "aarch64_startup.json")
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(*a.child)))
        return 0
    from tests.aarch64 import stage

    if not (stage.SITE / ".stamp").exists():
        raise SystemExit("build/aarch64/site is missing: run `make test-aarch64` first")
    here = Path(__file__).resolve().parent
    x86_env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{here}")
    targets = {"x86_64": ([sys.executable], x86_env), "aarch64_qemu": ([str(stage.WRAPPER)], stage.qemu_env())}
    jobs = [("import", "", "")] + [("ort_import", "", "")]
    jobs += [("load", str(m), b) for m in MODELS for b in BACKENDS]
    jobs += [("memory", str(MODELS[-1] if "pruned" in MODELS[-1].name else MODELS[0]), b) for b in BACKENDS]
    raw: dict[str, dict[str, list[float]]] = {t: {} for t in targets}
    for _ in range(a.repeats):  # interleaved: each round measures every job on both targets
        for job in jobs:
            key = "/".join(p for p in (job[0], Path(job[1]).stem if job[1] else "", job[2]) if p)
            for t, (py, env) in targets.items():
                r = _measure(py, env, *job)
                raw[t].setdefault(key, []).append(r.get("s", r.get("mib")))
    med = {t: {k: statistics.median(v) for k, v in d.items()} for t, d in raw.items()}
    out = {
        "note": "qemu-aarch64 -cpu cortex-a53 on an x86 host: ratios measure emulation, not an A53",
        "repeats": a.repeats,
        "median": med,
        "ratio_qemu_over_x86": {k: med["aarch64_qemu"][k] / med["x86_64"][k] for k in med["x86_64"]},
        "host": os.uname().nodename,
        "cpus": os.cpu_count(),
    }
    print(f"{'measurement':52s} {'x86_64':>10s} {'qemu a53':>10s} {'ratio':>7s}")
    for k in med["x86_64"]:
        unit = "MiB" if k.startswith("memory") else "s"
        print(
            f"{k + ' (' + unit + ')':52s} {med['x86_64'][k]:10.3f} {med['aarch64_qemu'][k]:10.3f} "
            f"{out['ratio_qemu_over_x86'][k]:7.1f}"
        )
    a.json.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.json.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1))
    os.replace(tmp, a.json)
    print(f"json: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
