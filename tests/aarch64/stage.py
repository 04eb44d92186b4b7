"""The deployable runtime on the BlueBox's ISA: aarch64 Python under `qemu-aarch64 -cpu cortex-a53`.

    python -m tests.aarch64.stage wheel [--arch x86_64|aarch64]   build dist/bluefire-*.whl (manylinux-checked)
    python -m tests.aarch64.stage test                             `make test-aarch64`

`test` builds everything it needs under build/aarch64/ (cached; a rerun takes seconds):
  sysroot/    Debian bookworm's arm64 python3.11 and the libraries it and the wheels need (`apt-get download`
              + `dpkg -x`; nothing is installed system-wide, no binfmt: qemu runs the interpreter explicitly)
  pyheaders/  Debian's libpython3.11-dev:arm64 (headers for the cross-built native module)
  wheels/     the runtime's dependencies as manylinux aarch64 wheels from PyPI, the aarch64 markers of
              pyproject.toml applied (so onnxruntime is the pinned one), plus pytest and onnx for the tests
  site/       bluefire's aarch64 wheel and its dependencies, installed by pip running under qemu
              (`--no-index`: no compiler and no network on the "vehicle")
  bin/python3.11  a wrapper that runs the arm64 interpreter under qemu, so sys.executable and the
              `bluefire` script pip writes work from the host shell and from subprocesses
Then, under qemu with -cpu cortex-a53: the SHA-256 of the preprocessed network inputs equal to x86's
(tests/aarch64/prep_hashes.py: the native preprocessing both backends use; OpenCV's printed for
information); `bluefire run diagrams/classify_replay.rtd` with the native and the onnxruntime backend,
every frame's top-1 equal to the x86 run and the accuracy equal; and the torch-free tests (components,
emulator, preprocessing, backends, native binding, pipeline) against the installed wheel.

System needs (.ci/run installs them): g++-aarch64-linux-gnu, qemu-user, and apt knowing the arm64
architecture (`dpkg --add-architecture arm64 && apt-get update`). Missing ones: skipped, with the reason.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "aarch64"
SYSROOT = BUILD / "sysroot"
PYHEADERS = BUILD / "pyheaders"
WHEELS = BUILD / "wheels"
SITE = BUILD / "site"
WRAPPER = BUILD / "bin" / "python3.11"
DIST = ROOT / "dist"
TOOLCHAIN = ROOT / "native" / "cmake" / "aarch64-linux-gnu.cmake"
QEMU_CPU = "cortex-a53"
PY = "3.11"  # Debian bookworm's python3 (the interpreter the aarch64 wheel is built and tested for)
PLATFORM = "manylinux_2_28_aarch64"  # what pip download asks PyPI for (the dependencies' wheels)

# python3.11 and what it, numpy, OpenCV and ONNX Runtime load (Depends of python3.11-minimal and
# libpython3.11-stdlib, plus libstdc++/libgomp for the wheels). Runtime only: no -dev package.
DEBS = [
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libc6",
    "libgcc-s1",
    "libstdc++6",
    "libgomp1",
    "gcc-12-base",
    "zlib1g",
    "libexpat1",
    "libbz2-1.0",
    "liblzma5",
    "libffi8",
    "libssl3",
    "libsqlite3-0",
    "libncursesw6",
    "libtinfo6",
    "libreadline8",
    "libuuid1",
    "libcrypt1",
    "libdb5.3",
    "libnsl2",
    "libtirpc3",
    "libgssapi-krb5-2",
    "libk5crypto3",
    "libkrb5-3",
    "libkrb5support0",
    "libkeyutils1",
    "libcom-err2",
]
HEADER_DEB = f"libpython{PY}-dev"
# Test-only wheels (the runtime's own come from pyproject.toml).
TEST_REQS = ["pytest>=7", "onnx>=1.16", "scikit-learn>=1.3", "scikit-video>=1.1.11", "psutil>=5.9", "pip"]
# The torch-free tests, run against the installed wheel under qemu.
TESTS = [
    "tests/test_preprocess.py",
    "tests/test_preprocess_native.py",
    "tests/test_native.py",
    "tests/test_components.py",
    "tests/test_emulator.py",
    "tests/test_pipeline.py",
    "tests/test_y4m.py",
]
# Deselected under qemu, each for a stated reason (all run on x86 in `make test`):
DESELECT = {
    "tests/test_pipeline.py::test_soak_10000_frames_keeps_memory_flat": "10,000 frames: minutes at qemu speed",
    "tests/test_pipeline.py::test_pipeline_bench_reports_overhead": "pipeline_bench finds diagrams/ next to the package: the checkout's layout, not an installed wheel's",
    "tests/test_components.py::test_single_plane_gray_model_on_both_backends": "builds its model with torch",
}
DIAGRAM = ROOT / "diagrams" / "classify_replay.rtd"


def log(msg: str) -> None:
    print(f"[aarch64] {msg}", flush=True)


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("check", True)
    return subprocess.run([str(c) for c in cmd], **kw)


def host_tool(name: str) -> str | None:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def missing_tools() -> str | None:
    """Why this stage cannot run here, or None."""
    need = {
        "aarch64-linux-gnu-g++": "g++-aarch64-linux-gnu",
        "qemu-aarch64": "qemu-user",
        "apt-get": "apt",
        "dpkg": "dpkg",
    }
    gone = [f"{t} ({pkg})" for t, pkg in need.items() if not shutil.which(t)]
    if gone:
        return "not found: " + ", ".join(gone)
    if not (SYSROOT / ".stamp").exists():
        arches = run(["dpkg", "--print-foreign-architectures"], capture_output=True, text=True).stdout.split()
        if "arm64" not in arches:
            return "apt does not know arm64 packages (dpkg --add-architecture arm64 && apt-get update)"
        pol = run(["apt-cache", "policy", f"python{PY}-minimal:arm64"], capture_output=True, text=True).stdout
        if "Candidate:" not in pol or "Candidate: (none)" in pol:
            return f"apt has no python{PY}-minimal:arm64 (run apt-get update after dpkg --add-architecture arm64)"
    return None


def _stamp_ok(path: Path, key: str) -> bool:
    return path.exists() and path.read_text() == key


def _stamp(path: Path, key: str) -> None:
    path.write_text(key)


def sysroot() -> None:
    """Debian's arm64 python3.11 unpacked into build/aarch64/sysroot (and the headers into pyheaders/)."""
    key = "\n".join(DEBS + [HEADER_DEB])
    if _stamp_ok(SYSROOT / ".stamp", key) and _stamp_ok(PYHEADERS / ".stamp", key):
        return
    debs = BUILD / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    want = [d for d in DEBS + [HEADER_DEB] if not list(debs.glob(f"{d}_*_arm64.deb"))]
    if want:
        log(f"apt-get download {len(want)} arm64 packages")
        run(["apt-get", "download", "-q", *[f"{d}:arm64" for d in want]], cwd=debs, stdout=subprocess.DEVNULL)
    for dest, names in ((SYSROOT, DEBS), (PYHEADERS, [HEADER_DEB])):
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for d in names:
            run(["dpkg", "-x", next(debs.glob(f"{d}_*_arm64.deb")), dest])
        _stamp(dest / ".stamp", key)
    log(f"sysroot ready: {SYSROOT}")


def wrapper() -> Path:
    """build/aarch64/bin/python3.11: the arm64 interpreter under qemu, usable as a host executable."""
    WRAPPER.parent.mkdir(parents=True, exist_ok=True)
    qemu = shutil.which("qemu-aarch64")
    text = (
        f"#!/bin/sh\n# arm64 python{PY} from {SYSROOT.relative_to(ROOT)} on an emulated Cortex-A53 "
        f'(written by tests/aarch64/stage.py)\nexec "{qemu}" -cpu "${{BLUEFIRE_QEMU_CPU:-{QEMU_CPU}}}" '
        f'-L "{SYSROOT}" -0 "$0" "{SYSROOT}/usr/bin/python{PY}" "$@"\n'
    )
    if not WRAPPER.exists() or WRAPPER.read_text() != text:
        WRAPPER.write_text(text)
        WRAPPER.chmod(0o755)
    return WRAPPER


# ---------------------------------------------------------------- wheels
def _wheel_glibc_tag(whl: Path, arch: str) -> str:
    """The manylinux tag the wheel's shared objects allow (auditwheel's verdict, else our own scan)."""
    aw = BUILD.parent / "tools" / "auditwheel"
    if not (aw / "auditwheel").exists():
        run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", aw, "auditwheel"],
            stdout=subprocess.DEVNULL,
        )
    env = dict(os.environ, PYTHONPATH=str(aw))
    out = run([sys.executable, "-m", "auditwheel", "show", whl], env=env, capture_output=True, text=True).stdout
    text = " ".join(out.split())
    marker = 'consistent with the following platform tag: "'
    if marker not in text:
        raise SystemExit(f"auditwheel could not classify {whl.name}:\n{out}")
    tag = text.split(marker)[1].split('"')[0]
    if not tag.endswith(arch):
        raise SystemExit(f"{whl.name}: auditwheel says {tag}, expected a {arch} tag")
    return tag


def build_wheel(arch: str) -> Path:
    """dist/bluefire-*-cp311-cp311-manylinux_2_X_ARCH.whl: scikit-build-core, cross for aarch64, then
    tagged with the manylinux level auditwheel reads from the .so's glibc symbol versions."""
    DIST.mkdir(exist_ok=True)
    tmp = BUILD.parent / f"wheel-{arch}"
    shutil.rmtree(tmp, ignore_errors=True)
    env = dict(os.environ)
    cfg = [f"-Cbuild-dir=build/wheel-build-{arch}", "-Ccmake.build-type=Release"]
    pytag = f"cp{PY.replace('.', '')}"
    # libstdc++/libgcc linked in and kept private (native/cmake/aarch64-linux-gnu.cmake says why); given
    # here too because a toolchain's *_INIT flags reach only the first configure of a build folder.
    static = "-static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL"
    cfg += [f"-Ccmake.define.CMAKE_SHARED_LINKER_FLAGS={static}", f"-Ccmake.define.CMAKE_MODULE_LINKER_FLAGS={static}"]
    if arch == "aarch64":
        sysroot()
        soabi = f"cpython-{pytag[2:]}-aarch64-linux-gnu"
        env.update(BLUEFIRE_PY_HEADERS=str(PYHEADERS), SETUPTOOLS_EXT_SUFFIX=f".{soabi}.so")
        cfg += [
            f"-Ccmake.define.CMAKE_TOOLCHAIN_FILE={TOOLCHAIN}",
            f"-Ccmake.define.Python_INCLUDE_DIR={PYHEADERS}/usr/include/python{PY}",
            f"-Cwheel.tags={pytag}-{pytag}-linux_aarch64",
        ]
    log(f"building the {arch} wheel (scikit-build-core)")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--disable-pip-version-check",
            "--no-build-isolation",
            "--no-deps",
            "-w",
            tmp,
            *cfg,
            ROOT,
        ],
        env=env,
        cwd=ROOT,
    )
    (raw,) = tmp.glob("bluefire-*.whl")
    _check_wheel_contents(raw, arch)
    tag = _wheel_glibc_tag(raw, arch)
    final = DIST / raw.name.replace(raw.name.split("-")[-1], f"{tag}.whl")
    _retag(raw, final, tag)
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"wheel: {final.relative_to(ROOT)} ({final.stat().st_size / 1e6:.1f} MB, auditwheel: {tag})")
    return final


def _check_wheel_contents(whl: Path, arch: str) -> None:
    machine = {"aarch64": 0xB7, "x86_64": 0x3E}[arch]
    with zipfile.ZipFile(whl) as z:
        sos = [n for n in z.namelist() if n.endswith(".so")]
        want = f"rtmaps_components/_native.cpython-{PY.replace('.', '')}-{arch}-linux-gnu.so"
        if sos != [want]:
            raise SystemExit(f"{whl.name}: expected exactly {want}, found {sos}")
        head = z.read(want)[:20]
        if int.from_bytes(head[18:20], "little") != machine:
            raise SystemExit(f"{whl.name}: {want} is not an {arch} ELF")


def _retag(src: Path, dst: Path, platform_tag: str) -> None:
    """Rewrite the WHEEL file's Tag and the RECORD hash (what `wheel tags --platform-tag` does)."""
    import base64

    with zipfile.ZipFile(src) as zin:
        items = {n: zin.read(n) for n in zin.namelist()}
    wheel_name = next(n for n in items if n.endswith(".dist-info/WHEEL"))
    lines = items[wheel_name].decode().splitlines()
    lines = [(ln.rsplit("-", 1)[0] + "-" + platform_tag) if ln.startswith("Tag: ") else ln for ln in lines]
    items[wheel_name] = ("\n".join(lines) + "\n").encode()
    record = next(n for n in items if n.endswith(".dist-info/RECORD"))
    rows = []
    for row in items[record].decode().splitlines():
        name = row.split(",")[0]
        if name in items and name != record:
            digest = base64.urlsafe_b64encode(hashlib.sha256(items[name]).digest()).rstrip(b"=").decode()
            row = f"{name},sha256={digest},{len(items[name])}"
        rows.append(row)
    items[record] = ("\n".join(rows) + "\n").encode()
    tmp = dst.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for n, data in items.items():
            zout.writestr(n, data)
    os.replace(tmp, dst)


def runtime_requirements() -> list[str]:
    """pyproject's runtime dependencies as they resolve on the vehicle (markers evaluated for aarch64 Linux)."""
    import tomllib  # Python >= 3.11 on the host (Debian 12's python3)
    from packaging.requirements import Requirement

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = {
        "platform_machine": "aarch64",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "python_version": PY,
        "python_full_version": f"{PY}.2",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
    }
    out = []
    for d in deps:
        r = Requirement(d)
        if r.marker is None or r.marker.evaluate(env):
            r.marker = None
            out.append(str(r))
    return out


def wheelhouse() -> None:
    reqs = runtime_requirements() + TEST_REQS
    key = "\n".join(reqs)
    if _stamp_ok(WHEELS / ".stamp", key):
        return
    WHEELS.mkdir(parents=True, exist_ok=True)
    log(f"pip download (aarch64 wheels): {' '.join(reqs)}")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--disable-pip-version-check",
            "-d",
            WHEELS,
            "--only-binary=:all:",
            "--platform",
            PLATFORM,
            "--python-version",
            PY,
            "--implementation",
            "cp",
            "--abi",
            f"cp{PY.replace('.', '')}",
            *reqs,
        ]
    )
    _stamp(WHEELS / ".stamp", key)


def install(whl: Path) -> None:
    """pip (the wheel from wheels/, run by the arm64 python) installs bluefire and deps into site/;
    when only bluefire's wheel changed, just that wheel is replaced."""
    deps_key = (WHEELS / ".stamp").read_text()
    key = hashlib.sha256(whl.read_bytes()).hexdigest()
    if _stamp_ok(SITE / ".stamp", key) and _stamp_ok(SITE / ".deps-stamp", deps_key):
        return
    only_bluefire = _stamp_ok(SITE / ".deps-stamp", deps_key)
    if not only_bluefire:
        shutil.rmtree(SITE, ignore_errors=True)
    pip_whl = sorted(WHEELS.glob("pip-*.whl"))[-1]
    log(
        f"pip install {whl.name}{' (alone)' if only_bluefire else ''} under qemu (--no-index: wheels only, no compiler)"
    )
    t0 = time.time()
    args = ["--no-deps", "--upgrade", whl] if only_bluefire else [whl, *TEST_REQS[:-1]]
    run(
        [
            wrapper(),
            f"{pip_whl}/pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-index",
            "--no-compile",
            "--root-user-action=ignore",
            "--find-links",
            WHEELS,
            "--target",
            SITE,
            *args,
        ],
        env=dict(os.environ, PIP_CONFIG_FILE=os.devnull, PYTHONNOUSERSITE="1"),
    )
    log(f"installed in {time.time() - t0:.0f} s")
    _stamp(SITE / ".deps-stamp", deps_key)
    _stamp(SITE / ".stamp", key)


def qemu_env() -> dict:
    """Environment for the arm64 python: the installed wheel first, never the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PYTHONPATH=f"{SITE}{os.pathsep}{ROOT / 'tests' / 'aarch64'}",
        PYTHONNOUSERSITE="1",
        PYTHONSAFEPATH="1",
        BLUEFIRE_SITE=str(SITE),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


# ---------------------------------------------------------------- checks
def vehicle_layout() -> Path:
    """build/aarch64/vehicle/ laid out as README's BlueBox install: diagrams/ and models/ next to a link
    to the *installed* rtmaps_components, so the diagram's components load from the wheel."""
    v = BUILD / "vehicle"
    (v / "diagrams").mkdir(parents=True, exist_ok=True)
    links = {
        v / "diagrams" / "data": ROOT / "diagrams" / "data",
        v / "models": ROOT / "models",
        v / "rtmaps_components": SITE / "rtmaps_components",
    }
    for link, target in links.items():
        if not (link.is_symlink() and link.resolve() == target.resolve()):
            if link.is_symlink():
                link.unlink()
            link.symlink_to(target)
    shutil.copyfile(DIAGRAM, v / "diagrams" / DIAGRAM.name)
    return v / "diagrams" / DIAGRAM.name


def check_pipeline(x86_python: str) -> list[str]:
    """`bluefire run` on both backends under qemu; per-frame top-1 and accuracy against the x86 run."""
    failures = []
    env = qemu_env()
    out_dir = BUILD / "runs"
    out_dir.mkdir(exist_ok=True)
    diagram = vehicle_layout()
    for backend in ("native", "onnxruntime"):
        x86 = json.loads(
            run(
                [x86_python, "-m", "tests.aarch64.top1", "--backend", backend], cwd=ROOT, capture_output=True, text=True
            ).stdout
        )
        report = out_dir / f"run_{backend}.json"
        t0 = time.time()
        p = run(
            [
                SITE / "bin" / "bluefire",
                "run",
                diagram,
                "--clock",
                "sim",
                "--quiet",
                "--set",
                f"Classifier.backend={backend}",
                "--report",
                report,
            ],
            env=env,
            cwd=BUILD,
            check=False,
            capture_output=True,
            text=True,
        )
        print(p.stdout.rstrip())
        rep = json.loads(report.read_text()) if p.returncode == 0 and report.exists() else None
        if rep is None:
            failures.append(f"bluefire run ({backend}) exited {p.returncode}: {p.stderr[-2000:]}")
            continue
        acc = rep["summary"].get("accuracy") or {}
        a = run(
            [WRAPPER, "-m", "top1", "--backend", backend, "--diagram", diagram],
            env=env,
            cwd=BUILD,
            capture_output=True,
            text=True,
            check=False,
        )
        if a.returncode != 0:
            failures.append(f"top-1 capture ({backend}) under qemu failed: {a.stderr[-2000:]}")
            continue
        arm = json.loads(a.stdout)
        diff = [i for i, (p1, p2) in enumerate(zip(arm["top1"], x86["top1"])) if p1 != p2]
        ok = (
            rep["frames"] == len(x86["top1"]) == len(arm["top1"])
            and not diff
            and rep["exceptions"] == 0
            and rep["errors"] == 0
            and arm["backend"] == backend
            and arm["component_file"].startswith(str(SITE.resolve()))  # the wheel's classifier.py ran
            and acc.get("correct") == arm["correct"] == x86["correct"]
        )
        log(
            f"{'ok' if ok else 'FAIL'} bluefire run, Classifier.backend={backend} on {arm['where']}, "
            f"component {Path(arm['component_file']).relative_to(ROOT) if arm['component_file'].startswith(str(ROOT)) else arm['component_file']}: "
            f"{rep['frames']} frames, {rep['exceptions']} exceptions, accuracy {acc.get('correct'):.0f}/"
            f"{acc.get('total'):.0f} (x86: {x86['correct']:.0f}/{x86['total']:.0f}); per-frame top-1 equal to x86 on "
            f"{len(x86['top1']) - len(diff)}/{len(x86['top1'])} frames ({time.time() - t0:.0f} s)"
        )
        if not ok:
            failures.append(
                f"{backend}: frames {rep['frames']} vs {len(x86['top1'])}, top-1 differs from x86 on frames "
                f"{diff[:10]}, accuracy {acc} vs x86 {x86['correct']}/{x86['total']}"
            )
    return failures


def check_input_hashes(x86_python: str) -> list[str]:
    """SHA-256 of the preprocessed network inputs (tests/aarch64/prep_hashes.py) under qemu and on x86:
    the native preprocessing (what both backends feed the network) must give the same bytes; OpenCV's
    resize and colour conversions are printed for information."""
    x86 = json.loads(
        run([x86_python, "-m", "tests.aarch64.prep_hashes"], cwd=ROOT, capture_output=True, text=True).stdout
    )
    p = run([WRAPPER, "-m", "prep_hashes"], env=qemu_env(), cwd=BUILD, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        return [f"prep_hashes under qemu exited {p.returncode}: {p.stderr[-2000:]}"]
    arm = json.loads(p.stdout)
    failures = []
    for key, what, required in (
        ("clip_native", f"the clip's {x86['frames']} frames, native preprocessing (both backends' input)", True),
        ("random_native", "random frames x sizes x layouts x 3 contracts, native preprocessing", True),
        ("clip_opencv", "the clip's frames, Preprocessing.apply (OpenCV INTER_LINEAR)", False),
        ("colour_opencv", "OpenCV's YUV/Bayer/gray conversions (before a native resize)", False),
    ):
        same = arm[key] == x86[key]
        log(
            f"{'ok' if same or not required else 'FAIL'} input SHA-256, {what}: "
            f"{'identical' if same else 'DIFFERENT'} (x86 {x86[key][:16]}…, aarch64 {arm[key][:16]}…)"
            f"{'' if required else ' [information]'}"
        )
        if required and not same:
            failures.append(f"preprocessed input hash differs between x86 and aarch64: {key}")
    return failures


def check_tests(x86_python: str) -> list[str]:
    # The tests' networks are trained/exported with torch: made on x86 once (cached in the temp folder).
    log("test networks from x86 (torch), cached for the arm64 run")
    run(
        [x86_python, "-c", "import sys; sys.path.insert(0, 'tests'); import pipeline_fixtures as F; F.digits_model()"],
        cwd=ROOT,
    )
    run(
        [
            x86_python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.aarch64.fixture_cache",
            "-p",
            "no:cacheprovider",
            "tests/test_native.py",
            "-k",
            "test_batch_equals_single_images or (test_run_image_matches_python_preprocessing and shape0-rgb)",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    args = [
        WRAPPER,
        "-m",
        "pytest",
        "-q",
        "-p",
        "pin_installed",
        "-p",
        "fixture_cache",
        "-p",
        "no:cacheprovider",
        *TESTS,
    ]
    for d, why in DESELECT.items():
        args.append(f"--deselect={d}")
        log(f"not run under qemu: {d.split('::')[1]}: {why}")
    t0 = time.time()
    p = run(args, env=qemu_env(), cwd=ROOT, check=False)
    log(f"{'ok' if p.returncode == 0 else 'FAIL'} torch-free tests under qemu ({time.time() - t0:.0f} s)")
    return [] if p.returncode == 0 else [f"pytest under qemu exited {p.returncode}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("wheel", "test"))
    ap.add_argument("--arch", choices=("aarch64", "x86_64"), default="aarch64")
    ap.add_argument("--require", action="store_true", help="missing cross tools are an error, not a skip")
    a = ap.parse_args(argv)
    t0 = time.time()
    why = missing_tools() if (a.what == "test" or a.arch == "aarch64") else None
    if why:
        log(f"SKIPPED: {why}; the aarch64 runtime was NOT tested")
        return 1 if a.require else 0
    if a.what == "wheel":
        build_wheel(a.arch)
        return 0
    sysroot()
    wrapper()
    wheelhouse()
    whl = sorted(DIST.glob("bluefire-*-manylinux_*_aarch64.whl"), key=lambda p: p.stat().st_mtime)
    newest_src = max(p.stat().st_mtime for p in (ROOT / "native").rglob("*") if p.is_file())
    newest_src = max(
        [newest_src, *(p.stat().st_mtime for p in (ROOT / "pyproject.toml", ROOT / "CMakeLists.txt", Path(__file__)))]
        + [p.stat().st_mtime for d in ("rtmaps_components", "training") for p in (ROOT / d).rglob("*.py")]
    )
    wheel = whl[-1] if whl and whl[-1].stat().st_mtime > newest_src else build_wheel("aarch64")
    install(wheel)
    failures = check_input_hashes(sys.executable) + check_pipeline(sys.executable) + check_tests(sys.executable)
    took = time.time() - t0
    for f in failures:
        log(f"FAIL {f}")
    log(f"{'ok' if not failures else 'FAILED'}: aarch64 stage under qemu -cpu {QEMU_CPU} ({took:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
