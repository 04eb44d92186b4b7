"""Components and backends: model loading errors, channel sequences, faults of the camera, latency meter."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pipeline_fixtures as F
import pytest

from rtmaps_components.backends import ModelLoadError, load_model, native_status
from rtmaps_components.emulator import DiagramRunner
from rtmaps_components.y4m import FULL_CB_TO_U, FULL_CR_TO_V

SEQ_SOURCE = """
import cv2
import numpy as np
import rtmaps.core as rt
import rtmaps.reading_policy
import rtmaps.types
from rtmaps.base_component import BaseComponent

CONVERT = {"RGB": cv2.COLOR_BGR2RGB, "BGRA": cv2.COLOR_BGR2BGRA, "RGBA": cv2.COLOR_BGR2RGBA, "GRAY": cv2.COLOR_BGR2GRAY,
           "YUV": cv2.COLOR_BGR2YUV}

class SeqSource(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
        self.force_reading_policy(rtmaps.reading_policy.SAMPLING)
    def Dynamic(self):
        self.add_output("image", rtmaps.types.IPL_IMAGE)
        self.add_property("frames", "")
        self.add_property("seq", "BGR")
    def Birth(self):
        self.frames = np.load(self.properties["frames"].data)
        self.seq = self.properties["seq"].data
        self.i = 0
    def Core(self):
        if self.i >= len(self.frames):
            return
        bgr = self.frames[self.i]
        out = rtmaps.types.Ioelt()
        out.data = rtmaps.types.IplImage()
        out.data.image_data = bgr if self.seq == "BGR" else cv2.cvtColor(bgr, CONVERT[self.seq])
        out.data.channel_seq = self.seq
        out.ts = rt.current_time()
        out.misc1 = self.i
        out.type = rt.DataTypes.CTypes.MiscFlag  # else misc1 does not travel (as in real RTMaps)
        self.outputs["image"].write(out)
        self.i += 1
"""


def classify_frames(tmp_path, frames_bgr: np.ndarray, seq: str, model, backend: str = "onnxruntime"):
    """Run SeqSource(seq) -> Classifier; returns (class indices by frame, engine, report)."""
    np.save(tmp_path / "frames.npy", frames_bgr)
    (tmp_path / "seq_source.py").write_text(SEQ_SOURCE)
    body = F.bridge(
        "Src", "seq_source.py", "SeqSource", period=1000, props={"frames": str(tmp_path / "frames.npy"), "seq": seq}
    ) + F.bridge(
        "Classifier",
        str(F.COMPONENTS / "classifier.py"),
        "Classifier",
        props={"model_file": str(model), "backend": backend},
    )
    d = F.write_rtd(tmp_path / f"seq_{seq}.rtd", body, [("Src.image", "Classifier.image")])
    got: dict[int, int] = {}

    def grab(engine, node):
        out = node.outputs["class_index"] if node.name == "Classifier" else None
        if out is not None and out.last is not None and out.last.misc1 not in got:
            got[out.last.misc1] = int(out.last.data)

    eng = DiagramRunner(d, clock="sim", echo=False)
    rep = eng.run(idle_stop_s=0.05, after_core=[grab])
    return [got.get(i) for i in range(len(frames_bgr))], eng, rep


def colour_frames(n: int = 12) -> np.ndarray:
    """Real digits images, tinted so that R, G and B differ (a BGR/RGB swap would change the gray)."""
    _, _, x, _ = F.digits_data()
    g = x[:n].astype(np.float32)
    bgr = np.stack([g * 0.2, g * 0.5, g * 1.0], axis=-1)
    return np.clip(bgr, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- backends
def test_load_model_errors_name_the_file(tmp_path):
    with pytest.raises(ModelLoadError, match="no such model file"):
        load_model(tmp_path / "nope.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(ModelLoadError, match=r"corrupt.onnx: not a readable ONNX model"):
        load_model(corrupt, backend="onnxruntime")
    import onnx

    proto = onnx.load(str(F.digits_model()))
    del proto.metadata_props[:]
    plain = tmp_path / "plain.onnx"
    onnx.save(proto, str(plain))
    with pytest.raises(ModelLoadError, match=r"plain.onnx: no 'bluefire.arch' metadata"):
        load_model(plain, backend="onnxruntime")
    with pytest.raises(ModelLoadError, match="backend must be one of"):
        load_model(F.digits_model(), backend="tensorrt")


def test_onnxruntime_backend_matches_direct_session():
    import onnxruntime as ort

    m = load_model(F.digits_model(), backend="onnxruntime")
    _, _, x, _ = F.digits_data()
    inp = np.concatenate([m.prep.apply(img, "GRAY") for img in x[:16]])
    sess = ort.InferenceSession(str(F.digits_model()), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(m.run(inp), sess.run(["logits"], {"image": inp})[0], rtol=1e-5, atol=1e-6)
    assert m.backend == "onnxruntime" and m.num_classes == 10


def test_native_backend_agrees_with_onnxruntime():
    F.native_or_skip()
    nat = load_model(F.digits_model(), backend="native")
    ort_ = load_model(F.digits_model(), backend="onnxruntime")
    _, _, x, _ = F.digits_data()
    inp = np.concatenate([ort_.prep.apply(img, "GRAY") for img in x[:64]])
    a, b = nat.run(inp), ort_.run(inp)
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)
    assert (a.argmax(1) == b.argmax(1)).all()


def test_auto_backend_prefers_native():
    m = load_model(F.digits_model(), backend="auto")
    assert m.backend == ("native" if native_status()[0] else "onnxruntime")


# ---------------------------------------------------------------- classifier
def test_classifier_honours_channel_seq(tmp_path):
    frames = colour_frames()
    model = F.digits_model()
    direct = load_model(model, backend="onnxruntime")
    expect = [int(direct.classify(f, "BGR").argmax()) for f in frames]
    for seq in ("BGR", "RGB", "BGRA", "RGBA"):
        got, _, rep = classify_frames(tmp_path, frames, seq, model)
        assert got == expect, seq
        assert rep["components"]["Classifier"]["exceptions"] == 0
    # A GRAY frame is the luma the model would compute itself
    got, _, _ = classify_frames(tmp_path, frames, "GRAY", model)
    assert got == expect


def test_classifier_takes_yuv_444_as_the_bgr_frame(tmp_path):
    """YUV was refused before issue 12; now converted exactly (refusals: test_rtmaps_fidelity)."""
    frames = colour_frames(12)
    direct = load_model(F.digits_model(), backend="onnxruntime")
    got, eng, rep = classify_frames(tmp_path, frames, "YUV", F.digits_model())
    assert got == [int(direct.classify(f, "BGR").argmax()) for f in frames]
    assert eng.nodes["Classifier"].obj.refused == 0 and rep["components"]["Classifier"]["exceptions"] == 0


def test_corrupt_model_is_one_clear_error_and_the_run_stops(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not an onnx file")
    shutil.copytree(F.DIAGRAMS / "data" / "fmnist_clip", tmp_path / "clip")
    eng = DiagramRunner(
        F.REPLAY,
        clock="sim",
        echo=False,
        overrides=F.replay_overrides(bad, tmp_path / "clip", tmp_path / "clip" / "labels.txt"),
    )
    rep = eng.run(max_wall_s=30)
    errors = [m for m in rep["messages"] if m["level"] == "error" and m["component"] == "Classifier"]
    assert len(errors) == 1 and "model.onnx: not a readable ONNX model" in errors[0]["message"]
    assert rep["stop_reason"] == "birth_error" and rep["frames"] == 0
    assert rep["components"]["Classifier"]["exceptions"] == 0


# ---------------------------------------------------------------- camera faults
def test_undecodable_frames_are_skipped_and_counted(tmp_path):
    _, _, x, y = F.digits_data()
    folder = F.write_labelled_folder(tmp_path / "clip", x[:30], y[:30])
    for k in (3, 10, 11):
        (folder / f"{k:06d}.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    eng = DiagramRunner(
        F.REPLAY, clock="sim", echo=False, overrides=F.replay_overrides(F.digits_model(), folder, folder / "labels.txt")
    )
    rep = eng.run(max_wall_s=60)
    cam = eng.nodes["Camera"].obj
    assert cam.bad_frames == 3 and cam.emitted == 27
    assert rep["components"]["Classifier"]["inputs"]["image"]["received"] == 27
    acc = eng.nodes["Accuracy"].obj
    assert acc.total == 27  # misc1 keeps each frame's own label across the gaps
    assert rep["stop_reason"] == "idle" and rep["exceptions"] == 0
    assert any("cannot be decoded" in m["message"] for m in rep["messages"] if m["level"] == "warning")


def test_folder_entries_that_are_not_regular_files_are_skipped_without_blocking(tmp_path):
    # a FIFO named like a frame would block a plain open() forever (no writer); a directory cannot be read
    import os

    _, _, x, y = F.digits_data()
    folder = F.write_labelled_folder(tmp_path / "clip", x[:12], y[:12])
    (folder / "000004.png").unlink()
    os.mkfifo(folder / "000004.png")
    (folder / "000007.png").unlink()
    (folder / "000007.png").mkdir()
    eng = DiagramRunner(
        F.REPLAY, clock="sim", echo=False, overrides=F.replay_overrides(F.digits_model(), folder, folder / "labels.txt")
    )
    rep = eng.run(max_wall_s=60)
    cam = eng.nodes["Camera"].obj
    assert cam.bad_frames == 2 and cam.emitted == 10
    assert rep["stop_reason"] == "idle" and rep["exceptions"] == 0
    warned = [m["message"] for m in rep["messages"] if m["level"] == "warning"]
    assert any("000004.png is not a regular file" in m for m in warned)


def test_read_regular_file_checks_the_opened_file(tmp_path):
    from rtmaps_components.image_files import read_regular_file

    f = tmp_path / "a.png"
    f.write_bytes(b"x" * 100)
    assert read_regular_file(str(f), 100) == b"x" * 100
    with pytest.raises(ValueError, match="is over 99 bytes"):
        read_regular_file(str(f), 99)
    with pytest.raises(ValueError, match="not a regular file"):
        read_regular_file(str(tmp_path), 100)
    with pytest.raises(FileNotFoundError):
        read_regular_file(str(tmp_path / "missing.png"), 100)


def test_stream_that_vanishes_mid_run_reconnects_with_backoff_then_idles(tmp_path):
    src = tmp_path / "cam.mp4"
    shutil.copy(F.clip("carphone_pristine.mp4"), src)

    def vanish(engine, node):
        if node.name == "Camera" and node.cores == 10 and src.exists():
            src.unlink()

    eng = DiagramRunner(
        F.REPLAY,
        clock="sim",
        echo=False,
        overrides=F.replay_overrides(F.digits_model(), src, kind="stream", period_us=20000),
    )
    rep = eng.run(idle_stop_s=3.0, max_wall_s=60, after_core=[vanish])
    cam = eng.nodes["Camera"].obj
    assert rep["stop_reason"] == "idle" and rep["exceptions"] == 0
    assert 10 <= cam.emitted <= 120
    assert 3 <= cam.reconnects <= 6  # back-off 0.2, 0.4, 0.8, 1.6 s... within the 3 s idle window
    assert any("retrying in" in m["message"] for m in rep["messages"] if m["level"] == "warning")


def test_missing_replay_file_is_an_error(tmp_path):
    rep = DiagramRunner(
        F.REPLAY,
        clock="sim",
        echo=False,
        overrides=F.replay_overrides(F.digits_model(), tmp_path / "gone.mp4", kind="file"),
    ).run(max_wall_s=30)
    assert rep["stop_reason"] == "birth_error"
    assert any("does not exist" in m["message"] for m in rep["messages"] if m["component"] == "Camera")


# ---------------------------------------------------------------- camera: raw .y4m recordings
def replay_y4m(source, model, *extra: str, frames: int | None = None, backend: str = "onnxruntime"):
    """The replay diagram on `source`; (engine, report, the camera's frames by misc1, top-1 by misc1)."""
    delivered: dict[int, tuple[str, str, np.ndarray]] = {}
    top1: dict[int, int] = {}

    def grab(engine, node):
        if node.name == "Camera":
            out = node.outputs["image"]
            if out.last is not None:
                img = out.last.data
                delivered.setdefault(out.last.misc1, (img.channel_seq, img.color_model, img.image_data))
        elif node.name == "Classifier" and node.outputs["class_index"].last is not None:
            last = node.outputs["class_index"].last
            top1.setdefault(last.misc1, int(last.data))

    eng = DiagramRunner(
        F.REPLAY,
        clock="sim",
        echo=False,
        overrides=F.replay_overrides(model, source, backend=backend) + list(extra),
    )
    rep = eng.run(frames=frames, max_wall_s=120, after_core=[grab])
    return eng, rep, delivered, top1


def write_y4m(path, frames, chroma):
    from rtmaps_components.y4m import Y4mWriter

    with Y4mWriter(path, frames[0].shape[1], frames[0].shape[0], chroma) as w:
        for f in frames:
            w.write(f)
    return path


@pytest.mark.parametrize("read_ahead", ["0", "3"])
def test_camera_replays_y4m_as_raw_gray_and_i420_frames(tmp_path, read_ahead):
    frames = colour_frames(12)
    model = F.digits_model()
    direct = load_model(model, backend="onnxruntime")
    for chroma, seq, colour_model, convert in (
        ("mono", "GRAY", "MONO", cv2.COLOR_BGR2GRAY),
        ("420", "I420", "YUV", cv2.COLOR_BGR2YUV_I420),
        ("444", "YUV", "YUV", cv2.COLOR_BGR2YCrCb),  # stored as YCbCr, delivered with OpenCV's YUV chroma
    ):
        path = write_y4m(tmp_path / f"clip_{chroma}.Y4M", frames, chroma)  # the suffix in any case
        eng, rep, got, top1 = replay_y4m(path, model, f"Camera.read_ahead={read_ahead}")
        cam = eng.nodes["Camera"].obj
        assert rep["stop_reason"] == "idle" and rep["exceptions"] == 0 and cam.emitted == 12, chroma
        assert sorted(got) == list(range(12))
        for k, bgr in enumerate(frames):
            s, m, img = got[k]
            want = cv2.cvtColor(bgr, convert)
            if chroma == "444":
                want = np.stack([want[:, :, 0], FULL_CB_TO_U[want[:, :, 2]], FULL_CR_TO_V[want[:, :, 1]]], 2)
            assert (s, m) == (seq, colour_model) and np.array_equal(img, want), (chroma, k)
        # the classifier takes the raw layout as it is: same top-1 as the BGR frames
        assert [top1[k] for k in range(12)] == [int(direct.classify(f, "BGR").argmax()) for f in frames], chroma
        assert eng.nodes["Classifier"].obj.refused == 0


def test_shipped_y4m_classifies_every_frame_as_the_png_folder():
    """diagrams/data/fmnist_clip.y4m, the shipped model, the replay diagram: frame for frame the folder's top-1,
    and the accuracy meter scores it (same clip id, same labels.txt)."""
    model = F.REPO / "models" / "squeezenet1_1_fmnist_pruned.onnx"
    labels = [f"Accuracy.labels_file={F.DIAGRAMS / 'data' / 'fmnist_clip' / 'labels.txt'}"]
    runs = [replay_y4m(F.DIAGRAMS / "data" / name, model, *labels) for name in ("fmnist_clip", "fmnist_clip.y4m")]
    (_, _, png_frames, png_top1), (eng, rep, y4m_frames, y4m_top1) = runs
    assert len(png_top1) == 200 and y4m_top1 == png_top1
    assert all(y4m_frames[k][0] == "GRAY" and y4m_frames[k][2].shape == (28, 28) for k in range(200))
    assert all(np.array_equal(y4m_frames[k][2], png_frames[k][2][:, :, 0]) for k in range(200))
    acc = eng.nodes["Accuracy"].obj
    assert acc.total == 200 and acc.correct == runs[0][0].nodes["Accuracy"].obj.correct


def test_y4m_truncated_frame_is_skipped_and_counted_and_loop_rewinds(tmp_path):
    frames = colour_frames(5)
    path = write_y4m(tmp_path / "clip.y4m", frames, "420")
    path.write_bytes(path.read_bytes()[:-20])  # the last frame cut short, as a killed recorder leaves it
    eng, rep, got, _ = replay_y4m(path, F.digits_model())
    cam = eng.nodes["Camera"].obj
    assert (cam.emitted, cam.bad_frames) == (4, 1) and sorted(got) == [0, 1, 2, 3]
    assert rep["stop_reason"] == "idle" and rep["exceptions"] == 0
    warned = [m["message"] for m in rep["messages"] if m["level"] == "warning"]
    assert any("skipping frame 4" in m and "clip.y4m frame 4: truncated" in m for m in warned), warned
    eng, rep, got, _ = replay_y4m(path, F.digits_model(), "Camera.loop=true", frames=10)
    cam = eng.nodes["Camera"].obj
    assert rep["stop_reason"] == "frames" and cam.emitted == 10 and cam.bad_frames == 2
    assert sorted(got) == [0, 1, 2, 3]  # misc1 restarts at 0 after each rewind


@pytest.mark.parametrize(
    "header, field",
    [(b"YUV4MPEG2 W8 H8 Cmono16\n", "tag 'C' is 'mono16'"), (b"YUV4MPEG2 H8 Cmono\n", "no tag 'W'")],
)
def test_malformed_y4m_header_is_an_error_at_birth(tmp_path, header, field):
    (tmp_path / "clip.y4m").write_bytes(header + b"FRAME\n" + bytes(128))
    eng, rep, got, _ = replay_y4m(tmp_path / "clip.y4m", F.digits_model())
    errors = [m["message"] for m in rep["messages"] if m["level"] == "error" and m["component"] == "Camera"]
    assert rep["stop_reason"] == "birth_error" and not got
    assert len(errors) == 1 and "camera: cannot replay the recording:" in errors[0] and field in errors[0]
    assert str(tmp_path / "clip.y4m") in errors[0]


def test_y4m_width_and_height_are_not_applied_to_yuv_frames(tmp_path):
    path = write_y4m(tmp_path / "clip.y4m", colour_frames(3), "420")
    eng, rep, got, _ = replay_y4m(path, F.digits_model(), "Camera.width=16", "Camera.height=16")
    assert all(img.shape == (12, 8) for _, _, img in got.values()) and eng.nodes["Camera"].obj.emitted == 3
    assert any("width/height are not applied to I420 frames" in m["message"] for m in rep["messages"])
    gray = write_y4m(tmp_path / "gray.y4m", colour_frames(3), "mono")
    _, _, got, _ = replay_y4m(gray, F.digits_model(), "Camera.width=16", "Camera.height=16")
    assert all(img.shape == (16, 16) for _, _, img in got.values())


# ---------------------------------------------------------------- latency meter
def test_latency_meter_csv_misses_and_slow_consumer_drops(tmp_path):
    _, _, x, y = F.digits_data()
    folder = F.write_labelled_folder(tmp_path / "clip", x[:60], y[:60])
    csv = tmp_path / "lat.csv"
    overrides = F.replay_overrides(F.digits_model(), folder, period_us=5000) + [
        f"Latency.csv_file={csv}",
        "Latency.deadline_us=8000",
        "Latency.report_period_us=0",  # stats on every sample: the last one counts them all
        "Camera.image.fifosize=2",
    ]
    eng = DiagramRunner(F.REPLAY, clock="sim", overrides=overrides, core_cost_us={"Classifier": 8000}, echo=False)
    rep = eng.run(max_wall_s=60)
    image_in = rep["components"]["Classifier"]["inputs"]["image"]
    assert image_in["fifo_size"] == 2 and image_in["dropped"] > 0
    assert image_in["dropped"] + rep["components"]["Classifier"]["cores"] == 60
    rows = csv.read_text().splitlines()
    assert rows[0] == "ts_us,arrival_us,latency_us,frame" and len(rows) == 1 + rep["components"]["Classifier"]["cores"]
    lat = np.array([int(r.split(",")[2]) for r in rows[1:]])
    assert lat.max() > 8000 and lat.max() <= 3 * 8000  # queueing behind a slow classifier, bounded by the FIFO
    meter = eng.nodes["Latency"].obj
    assert meter.misses == int((lat > 8000).sum()) > 0
    stats = rep["components"]["Latency"]["outputs"]["stats"]["last"]
    assert stats[5] == meter.misses and stats[6] == len(lat)
    assert any(m["message"].startswith("latency meter:") for m in rep["messages"] if m["component"] == "Latency")


def test_latency_meter_reports_at_most_once_per_period_and_counts_every_sample(tmp_path):
    """Frames every 5 ms, reports every 20 ms: stats and text on samples 0, 4, 8, ...; every sample counted."""
    _, _, x, y = F.digits_data()
    folder = F.write_labelled_folder(tmp_path / "clip", x[:40], y[:40])
    overrides = F.replay_overrides(F.digits_model(), folder, period_us=5000) + ["Latency.report_period_us=20000"]
    eng = DiagramRunner(F.REPLAY, clock="sim", overrides=overrides, echo=False)
    rep = eng.run(max_wall_s=60)
    outs = rep["components"]["Latency"]["outputs"]
    assert rep["components"]["Latency"]["cores"] == 40
    assert outs["stats"]["written"] == outs["text"]["written"] == 10
    assert outs["stats"]["last"][6] == 37  # the count at the last report: sample 36, 0-based
    assert eng.nodes["Latency"].obj.hist.n == 40
    assert any("latency meter: 40 samples" in m["message"] for m in rep["messages"] if m["component"] == "Latency")


def test_slow_consumer_keeps_memory_flat(tmp_path):
    _, _, x, y = F.digits_data()
    folder = F.write_labelled_folder(tmp_path / "clip", x[:20], y[:20])
    rss: dict[int, int] = {}

    def sample(engine, node):
        if node.name == "Camera" and node.cores in (500, 3000):
            rss[node.cores] = F.rss_bytes()

    overrides = F.replay_overrides(F.digits_model(), folder, period_us=5000) + [
        "Camera.loop=true",
        "Camera.image.fifosize=3",
    ]
    eng = DiagramRunner(F.REPLAY, clock="sim", overrides=overrides, core_cost_us={"Classifier": 8000}, echo=False)
    rep = eng.run(frames=3000, max_wall_s=90, after_core=[sample])
    image_in = rep["components"]["Classifier"]["inputs"]["image"]
    assert rep["stop_reason"] == "frames" and image_in["dropped"] > 1000 and image_in["fifo_high_water"] == 3
    assert rss[3000] - rss[500] < 4 * 1024 * 1024, f"RSS grew {(rss[3000] - rss[500]) / 2**20:.1f} MiB"


def test_every_classifier_output_carries_the_frame_timestamp(tmp_path):
    frames = colour_frames(4)
    np.save(tmp_path / "frames.npy", frames)
    (tmp_path / "seq_source.py").write_text(SEQ_SOURCE)
    body = F.bridge(
        "Src", "seq_source.py", "SeqSource", period=1000, props={"frames": str(tmp_path / "frames.npy")}
    ) + F.bridge(
        "Classifier",
        str(F.COMPONENTS / "classifier.py"),
        "Classifier",
        props={"model_file": str(F.digits_model()), "annotate": "true", "top_k": "3"},
    )
    seen = []

    def grab(engine, node):
        if node.name == "Classifier":
            seen.append({n: (o.last.ts, o.last.misc1) for n, o in node.outputs.items()})

    eng = DiagramRunner(
        F.write_rtd(tmp_path / "ts.rtd", body, [("Src.image", "Classifier.image")]), clock="sim", echo=False
    )
    eng.clock.wait_until(123_456)  # start at a time that is not 0
    eng.run(idle_stop_s=0.01, after_core=[grab])
    assert len(seen) == 4
    for k, outs in enumerate(seen):
        assert set(outs) == {"class_index", "label", "scores", "topk", "annotated"}
        assert len(set(outs.values())) == 1 and outs["class_index"][1] == k
    last = eng.nodes["Classifier"].outputs
    assert last["scores"].buffer_size == 10 and len(last["topk"].last.data) == 3
    assert last["annotated"].last.data.image_data.shape == frames[0].shape


def test_single_plane_gray_model_on_both_backends(tmp_path):
    """A gray model exported with one input plane loads on each backend and classifies a frame as the
    three-plane export of the same network does (the classifier feeds what the metadata asks for)."""
    import torch

    from rtmaps_components.preprocess import Preprocessing
    from training.export import export_onnx
    from training.model import SqueezeNet

    torch.manual_seed(1)
    model = SqueezeNet("squeezenet1_1", 3).eval()
    prep = Preprocessing((40, 40), ("x", "y", "z"), color="gray", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    paths = {n: export_onnx(model, prep, tmp_path / f"p{n}.onnx", planes=n) for n in (1, 3)}
    frame = np.random.default_rng(0).integers(0, 256, (60, 50, 3), dtype=np.uint8)
    backends = ["onnxruntime"] + (["native"] if native_status()[0] else [])
    ref = load_model(paths[3], backend="onnxruntime").classify(frame, "BGR")
    for b in backends:
        m = load_model(paths[1], backend=b)
        assert m.prep.channels == 1
        np.testing.assert_allclose(m.classify(frame, "BGR"), ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ModelLoadError, match=r"the metadata says \[batch, 3, 40, 40\]"):
        import onnx

        proto = onnx.load(str(paths[1]))
        for p in proto.metadata_props:
            if p.key == "bluefire.preprocessing":
                p.value = Preprocessing((40, 40), ("x", "y", "z"), color="gray", mean=prep.mean, std=prep.std).to_json()
        onnx.save(proto, str(tmp_path / "lies.onnx"))
        load_model(tmp_path / "lies.onnx", backend="onnxruntime")
