"""Reproduce the Ubuntu 24.04 failure class here: build the module with the C++ runtime linked
statically (-static-libstdc++, as that host's /opt/gcc did by force and as a vehicle wheel may do on
purpose) and check that the guard holds: no runtime symbol exported, and run / an error path /
run_image work in fresh processes in three import orders. Then relink once without the guard
(-DBLUEFIRE_PRIVATE_CXX_RUNTIME=OFF) to show the symbol check catches the leak.

    .venv/bin/python -m tests.static_runtime_check      (a few minutes: one full build of the module)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "static-runtime"


def build(private: bool) -> Path:
    import pybind11

    from tests.native_runner import _tool

    args = [
        _tool("cmake"),
        "-S",
        str(ROOT),
        "-B",
        str(BUILD),
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DPython_EXECUTABLE={sys.executable}",
        f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
        # pybind11_add_module makes a MODULE library: its link uses the MODULE flags
        "-DCMAKE_MODULE_LINKER_FLAGS=-static-libstdc++ -static-libgcc",
        f"-DBLUEFIRE_PRIVATE_CXX_RUNTIME={'ON' if private else 'OFF'}",
    ]
    ninja = _tool("ninja")
    if ninja and not (BUILD / "CMakeCache.txt").exists():
        args += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
    for cmd in (args, [_tool("cmake"), "--build", str(BUILD), "--target", "_native", "-j", "2"]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            raise SystemExit(f"build failed: {' '.join(cmd)}\n{p.stdout[-4000:]}{p.stderr[-4000:]}")
    return next(BUILD.glob("_native*.so"))


def main() -> int:
    from tests import native_fixtures as fx
    from tests.test_reliability import IMPORT_ORDERS, fresh_process_run, load_build, runtime_exports

    ok = True
    so = build(private=True)
    ldd = subprocess.run(["ldd", str(so)], capture_output=True, text=True).stdout
    static = "libstdc++" not in ldd
    print(
        f"{so.name}: {'the C++ runtime is linked statically' if static else 'libstdc++.so is linked: NOT a static build'}"
    )
    ok &= static
    runtime, syms = runtime_exports(str(so))
    print(f"with the guard: {len(syms)} exported definitions, {len(runtime)} of the C++ runtime")
    ok &= not runtime
    with tempfile.TemporaryDirectory() as d:
        model = fx.network(Path(d) / "m.onnx", "squeezenet1_1", 32, 4, False, seed=3)
        for name, first in IMPORT_ORDERS.items():
            p = fresh_process_run(model, first, load_build(str(so)))
            good = p.returncode == 0 and p.stdout.strip() == "ok"
            print(f"  fresh process, {name}: {'ok' if good else f'FAILED rc {p.returncode}'}")
            if not good:
                print(p.stdout[-1500:] + p.stderr[-1500:])
            ok &= good
    runtime, syms = runtime_exports(str(build(private=False)))
    print(
        f"without the guard: {len(syms)} exported definitions, {len(runtime)} of the C++ runtime "
        f"(the check {'catches' if runtime else 'MISSES'} it)"
    )
    ok &= bool(runtime)
    build(private=True)  # leave the guarded build behind
    print("static runtime check:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
