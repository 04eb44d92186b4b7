"""`make test-native`: the C++ core and its test runner, built and run three ways.

1. host, optimised (the variants this CPU has, e.g. avx2 + ref);
2. host under AddressSanitizer + UndefinedBehaviorSanitizer;
2b. host under ThreadSanitizer, the tests that run the thread pool, a Fire module and a pair at 1-4 threads,
    and frames after idle gaps (workers waking mid-frame);
3. cross-compiled for the BlueBox's Cortex-A53 (aarch64-linux-gnu-g++ -mcpu=cortex-a53, static)
   and run under `qemu-aarch64 -cpu cortex-a53`, so the NEON kernels execute on every run.

A stage whose tools are missing is skipped with a printed reason; any failure exits non-zero.
Builds use -j2 and incremental build folders under build/, so a rerun takes seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
BUILD = ROOT / "build"
JOBS = "2"


def _tool(name: str) -> str | None:
    """A tool from the venv's bin (cmake, ninja come from pip) or PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def _run(cmd: list[str], env: dict | None = None, timeout: float = 600) -> tuple[int, str]:
    p = subprocess.run(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )
    return p.returncode, p.stdout


def _build(name: str, cmake_args: list[str], cxx_flags: str = "", linker_flags: str = "") -> tuple[bool, str]:
    cmake = _tool("cmake")
    ninja = _tool("ninja")
    out = BUILD / name
    args = [cmake, "-S", str(NATIVE), "-B", str(out), "-DBLUEFIRE_TESTS=ON", *cmake_args]
    if ninja:
        args += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"] if not (out / "CMakeCache.txt").exists() else []
    if cxx_flags:
        args.append(f"-DCMAKE_CXX_FLAGS={cxx_flags}")
    if linker_flags:
        args.append(f"-DCMAKE_EXE_LINKER_FLAGS={linker_flags}")
    rc, log = _run(args)
    if rc != 0:
        return False, log
    rc, log2 = _run([cmake, "--build", str(out), "-j", JOBS])
    return rc == 0, log + log2


def stage(
    name: str,
    build: str,
    cmake_args: list[str],
    run_prefix: list[str],
    cxx_flags: str = "",
    linker_flags: str = "",
    env: dict | None = None,
    must_run: str = "",
    tests: tuple[str, ...] = (),
) -> bool:
    t0 = time.time()
    ok, log = _build(build, cmake_args, cxx_flags, linker_flags)
    if not ok:
        print(f"[FAIL] {name}: build failed\n{log[-6000:]}")
        return False
    rc, out = _run([*run_prefix, str(BUILD / build / "bluefire_tests"), *tests], env=env)
    print(out.rstrip())
    first = out.splitlines()[0] if out else ""
    if must_run and (f" {must_run}" not in first or f"{must_run}(unsupported" in first):
        print(f"[FAIL] {name}: the {must_run} variant was not compiled and run")
        rc = rc or 1
    print(f"[{'ok' if rc == 0 else 'FAIL'}] {name} ({time.time() - t0:.0f} s)\n")
    return rc == 0


# What ThreadSanitizer prints when it cannot start on this kernel or container (not a test result).
TSAN_CANNOT_RUN = ("unexpected memory mapping", "failed to set personality", "personality(ADDR_NO_RANDOMIZE)")


def tsan_stage() -> bool | None:
    """The thread tests under ThreadSanitizer: a race or a failed check fails the stage. TSan maps its
    shadow memory at fixed addresses, which a kernel with high ASLR entropy can collide with, so it runs
    with address randomisation off (`setarch -R`), or as it is where a container forbids that; where it
    cannot start at all the stage is SKIPPED with TSan's reason (None), never passed."""
    name = "host under ThreadSanitizer (thread pool, Fire module, pair at 1-4 threads, frames after idle gaps)"
    t0 = time.time()
    ok, log = _build("native-tsan", ["-DCMAKE_BUILD_TYPE=RelWithDebInfo"], "-fsanitize=thread", "-fsanitize=thread")
    if not ok:
        print(f"[FAIL] {name}: build failed\n{log[-6000:]}")
        return False
    setarch = shutil.which("setarch")
    cmd = [
        str(BUILD / "native-tsan" / "bluefire_tests"),
        "thread_pool",
        "engine_fire_concat",
        "engine_pair",
        "engine_frames_after_idle",
    ]
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1:exitcode=66")
    out = ""
    for prefix in ([setarch, os.uname().machine, "-R"] if setarch else None, []):
        if prefix is None:
            continue
        rc, out = _run([*prefix, *cmd], env=env)
        if not any(m in out for m in TSAN_CANNOT_RUN):
            print(out.rstrip())
            print(f"[{'ok' if rc == 0 else 'FAIL'}] {name} ({time.time() - t0:.0f} s)\n")
            return rc == 0
    reason = next((ln for ln in out.splitlines() if any(m in ln for m in TSAN_CANNOT_RUN)), out[-300:])
    print(f"[SKIPPED] {name}: ThreadSanitizer cannot run here ({reason.strip()}); the thread tests ran without it\n")
    return None


def main() -> int:
    if not _tool("cmake"):
        print("[FAIL] cmake not found (pip install cmake, or make venv)")
        return 1
    results: dict[str, bool | None] = {}
    results["host"] = stage("host (optimised)", "native-host", ["-DCMAKE_BUILD_TYPE=Release"], [])
    san = "-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
    results["sanitizers"] = stage(
        "host under ASan + UBSan",
        "native-asan",
        ["-DCMAKE_BUILD_TYPE=Debug"],
        [],
        cxx_flags=san,
        linker_flags="-fsanitize=address,undefined",
        env=env,
    )
    results["threads"] = tsan_stage()
    cross, qemu = shutil.which("aarch64-linux-gnu-g++"), shutil.which("qemu-aarch64")
    if not cross or not qemu:
        missing = " and ".join(n for n, p in (("aarch64-linux-gnu-g++", cross), ("qemu-aarch64", qemu)) if not p)
        print(
            f"[SKIPPED] aarch64 / Cortex-A53 stage: {missing} not found "
            "(apt-get install g++-aarch64-linux-gnu qemu-user); the NEON kernels were NOT run\n"
        )
        results["aarch64"] = None
    else:
        results["aarch64"] = stage(
            "aarch64 Cortex-A53 under qemu",
            "native-aarch64",
            [
                "-DCMAKE_BUILD_TYPE=Release",
                "-DCMAKE_SYSTEM_NAME=Linux",
                "-DCMAKE_SYSTEM_PROCESSOR=aarch64",
                f"-DCMAKE_CXX_COMPILER={cross}",
            ],
            [qemu, "-cpu", "cortex-a53"],
            cxx_flags="-mcpu=cortex-a53",
            linker_flags="-static",
            must_run="neon",
        )
    print(
        "native tests: "
        + ", ".join(f"{k} {'ok' if v else 'SKIPPED' if v is None else 'FAILED'}" for k, v in results.items())
    )
    return 0 if all(v is not False for v in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
