"""The lean per-frame path: native softmax/top-k head, O(1) latency statistics, camera read-ahead.

Each optimisation is checked against the plain version it replaced: same outputs, same order, same
warnings; the speed itself is measured by `bluefire bench --pipeline`, not here.
"""

from __future__ import annotations

import math

import numpy as np
import pipeline_fixtures as F
import pytest

from rtmaps_components.emulator import DiagramRunner
from rtmaps_components.latency_stats import LatencyHistogram, RollingWindow


def _native():
    F.native_or_skip()
    from rtmaps_components import _native

    return _native


@pytest.mark.parametrize("n,k", [(1, 1), (10, 1), (10, 5), (10, 10), (1000, 5), (1000, 64)])
def test_native_head_matches_numpy(n, k):
    native = _native()
    rng = np.random.default_rng(n + k)
    for trial in range(20):
        logits = (rng.standard_normal(n) * 5).astype(np.float32)
        if n > 3 and trial % 2:
            logits[[1, 2, n - 1]] = logits[0]  # exact ties: the lower index first, as a stable argsort
        probs, top = np.empty(n, np.float32), np.empty(k, np.int32)
        best = native.softmax_topk(logits, probs, top)
        e = np.exp(logits.astype(np.float64) - logits.max())
        np.testing.assert_allclose(probs, e / e.sum(), rtol=1e-5, atol=1e-7)
        want = np.argsort(-probs, kind="stable")[:k]
        assert top.tolist() == want.tolist() and best == want[0]


def test_native_head_refuses_bad_buffers():
    native = _native()
    logits, probs, top = np.zeros(10, np.float32), np.empty(10, np.float32), np.empty(3, np.int32)
    bad = [
        (logits.astype(np.float64), probs, top, "logits must be"),
        (logits, np.empty(9, np.float32), top, "probs must be"),
        (logits, np.empty(20, np.float32)[::2], top, "probs must be"),
        (logits, probs, np.empty(3, np.int64), "topk must be"),
        (logits, probs, np.empty(11, np.int32), "topk must hold 1 to 10"),
        (logits, probs, np.empty(0, np.int32), "topk must hold 1 to 10"),
        (np.zeros((2, 5), np.float32), probs, top, "logits must be a 1-D"),
        (np.array([0, np.nan] + [0] * 8, np.float32), probs, top, "non-finite"),
    ]
    ro = np.empty(10, np.float32)
    ro.flags.writeable = False
    bad.append((logits, ro, top, "writable"))
    for lg, p, t, msg in bad:
        with pytest.raises(ValueError, match=msg):
            native.softmax_topk(lg, p, t)


def test_classifier_head_without_the_native_module_gives_the_same(monkeypatch):
    from rtmaps_components.emulator.sdk_loader import sdk_modules

    with sdk_modules():
        from rtmaps_components import classifier

        rng = np.random.default_rng(3)
        logits = rng.standard_normal(10).astype(np.float32)
        logits[4] = logits[7]
        p1, t1 = np.empty(10, np.float32), np.empty(5, np.int32)
        b1 = classifier.softmax_topk(logits, p1, t1)
        monkeypatch.setattr(classifier, "_native_head", None)
        p2, t2 = np.empty(10, np.float32), np.empty(5, np.int32)
        b2 = classifier.softmax_topk(logits, p2, t2)
    assert b1 == b2 and t1.tolist() == t2.tolist()
    np.testing.assert_allclose(p1, p2, rtol=1e-6)


def test_rolling_window_equals_sorting_the_window():
    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 300):
        w = RollingWindow(size)
        seen: list[float] = []
        for i in range(3 * size + 5):
            lat = float(rng.integers(0, 50)) if i % 3 else float(rng.exponential(1000))  # ties and spread
            w.add(1000 * i, lat)
            seen.append(lat)
            s = np.sort(seen[-size:])
            k = len(s)
            want = [s[min(k - 1, max(0, math.ceil(q / 100 * k) - 1))] for q in (50, 95, 99)]
            assert w.percentiles() == want and w.max() == s[-1]


def test_histogram_percentiles_within_a_bin_and_nan_as_zero():
    h = LatencyHistogram()
    vals = np.random.default_rng(1).lognormal(6, 1, 5000)
    for v in vals:
        h.add(v)
    h.add(-5)
    h.add(float("nan"))
    assert h.n == 5002 and h.min == 0.0
    for q in (50, 95, 99):
        exact = np.percentile(np.concatenate([vals, [0, 0]]), q, method="inverted_cdf")
        assert exact <= h.percentile(q) <= exact * 1.0102


def _camera_run(folder, read_ahead: int, loop: bool = False, frames: int | None = None):
    """The replay diagram with the camera's read_ahead set; (frame indices the classifier saw, run report)."""
    over = F.replay_overrides(F.digits_model(), folder, folder / "labels.txt") + [f"Camera.read_ahead={read_ahead}"]
    if loop:
        over.append("Camera.loop=true")
    eng = DiagramRunner(F.REPLAY, clock="sim", echo=False, overrides=over)
    order: list[int] = []

    def grab(engine, node):
        out = node.outputs["image"] if node.name == "Camera" else None
        if out is not None and out.written > len(order):  # a frame was written by this Core
            order.append(int(out.last.misc1))

    rep = eng.run(max_wall_s=60, frames=frames, after_core=[grab])
    return order, rep, eng.nodes["Camera"].obj


def test_read_ahead_gives_the_same_frames_warnings_and_counts(tmp_path):
    _, _, x, y = F.digits_data()
    folder = F.write_labelled_folder(tmp_path / "clip", x[:25], y[:25])
    for k in (0, 7, 8, 24):  # broken first, two in a row, and last
        (folder / f"{k:06d}.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    runs = {n: _camera_run(folder, n) for n in (0, 1, 4)}
    order0, rep0, cam0 = runs[0]
    assert cam0.bad_frames == 4 and cam0.emitted == 21 and cam0.reads == 0
    warn = [m["message"] for m in rep0["messages"] if m["level"] == "warning"]
    for n in (1, 4):
        order, rep, cam = runs[n]
        assert order == order0 and (cam.bad_frames, cam.emitted) == (4, 21)
        assert [m["message"] for m in rep["messages"] if m["level"] == "warning"] == warn
        assert cam.reads == 26  # 25 files and the end
        assert rep["stop_reason"] == rep0["stop_reason"] == "idle" and rep["exceptions"] == 0


def test_read_ahead_loops_and_stops_cleanly_mid_clip(tmp_path):
    _, _, x, y = F.digits_data()
    folder = F.write_labelled_folder(tmp_path / "clip", x[:6], y[:6])
    order, rep, cam = _camera_run(folder, 3, loop=True, frames=15)
    assert order == [0, 1, 2, 3, 4, 5] * 2 + [0, 1, 2]
    assert rep["stop_reason"] == "frames" and cam.src is None  # Death released the thread, blocked on a full queue
    assert any("read ahead on a thread" in m["message"] for m in rep["messages"] if m["level"] == "info")


def test_run_image_fills_out_and_one_engine_is_safe_across_threads():
    """run_image(out=...) fills the caller's buffer; and an Engine shared by threads (the GIL is released
    while it runs) gives every thread the sequential answer: the engine serialises calls (without its run
    lock this test fails)."""
    import threading

    import cv2

    F.native_or_skip()
    from rtmaps_components.backends import load_model

    m = load_model(F.REPO / "models" / "squeezenet1_1_fmnist_pruned.onnx", backend="native", threads=1)
    frames = [cv2.imread(str(p)) for p in sorted((F.REPO / "diagrams" / "data" / "fmnist_clip").glob("*.png"))[:16]]
    want = [m._impl.run_image(f, "BGR") for f in frames]
    out = np.empty(m.num_classes, np.float32)
    assert m.classify_frame(frames[3], "BGR", out=out) is out and np.array_equal(out, want[3])
    for bad in (np.empty(m.num_classes + 1, np.float32), np.empty(m.num_classes, np.float64)):
        with pytest.raises(ValueError, match="out must be a writeable float32"):
            m._impl.run_image(frames[0], "BGR", bad)
    wrong: list[int] = []

    def worker(k: int) -> None:
        for r in range(400):
            i = (k * 7 + r) % len(frames)
            if not np.array_equal(m._impl.run_image(frames[i], "BGR"), want[i]):
                wrong.append(i)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
