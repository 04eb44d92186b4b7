"""Fault behaviour of model loading, the native binding and the training commands (issue 15): what is
refused (one line naming the file and field), what stops a run, and that a failure loses nothing.
Every rule here is checked on both backends where it applies."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rtmaps_components import _native
from rtmaps_components.backends import ModelLoadError, check_threads, load_model, ort_session
from rtmaps_components.bench_runners import running_threads, wait_until_quiet
from rtmaps_components.model_meta import MAX_MODEL_BYTES
from rtmaps_components.preprocess import MAX_INPUT_SIDE, METADATA_KEY
from tests import native_fixtures as fx

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("native", "onnxruntime")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return fx.network(tmp_path_factory.mktemp("rel") / "m.onnx", "squeezenet1_1", 32, 4, False, seed=3)


def _variant(src: Path, dst: Path, meta: dict | None = None, edit=None) -> Path:
    """A copy of `src` with preprocessing fields replaced (`meta`, None values removed) and/or the proto edited."""
    import onnx

    proto = onnx.load(str(src))
    if meta is not None:
        for p in proto.metadata_props:
            if p.key == METADATA_KEY:
                d = json.loads(p.value)
                d.update(meta)
                p.value = json.dumps({k: v for k, v in d.items() if v is not None})
    if edit is not None:
        edit(proto)
    onnx.save(proto, str(dst))
    return dst


# ---------------------------------------------------------------- the built module itself
IMPORT_ORDERS = {"native first, nothing else": "", "numpy first": "import numpy\n", "torch first": "import torch\n"}
LOAD_INSTALLED = "from rtmaps_components import _native\n"


def load_build(so: str) -> str:
    """Code that imports another build of the module (a .so path) as `_native`."""
    return (
        f"import importlib.util as u\ns = u.spec_from_file_location('rtmaps_components._native', {so!r})\n"
        "_native = u.module_from_spec(s)\ns.loader.exec_module(_native)\n"
    )


def fresh_process_run(model: Path, first: str, load: str = LOAD_INSTALLED) -> subprocess.CompletedProcess:
    """In a new interpreter: `first`, then the module (`load`), then run, an error path (its message
    formatting) and run_image. Prints "ok" when all work."""
    code = (
        first
        + load
        + f"""
import numpy as np
e = _native.Engine({str(model)!r}, 1, "ref")
y = e.run(np.zeros((2, 3, 32, 32), np.float32))
assert y.shape == (2, 4), y.shape
try:
    e.run(np.zeros((1, 3, 31, 32), np.float32))
except ValueError as err:
    assert "(N, 3, 32, 32)" in str(err), err
else:
    raise SystemExit("a wrong shape was accepted")
e.set_preprocessing(height=32, width=32, channels=3, color="rgb", resize="bilinear", scale=1 / 255,
                    mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], channel_order="RGB")
assert e.run_image(np.zeros((40, 50, 3), np.uint8)).shape == (4,)
print("ok")
"""
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("first", IMPORT_ORDERS)
def test_module_runs_in_a_fresh_process(model, first) -> None:
    # The Ubuntu 24.04 segfault needed a fresh process whose first import was the module.
    p = fresh_process_run(model, IMPORT_ORDERS[first])
    assert p.returncode == 0 and p.stdout.strip() == "ok", f"rc {p.returncode}: {p.stdout[-2000:]}{p.stderr[-2000:]}"


# Definitions that belong to the C++ runtime itself (iostreams, locale, the ABI, exceptions). A module
# that exports them has the runtime linked in statically and visible: they then interpose on the
# libstdc++.so that numpy/torch load (the Ubuntu 24.04 SIGSEGV in std::ostream). Template
# instantiations of our own (std::vector<float>::_M_realloc_insert, ...) are expected and harmless.
RUNTIME_PREFIXES = (
    "_ZNSo",
    "_ZNSi",
    "_ZNSd",
    "_ZSt4cout",
    "_ZSt4cerr",
    "_ZSt4clog",
    "_ZNSt8ios_base",
    "_ZNSt6locale",
    "_ZNKSt6locale",
    "_ZNSt9basic_ios",
    "_ZNSt15basic_streambuf",
    "_ZNSt13basic_filebuf",
    "_ZNSt7__cxx1119basic_ostringstream",
    "_ZNSt7__cxx1115basic_stringbuf",
    "_ZNSt12__basic_file",
    "_ZNKSt5ctype",
    "_ZNKSt7num_put",
    "_ZNSt6thread",
    "_ZSt9terminate",
    "_ZSt17__throw_",
    "_ZTVN10__cxxabiv1",
    "__cxa_",
    "__gxx_personality",
    "_Unwind_",
)


def exported_definitions(so: str) -> list[str]:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) is not installed")
    out = subprocess.run([nm, "-D", "--defined-only", so], capture_output=True, text=True, check=True).stdout
    return [line.split()[-1] for line in out.splitlines() if line.strip()]


def runtime_exports(so: str) -> tuple[list[str], list[str]]:
    """(C++ runtime definitions the module exports, all its exported definitions)."""
    syms = exported_definitions(so)
    return [s for s in syms if s.startswith(RUNTIME_PREFIXES)], syms


def test_module_exports_no_cxx_runtime() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("ELF symbol tables: Linux only")
    runtime, syms = runtime_exports(_native.__file__)
    assert not runtime, f"{_native.__file__} exports C++ runtime symbols: {runtime[:10]}"
    assert "PyInit__native" in syms
    # 2,425 exported with the runtime statically linked and visible; a few dozen instantiations otherwise
    assert len(syms) < 200, f"{len(syms)} exported symbols: is a static runtime visible?"


# ---------------------------------------------------------------- files: one rule for both backends
def test_native_engine_file_rule(tmp_path, model) -> None:
    for bad, why in (
        ("/dev/zero", "is not a regular file"),
        (str(tmp_path), "is not a regular file"),
        (str(tmp_path / "missing.onnx"), "missing.onnx: cannot open"),
    ):
        with pytest.raises(ValueError, match=why):
            _native.Engine(bad)
    assert _native.Engine(pathlib.Path(model)).num_classes == 4  # a pathlib.Path is accepted
    assert _native.MAX_MODEL_BYTES == MAX_MODEL_BYTES


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_file_rule(tmp_path, model, backend) -> None:
    big = tmp_path / "big.onnx"
    with open(big, "wb") as f:  # sparse: nothing is written, and nothing may be read
        f.truncate(MAX_MODEL_BYTES + 1)
    fifo = tmp_path / "fifo.onnx"
    os.mkfifo(fifo)
    for bad, why in (
        ("/dev/zero", "/dev/zero: is not a regular file"),
        (tmp_path, "is not a regular file"),
        (fifo, "fifo.onnx: is not a regular file"),
        (tmp_path / "no.onnx", "no.onnx: no such model file"),
        (big, f"big.onnx: is {MAX_MODEL_BYTES + 1} bytes, more than"),
        ("", "no model file given"),
        (3, "must be a str or a path-like"),
    ):
        with pytest.raises(ModelLoadError, match=why):
            load_model(bad, backend=backend)
    assert load_model(pathlib.Path(model), backend=backend).num_classes == 4


# ---------------------------------------------------------------- metadata: parsed once, named errors
BAD_META = {
    "missing input_size": ({"input_size": None}, r"lacks field\(s\) \['input_size'\]"),
    "input_size [64]": ({"input_size": [64]}, "field 'input_size': expected a list of integers of length 2"),
    "input_size 64": ({"input_size": 64}, "field 'input_size': expected a list of integers of length 2"),
    "input_size strings": ({"input_size": ["32", "32"]}, "field 'input_size'"),
    "missing class_names": ({"class_names": None}, r"lacks field\(s\) \['class_names'\]"),
    "unknown field": ({"planes": 3}, r"unknown field\(s\) \['planes'\]"),
    "scale nan": ({"scale": float("nan")}, "scale must be finite and > 0"),
    "scale 0": ({"scale": 0}, "scale must be finite and > 0"),
    "std inf": ({"std": [1, float("inf"), 1]}, "std must be finite and > 0"),
    "std nan": ({"std": [1, float("nan"), 1]}, "std must be finite and > 0"),
    "std 0": ({"std": [1, 0, 1]}, "std must be finite and > 0"),
    "mean nan": ({"mean": [0, float("nan"), 0]}, "mean must be finite"),
    "mean wrong type": ({"mean": "0"}, "field 'mean': expected a list of numbers"),
    "resize wrong type": ({"resize": 1}, "field 'resize': expected a string"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", BAD_META)
def test_bad_preprocessing_metadata_is_refused_at_load(tmp_path, model, backend, case) -> None:
    change, match = BAD_META[case]
    path = _variant(model, tmp_path / "bad.onnx", change)
    with pytest.raises(ModelLoadError, match=match) as e:
        load_model(path, backend=backend)
    assert str(path) in str(e.value) and METADATA_KEY in str(e.value)


def test_the_binding_takes_plain_fields(model) -> None:
    # No JSON in C++: a raw engine runs without any contract; run_image needs the validated fields.
    eng = _native.Engine(str(model))
    assert eng.run(np.zeros((1, 3, 32, 32), np.float32)).shape == (1, 4)
    with pytest.raises(ValueError, match="no preprocessing set"):
        eng.run_image(np.zeros((8, 8, 3), np.uint8))
    eng.set_preprocessing(
        height=32,
        width=32,
        channels=3,
        color="rgb",
        resize="bilinear",
        scale=1 / 255,
        mean=[0.0, 0.0, 0.0],
        std=[1.0, 1.0, 1.0],
        channel_order="RGB",
    )
    assert eng.run_image(np.zeros((8, 8, 3), np.uint8)).shape == (4,)


# ---------------------------------------------------------------- threads: one rule per backend
@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_rule(model, backend) -> None:
    limit = _native.MAX_THREADS if backend == "native" else os.cpu_count()
    for bad in (-1, limit + 1, 1000, True, 1.5):
        with pytest.raises(ModelLoadError, match="threads must be"):
            load_model(model, backend=backend, threads=bad)
    assert load_model(model, backend=backend, threads=0).num_classes == 4  # 0 = the backend's default
    assert check_threads(backend, limit) == limit
    assert check_threads("native", 0) == 1


def test_native_thread_limit_is_the_engines(model) -> None:
    _native.Engine(str(model), _native.MAX_THREADS)
    with pytest.raises(ValueError, match="threads"):
        _native.Engine(str(model), _native.MAX_THREADS + 1)


def test_onnxruntime_workers_stop_spinning_when_a_run_returns(model) -> None:
    """At several threads the runtime's ONNX Runtime sessions hand the cores back between frames
    (ort_session); ORT's default spins its workers ~38 ms after every run, on this model too."""
    if (os.cpu_count() or 1) < 2 or running_threads() is None:
        pytest.skip("needs 2 CPUs and /proc/self/task")
    sess = ort_session(model, 2)
    x = {sess.get_inputs()[0].name: np.zeros((1, 3, 32, 32), np.float32)}
    waits = []
    for _ in range(5):
        sess.run(None, x)
        waits.append(wait_until_quiet(limit_s=1.0))
    assert sorted(waits)[2] < 0.01, waits


# ---------------------------------------------------------------- graphs
def _rename_input(proto) -> None:
    old = proto.graph.input[0].name
    proto.graph.input[0].name = "x"
    for n in proto.graph.node:
        for i, name in enumerate(n.input):
            if name == old:
                n.input[i] = "x"


def _set_dims(dims):
    def edit(proto) -> None:
        shape = proto.graph.input[0].type.tensor_type.shape
        for d, v in zip(shape.dim, dims):
            if v is not None:
                d.ClearField("dim_param")
                d.dim_value = v

    return edit


@pytest.mark.parametrize("backend", BACKENDS)
def test_input_must_be_named_image(tmp_path, model, backend) -> None:
    path = _variant(model, tmp_path / "x.onnx", edit=_rename_input)
    with pytest.raises(ModelLoadError, match=r"expected input 'image'.*found inputs \['x'\]"):
        load_model(path, backend=backend)


def test_declared_dimension_beyond_int32_is_refused_not_truncated(tmp_path, model) -> None:
    path = _variant(model, tmp_path / "wide.onnx", edit=_set_dims([None, None, 2**32 + 16, None]))
    with pytest.raises(ValueError, match=r"wide.onnx: malformed ONNX file: dimension 4294967312 is out of the int32"):
        _native.Engine(str(path))
    for backend in BACKENDS:
        with pytest.raises(ModelLoadError, match="wide.onnx"):
            load_model(path, backend=backend)


def test_huge_declared_input_is_a_named_error(tmp_path, model) -> None:
    path = _variant(model, tmp_path / "huge.onnx", edit=_set_dims([None, None, 100000, 100000]))
    with pytest.raises(
        ValueError, match=f"huge.onnx: input 'image' declares a dimension of 100000, more than the {MAX_INPUT_SIDE}"
    ):
        _native.Engine(str(path))
    assert _native.MAX_INPUT_SIDE == MAX_INPUT_SIDE
    for backend in BACKENDS:
        with pytest.raises(ModelLoadError, match="huge.onnx"):
            load_model(path, backend=backend)


def _nan_weight(proto) -> None:
    from onnx import numpy_helper

    t = next(t for t in proto.graph.initializer if t.data_type == 1 and len(t.dims) == 4)
    w = numpy_helper.to_array(t).copy()
    w.flat[5] = np.nan
    t.CopyFrom(numpy_helper.from_array(w, t.name))


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_weights_are_refused_at_load(tmp_path, model, backend) -> None:
    path = _variant(model, tmp_path / "nan.onnx", edit=_nan_weight)
    with pytest.raises(ModelLoadError, match="nan.onnx.*(non-finite|NaN)"):
        load_model(path, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_refused_by_both_backends(model, backend, value) -> None:
    m = load_model(model, backend=backend)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    x[1, 2, 3, 4] = value
    with pytest.raises(ValueError, match="m.onnx: run\\(\\) input holds a non-finite value"):
        m.run(x)
    assert np.isfinite(m.run(x[:1])).all()  # the finite image alone still runs


def test_evaluate_with_metadata_and_graph_disagreeing(tmp_path, model) -> None:
    from training.evaluate import evaluate_onnx

    path = _variant(model, tmp_path / "disagree.onnx", {"input_size": [40, 40]})
    imgs = np.zeros((3, 32, 32, 3), np.uint8)
    with pytest.raises(
        ValueError, match=r"disagree.onnx: input 'image' has shape .*the metadata says \[batch, 3, 40, 40\]"
    ):
        evaluate_onnx(path, imgs, np.zeros(3, np.int64))


# ---------------------------------------------------------------- training commands
def _cli(*argv: str) -> str:
    """Run `bluefire ARGV` in-process; returns the SystemExit message (the command must fail)."""
    from training.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(argv))
    return str(e.value.code)


def test_train_refuses_to_overwrite_a_run_without_resume(tmp_path) -> None:
    from training.train import TrainConfig
    from training.train_cli import fit

    out = tmp_path / "run"
    out.mkdir()
    (out / "best.pt").write_bytes(b"the finished run's best model")
    with pytest.raises(ValueError, match=r"run: a training run already exists here \(best.pt\); pass --resume"):
        fit(TrainConfig(data="digits", epochs=1, out=str(out)), show=False)
    assert (out / "best.pt").read_bytes() == b"the finished run's best model"
    msg = _cli("train", "--data", "digits", "--epochs", "1", "--out", str(out))
    assert "a training run already exists here" in msg


@pytest.mark.parametrize(
    "flag,value,match",
    [
        ("--lr", "inf", "lr: must be a finite number, got inf"),
        ("--lr", "nan", "lr: must be a finite number, got nan"),
        ("--label-smoothing", "2", r"label_smoothing: must be in \[0, 1\), got 2.0"),
        ("--threads", "-1", "threads: must be >= 0, got -1"),
        ("--weight-decay", "-1", "weight_decay: must be >= 0"),
        ("--val-fraction", "1.5", r"val_fraction: must be in \[0, 1\)"),
    ],
)
def test_train_refuses_bad_numbers_before_any_work(tmp_path, flag, value, match) -> None:
    msg = _cli("train", "--data", "digits", flag, value, "--out", str(tmp_path / "r"))
    assert msg.startswith("bluefire train: command line: ") and len(msg.splitlines()) == 1, msg
    assert __import__("re").search(match, msg), msg
    assert not (tmp_path / "r").exists()


def test_training_that_diverges_stops_with_an_error(tmp_path) -> None:
    from tests.fixtures_training import train_digits
    from training.train import TrainingDiverged

    with pytest.raises(
        TrainingDiverged, match=r"training diverged at epoch 1, step \d+: the training loss is (nan|inf)"
    ):
        train_digits(tmp_path / "run", lr=1e30, epochs=1)
    assert not (tmp_path / "run" / "checkpoint.pt").exists() and not (tmp_path / "run" / "best.pt").exists()


@pytest.fixture(scope="module")
def digits():
    from tests.fixtures_training import digits_checkpoint_and_onnx

    return digits_checkpoint_and_onnx()


def test_export_that_fails_its_check_leaves_the_destination(tmp_path, digits, monkeypatch) -> None:
    from training import export_cli

    dest = tmp_path / "model.onnx"
    dest.write_bytes(b"the model in service")

    def failing_parity(*a, **k):
        raise AssertionError(f"{a[1]}: ONNX Runtime differs from torch by 1 (> 1e-4)")

    monkeypatch.setattr(export_cli, "check_parity", failing_parity)
    with pytest.raises(AssertionError, match=f"{dest}: ONNX Runtime differs .*; {dest} was not written"):
        export_cli.export_checked(digits[0], dest, parity_images=0)
    assert dest.read_bytes() == b"the model in service"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"], "a temporary file was left behind"


def test_export_refuses_non_finite_weights(tmp_path, digits) -> None:
    import torch

    from training import checkpoint as ckpt_io
    from training.export import export_onnx
    from training.export_cli import export_checked

    ckpt = ckpt_io.load(digits[0])
    key = next(k for k, v in ckpt["model"].items() if v.ndim == 4)
    ckpt["model"][key] = ckpt["model"][key].clone()
    ckpt["model"][key].view(-1)[3] = float("nan")
    bad = tmp_path / "nan.pt"
    torch.save(ckpt, bad)
    with pytest.raises(ValueError, match=f"nan.pt: the weights hold NaN or Inf in 1 tensor\\(s\\) \\({key}\\)"):
        export_checked(bad, tmp_path / "nan.onnx", parity_images=0)
    model, prep = ckpt_io.model_from_checkpoint(ckpt)
    with pytest.raises(ValueError, match="NaN or Inf"):
        export_onnx(model, prep, tmp_path / "direct.onnx")
    assert not any(p.suffix in (".onnx", ".tmp") for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--threads", "-1"], "--threads must be 0 .* got -1"),
        (["--threads", "100000"], "--threads must be 0 .* got 100000"),
        (["--limit", "-5"], r"--limit must be >= 0 \(0 = all images\), got -5"),
        (["--png", "{tmp}/a_file/x.png"], "--png .*a_file is not a directory"),
        (["--json", "{tmp}"], "--json .*expected a file name, got a directory"),
        (["--val-fraction", "2"], r"--val-fraction must be in \[0, 1\)"),
    ],
)
def test_evaluate_checks_flags_before_any_work(tmp_path, argv, match) -> None:
    (tmp_path / "a_file").write_text("")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    # the model does not even exist: the flags are checked first
    msg = _cli("evaluate", str(tmp_path / "absent.onnx"), "--data", "digits", *argv)
    assert msg.startswith("bluefire evaluate: ") and len(msg.splitlines()) == 1, msg
    assert __import__("re").search(match, msg), msg


def test_export_checks_output_paths_before_any_work(tmp_path) -> None:
    (tmp_path / "a_file").write_text("")
    msg = _cli("export", str(tmp_path / "absent.pt"), "-o", str(tmp_path / "a_file" / "m.onnx"))
    assert "--output" in msg and "is not a directory" in msg, msg
    msg = _cli("export", str(tmp_path / "absent.pt"), "-o", str(tmp_path / "m.onnx"), "--json", str(tmp_path))
    assert "--json" in msg and "got a directory" in msg, msg


def test_evaluate_writes_its_files_before_printing(tmp_path, digits) -> None:
    # `| head -1` closes the pipe after the first line: the files asked for must exist all the same.
    j, png = tmp_path / "out" / "e.json", tmp_path / "out" / "c.png"
    cmd = (
        f"{sys.executable} -m training.cli evaluate {digits[1]} --data digits --limit 40 --json {j} --png {png}"
        f" | head -1"
    )
    p = subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.stdout.startswith("top-1 "), p.stdout + p.stderr
    assert json.loads(j.read_text())["n"] == 40 and png.stat().st_size > 0
    assert "Traceback" not in p.stderr, p.stderr


def test_one_version_string() -> None:
    # rtmaps_components/__init__.py is the one source: the package metadata and the C++ core read it.
    from importlib.metadata import version

    import rtmaps_components

    assert _native.version() == rtmaps_components.__version__ == version("bluefire")
    assert "0.1.0" not in (ROOT / "native" / "src" / "version.cpp").read_text()
    assert '\nversion = "' not in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("backend", BACKENDS)
def test_classifier_birth_names_file_and_field(tmp_path, backend) -> None:
    # The runtime component gets the same one-line ModelLoadError: reported in Birth, the run stops.
    import pipeline_fixtures as F

    from rtmaps_components.emulator import DiagramRunner

    bad = _variant(F.digits_model(), tmp_path / "m.onnx", {"input_size": [64]})
    shutil.copytree(F.DIAGRAMS / "data" / "fmnist_clip", tmp_path / "clip")
    eng = DiagramRunner(
        F.REPLAY,
        clock="sim",
        echo=False,
        overrides=F.replay_overrides(bad, tmp_path / "clip", tmp_path / "clip" / "labels.txt")
        + [f"Classifier.backend={backend}"],
    )
    rep = eng.run(max_wall_s=30)
    errors = [m["message"] for m in rep["messages"] if m["level"] == "error" and m["component"] == "Classifier"]
    assert len(errors) == 1 and "m.onnx: bad 'bluefire.preprocessing' field 'input_size'" in errors[0], errors
    assert rep["stop_reason"] == "birth_error" and rep["frames"] == 0


def test_run_checks_its_report_path_before_running(tmp_path, capsys) -> None:
    from rtmaps_components.emulator.cli import main as run_main
    from training.cli import build_parser

    (tmp_path / "a_file").write_text("")
    args = build_parser(load="run").parse_args(
        ["run", str(ROOT / "diagrams" / "classify_replay.rtd"), "--report", str(tmp_path / "a_file" / "r.json")]
    )
    assert run_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --report ") and "a_file is not a directory" in err and len(err.splitlines()) == 1


def test_bench_names_file_and_field(tmp_path, model, capsys) -> None:
    from training.cli import main

    _variant(model, tmp_path / "bad.onnx", {"input_size": 64})
    assert (
        main(
            [
                "bench",
                "--models-dir",
                str(tmp_path),
                "--no-builtin",
                "--runs",
                "1",
                "--warmup",
                "0",
                "--engines",
                "native,ort",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("bluefire bench: ") and "bad.onnx: bad 'bluefire.preprocessing' field 'input_size'" in err, (
        err
    )
