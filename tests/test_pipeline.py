"""The replay diagram end to end: real recorded clips, accuracy through the pipeline, soak, CLI, bench."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pipeline_fixtures as F
import pytest

from rtmaps_components.backends import load_model
from rtmaps_components.emulator import DiagramRunner


def replay(source, model, backend: str = "onnxruntime", labels="", kind: str = "auto", **run_kw):
    """Run the shipped replay diagram on `source`; returns (per-frame records, engine, report)."""
    frames: list[tuple[int, int, int]] = []  # (misc1, ts, class index) as the classifier wrote them

    def grab(engine, node):
        if node.name == "Classifier":
            last = node.outputs["class_index"].last
            if last is not None and (not frames or frames[-1][:2] != (last.misc1, last.ts)):
                frames.append((int(last.misc1), int(last.ts), int(last.data)))

    eng = DiagramRunner(
        F.REPLAY,
        clock="sim",
        echo=False,
        overrides=F.replay_overrides(model, source, labels, kind=kind, backend=backend),
    )
    rep = eng.run(max_wall_s=120, after_core=[grab], **run_kw)
    return frames, eng, rep


def frame_count(path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


@pytest.mark.parametrize("name", ["bikes.mp4", "carphone_pristine.mp4"])
def test_replay_real_clip_every_frame_classified(name):
    path = F.clip(name)
    n = frame_count(path)
    frames, eng, rep = replay(path, F.digits_model())
    assert n > 100 and len(frames) == n, f"{name}: {len(frames)} of {n} frames classified"
    assert [f[0] for f in frames] == list(range(n))  # misc1 = frame number, passed through the classifier
    ts = np.array([f[1] for f in frames])
    assert (np.diff(ts) > 0).all()  # capture timestamps strictly increase
    assert rep["stop_reason"] == "idle" and rep["exceptions"] == 0 and rep["dropped"] == 0
    assert eng.nodes["Latency"].obj.hist.n == n  # the latency meter saw every frame
    # and reported at most once per report_period_us, each report reaching its viewer
    text = rep["components"]["Latency"]["outputs"]["text"]["written"]
    assert 1 <= text < n and rep["components"]["LatencyView"]["latency"]["count"] == text
    _ORT_TOP1[name] = [f[2] for f in frames]


_ORT_TOP1: dict[str, list[int]] = {}


@pytest.mark.parametrize("name", ["bikes.mp4", "carphone_pristine.mp4"])
def test_native_and_onnxruntime_agree_on_every_frame(name):
    F.native_or_skip()
    path = F.clip(name)
    if name not in _ORT_TOP1:
        _ORT_TOP1[name] = [f[2] for f in replay(path, F.digits_model())[0]]
    native, eng, _ = replay(path, F.digits_model(), backend="native")
    assert eng.nodes["Classifier"].obj.model.backend == "native"
    assert len(native) == len(_ORT_TOP1[name])
    diff = [i for i, (a, b) in enumerate(zip(native, _ORT_TOP1[name])) if a[2] != b]
    assert not diff, f"{name}: native and ONNX Runtime top-1 differ on frames {diff[:10]}"


def test_accuracy_through_pipeline_equals_direct_evaluation(tmp_path):
    from training.evaluate import evaluate_onnx

    _, _, x, y = F.digits_data()
    folder = F.write_labelled_folder(tmp_path / "digits", x, y)
    model = F.digits_model()
    direct = evaluate_onnx(model, x[..., None], y, channel_seq="GRAY")
    runtime = _runtime_top1(model, x[..., None], y)
    frames, eng, rep = replay(folder, model, labels=folder / "labels.txt")
    acc = eng.nodes["Accuracy"].obj
    assert len(frames) == len(y) == acc.total
    assert acc.correct / acc.total == pytest.approx(runtime, abs=1e-12)
    assert direct["top1"] > 0.2  # the model learned something: a BGR/RGB, resize or scale slip would show
    preds = np.array([f[2] for f in sorted(frames)])
    assert (preds == y).mean() == pytest.approx(runtime, abs=1e-12)
    _close_to_training_preprocessing(runtime, direct["top1"], len(y))


def test_shipped_clip_with_shipped_model():
    """`make demo`: the shipped model on the shipped labelled Fashion-MNIST clip, same accuracy as direct."""
    model = F.REPO / "models" / "squeezenet1_1_fmnist_pruned.onnx"
    if not model.is_file():
        pytest.skip(f"{model} is not shipped yet")
    from training.evaluate import evaluate_onnx

    clip = F.DIAGRAMS / "data" / "fmnist_clip"
    labels = np.array([int(v) for v in (clip / "labels.txt").read_text().split("\n") if v and not v.startswith("#")])
    imgs = np.stack([cv2.imread(str(clip / f"{k:06d}.png"), cv2.IMREAD_GRAYSCALE) for k in range(len(labels))])
    direct = evaluate_onnx(model, imgs[..., None], labels, channel_seq="GRAY")
    runtime = _runtime_top1(model, imgs[..., None], labels)
    eng = DiagramRunner(F.REPLAY, clock="sim", echo=False, overrides=["Classifier.backend=onnxruntime"])  # as evaluate
    rep = eng.run(max_wall_s=120)
    acc = eng.nodes["Accuracy"].obj
    assert acc.total == len(labels) and rep["exceptions"] == 0
    assert acc.correct / acc.total == pytest.approx(runtime, abs=1e-12)
    _close_to_training_preprocessing(runtime, direct["top1"], len(labels))


def _runtime_top1(model, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 of frames classified one by one as the Classifier does (`classify_frame`, ONNX Runtime): with
    the native module built, the native preprocessing, the same bytes on every ISA."""
    m = load_model(model, backend="onnxruntime")
    return float(np.mean([int(m.classify_frame(img, "GRAY").argmax()) == y for img, y in zip(images, labels)]))


def _close_to_training_preprocessing(runtime: float, direct: float, n: int) -> None:
    """evaluate_onnx preprocesses with OpenCV (Preprocessing.apply, as training); the runtime's native resize
    is within one level of it (of OpenCV's x86 build; its aarch64 build rounds differently), so a near-tie
    frame may flip: at most 2 % of the frames."""
    assert abs(runtime - direct) * n <= max(1, 0.02 * n), f"runtime top-1 {runtime} vs evaluate_onnx {direct}"


def test_soak_10000_frames_keeps_memory_flat(tmp_path):
    _, _, x, y = F.digits_data()
    folder = F.write_labelled_folder(tmp_path / "loop", x[:25], y[:25])
    rss: dict[str, int] = {}

    def sample(engine, node):
        if node.name == "Latency" and node.cores in (2000, 10000):
            rss[str(node.cores)] = F.rss_bytes()

    eng = DiagramRunner(
        F.REPLAY,
        clock="sim",
        echo=False,
        overrides=F.replay_overrides(F.digits_model(), folder, folder / "labels.txt") + ["Camera.loop=true"],
    )
    rep = eng.run(frames=10000, max_wall_s=150, after_core=[sample])
    assert rep["stop_reason"] == "frames" and rep["frames"] == 10000
    assert rep["components"]["Latency"]["cores"] == 10000 and rep["exceptions"] == 0
    growth = rss["10000"] - rss["2000"]
    assert growth < 8 * 1024 * 1024, f"RSS grew by {growth / 2**20:.1f} MiB over 8000 frames"
    assert eng.nodes["Accuracy"].obj.total == 10000  # looping keeps each frame's own label


def test_cli_runs_without_torch_and_writes_the_report(tmp_path):
    _, _, x, y = F.digits_data()
    folder = F.write_labelled_folder(tmp_path / "clip", x[:40], y[:40])
    report = tmp_path / "out" / "report.json"
    sets = [a for s in F.replay_overrides(F.digits_model(), folder, folder / "labels.txt") for a in ("--set", s)]
    code = "import sys; sys.modules['torch'] = None; from training.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run(
        [sys.executable, "-c", code, "run", str(F.REPLAY), *sets, "--clock", "sim", "--quiet", "--report", str(report)],
        cwd=F.REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "accuracy through the pipeline" in r.stdout and "latency" in r.stdout
    rep = json.loads(report.read_text())
    assert rep["summary"]["accuracy"]["total"] == 40 and rep["frames"] == 40


def test_cli_refuses_malformed_diagram(tmp_path):
    bad = tmp_path / "bad.rtd"
    bad.write_text("<RTMapsDiagram><Component")
    import argparse

    from rtmaps_components.emulator.cli import add_arguments, main

    p = argparse.ArgumentParser()
    add_arguments(p)
    assert main(p.parse_args([str(bad), "--quiet"])) == 2


def test_pipeline_bench_reports_overhead():
    from rtmaps_components.emulator.pipeline_bench import format_pipeline_bench, run_pipeline_bench

    r = run_pipeline_bench(F.digits_model(), frames=40, backend="onnxruntime", warmup=5)
    assert r["frames"] == 45 and r["exceptions"] == 0
    assert r["pipeline_fps"] > 0 and 0 < r["raw_infer_us"] <= r["raw_preprocess_infer_us"] * 1.5
    assert r["overhead_us"] == pytest.approx(r["pipeline_frame_us"] - r["raw_infer_us"])
    # the components' own cost (what a vehicle pays) and the emulator's scheduling add up to the overhead
    assert r["components_beyond_inference_us"] + r["emulator_us"] == pytest.approx(r["overhead_us"])
    assert set(r["components_core_p50_us"]) >= {"Camera", "Classifier", "Latency", "Accuracy"}
    text = format_pipeline_bench(r)
    assert "overhead of components + emulator" in text and "components beyond inference" in text
    assert "emulator: scheduling" in text


def test_vehicle_camera_diagram_runs_on_a_recorded_stream(tmp_path):
    """classify_camera.rtd as shipped (annotated image to an ImageViewer), with the camera on a file."""
    path = F.clip("carphone_pristine.mp4")
    sets = [
        f"Classifier.model_file={F.digits_model()}",
        "Classifier.backend=onnxruntime",
        f"Camera.source={path}",
        "Camera.source_kind=file",
    ]
    eng = DiagramRunner(F.CAMERA, clock="sim", overrides=sets, save_dir=str(tmp_path / "frames"), echo=False)
    rep = eng.run(frames=20, max_wall_s=60)
    view = rep["components"]["ImageView"]
    assert rep["stop_reason"] == "frames" and rep["exceptions"] == 0
    assert view["received"] == 20 and view["last_image_shape"] == [144, 176, 3]
    saved = sorted((tmp_path / "frames" / "ImageView").glob("*.png"))
    assert len(saved) == 20 and cv2.imread(str(saved[0])).shape == (144, 176, 3)
    assert (
        rep["components"]["LatencyView"]["received"] == rep["components"]["Latency"]["outputs"]["text"]["written"] >= 1
    )
    # the annotated output exists only because the diagram sets annotate=true: without it the
    # connection to ImageView names a port the classifier no longer declares
    from rtmaps_components.emulator import DiagramError

    with pytest.raises(DiagramError, match="lists output 'annotated', which Classifier does not declare"):
        DiagramRunner(F.CAMERA, clock="sim", overrides=sets + ["Classifier.annotate=false"], echo=False).load()
