"""Pipeline benchmark: the replay diagram on the host beside the raw inference time of the same model.

`run_pipeline_bench` runs `diagrams/classify_replay.rtd` in the emulator on the real clock, as
fast as the components go (samplingPeriod 1 µs, the clip looped), and times the same backend on
the same frames without the diagram. per-frame time minus raw inference = what the components
and the emulator cost per frame. It is split in two: the components' own cost beyond inference
(the median Core times of the PythonBridge components less the time spent inside the emulator's
`write`: camera read and decode; classifier Core beyond inference: preprocessing, softmax, top-k;
the meters), which is what a vehicle pays, and the emulator's cost (scheduling, and the checks,
copies and fan-out of its `write`, which RTMaps does in C++).
Times are medians (means are reported too): on a shared machine, preemptions by other processes
land in the mean and say nothing about the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..backends import load_model
from ..frame_sources import FolderSource
from ..preprocess import frame_to_rgb8
from ..y4m import Y4mReader
from .engine import DiagramRunner

REPO = Path(__file__).resolve().parents[2]
REPLAY_DIAGRAM = REPO / "diagrams" / "classify_replay.rtd"
DEFAULT_CLIP = REPO / "diagrams" / "data" / "fmnist_clip"
DEFAULT_MODEL = REPO / "models" / "squeezenet1_1_fmnist_pruned.onnx"


def _clip_frames(clip: Path, n: int) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """Up to `n` frames of a folder, video or .y4m recording: (as BGR, as the camera delivers them, their
    channel_seq). A .y4m gives its raw frames (GRAY, I420, ...), converted to BGR the way the classifier
    converts them; a folder or video is BGR both ways."""
    if clip.suffix.lower() == ".y4m":
        reader = Y4mReader(clip, fresh=True)
        raw: list[np.ndarray] = []
        try:
            while len(raw) < n:
                status, img, _ = reader.read()
                if status == "end":
                    break
                if status == "frame":
                    raw.append(img)
        finally:
            reader.release()
        if not raw:
            raise ValueError(f"{clip}: no readable frames")
        seq = reader.channel_seq
        return [cv2.cvtColor(frame_to_rgb8(img, seq), cv2.COLOR_RGB2BGR) for img in raw], raw, seq
    frames: list[np.ndarray] = []
    if clip.is_dir():
        src = FolderSource(str(clip))  # the camera's own folder reader: the same files, order and decoding
        while len(frames) < n:
            status, img, _ = src.read()
            if status == "end":
                break
            if status == "frame":
                frames.append(img)
    else:
        cap = cv2.VideoCapture(str(clip))
        while len(frames) < n:
            ok, img = cap.read()
            if not ok:
                break
            frames.append(img)
        cap.release()
    if not frames:
        raise ValueError(f"{clip}: no readable frames")
    return frames, frames, "BGR"


def _times_us(fn: Any, items: list, repeats: int) -> np.ndarray:
    times = []
    for _ in range(repeats):
        for it in items:
            t0 = time.perf_counter_ns()
            fn(it)
            times.append((time.perf_counter_ns() - t0) / 1000)
    return np.asarray(times)


def run_pipeline_bench(
    model: str | Path = DEFAULT_MODEL,
    clip: str | Path = DEFAULT_CLIP,
    frames: int = 300,
    backend: str = "auto",
    threads: int = 1,
    diagram: str | Path = REPLAY_DIAGRAM,
    warmup: int = 20,
    overrides: Sequence[str] = (),
) -> dict:
    """fps and latency p50/p99 of the replay diagram, raw inference time, and the per-frame overhead (µs, %)."""
    model, clip = Path(model), Path(clip)
    kind = "folder" if clip.is_dir() else "file"
    overrides = [
        f"Classifier.model_file={model}",
        f"Classifier.backend={backend}",
        f"Classifier.threads={threads}",
        f"Camera.source={clip}",
        f"Camera.source_kind={kind}",
        "Camera.loop=true",
        "Camera.samplingPeriod=1",
        "Accuracy.labels_file=",
        *overrides,  # the caller's last: they win
    ]
    engine = DiagramRunner(diagram, clock="real", overrides=overrides, echo=False)
    sent: list[int] = []

    def on_core(eng: DiagramRunner, node: Any) -> None:
        if node.name == "Camera" and len(sent) < eng.source_frames:
            sent.append(eng.last_source_write_us)

    report = engine.run(frames=frames + warmup, idle_stop_s=5.0, max_wall_s=300, after_core=[on_core])
    if report["stop_reason"] != "frames":
        errors = [m["message"] for m in report["messages"] if m["level"] == "error"]
        raise RuntimeError(f"pipeline bench: the diagram stopped early ({report['stop_reason']}): {errors[:3]}")
    # end-to-end latency of every frame: the meter's whole-run histogram (its outputs are periodic)
    meter = engine.nodes["Latency"].obj.hist.summary()
    # frame time = interval between frames sent back to back (the camera ticks as soon as the chain
    # is done); the median, like the raw timings, so another process' preemptions don't count
    intervals = np.diff(np.asarray(sent[warmup:], np.float64))
    frame_us = float(np.median(intervals))

    loaded = load_model(str(model), backend=backend, threads=threads)
    imgs, delivered, seq = _clip_frames(clip, 64)
    xs = [loaded.prep.apply(img, "BGR") for img in imgs]
    for x in xs[:warmup]:
        loaded.run(x)
    repeats = max(1, frames // len(xs))
    infer = _times_us(loaded.run, xs, repeats)
    prep_infer = _times_us(lambda img: loaded.classify(img, "BGR"), imgs, repeats)
    frame_call = _times_us(lambda img: loaded.classify_frame(img, seq), delivered, repeats)
    infer_us, prep_infer_us = float(np.median(infer)), float(np.median(prep_infer))
    overhead = frame_us - infer_us
    # a component's own time: its Core minus the emulator's write() (checks, copy, fan-out) inside it
    cores = {
        n: c["own_time"].get("p50_us") or 0.0 for n, c in report["components"].items() if c["model"] == "PythonBridge"
    }
    components_us = sum(cores.values())
    # the camera's decoding, off the frame path on its read-ahead thread (0 when it reads in Core)
    cam = getattr(engine.nodes.get("Camera"), "obj", None)
    reads = getattr(cam, "reads", 0)
    read_ahead_us = cam.read_ns / 1e3 / reads if reads else 0.0
    # the camera Core's own source read: a replay's file read and image decode, which a live camera's
    # driver does instead (RTMaps delivers its frames decoded); the median, like the Core times
    read_times = getattr(cam, "read_times", None)
    camera_read_us = read_times.percentile(50) if read_times is not None and read_times.n else 0.0
    beyond = components_us - infer_us
    return {
        "model": str(model),
        "backend": loaded.backend,
        "threads": threads,
        "clip": str(clip),
        "overrides": list(overrides),
        "input_size": list(loaded.prep.input_size),
        "frames": report["frames"],
        "pipeline_fps": 1e6 / frame_us,
        "pipeline_frame_us": frame_us,
        "pipeline_frame_mean_us": float(intervals.mean()),
        "raw_infer_mean_us": float(infer.mean()),
        "latency_p50_us": meter["p50_us"],
        "latency_p99_us": meter["p99_us"],
        "raw_infer_us": infer_us,
        "raw_preprocess_infer_us": prep_infer_us,
        "overhead_us": overhead,
        "overhead_pct": 100.0 * overhead / frame_us,
        "frame_call_us": float(np.median(frame_call)),
        "frame_channel_seq": seq,
        "components_core_p50_us": {n: c["core_time"].get("p50_us") for n, c in report["components"].items()},
        "components_own_p50_us": cores,
        "classifier_beyond_inference_us": cores.get("Classifier", 0.0) - infer_us,
        "components_beyond_inference_us": beyond,
        "components_beyond_inference_pct": 100.0 * beyond / frame_us,
        # the same against a frame without the emulator's share (RTMaps schedules and copies in C++)
        "components_beyond_inference_pct_of_components": 100.0 * beyond / components_us,
        "camera_read_ahead_us": read_ahead_us,
        "camera_source_read_us": camera_read_us,
        "components_beyond_inference_without_source_read_us": beyond - camera_read_us,
        "components_beyond_inference_without_source_read_pct": 100.0 * (beyond - camera_read_us) / frame_us,
        "emulator_us": frame_us - components_us,
        "emulator_pct": 100.0 * (frame_us - components_us) / frame_us,
        "dropped": report["dropped"],
        "exceptions": report["exceptions"],
    }


def format_pipeline_bench(r: dict) -> str:
    """A small table for the terminal."""
    rows = [
        (
            "pipeline (replay diagram, host emulator)",
            f"{r['pipeline_fps']:.1f} fps",
            f"{r['pipeline_frame_us']:.0f} us/frame",
            f"p50 {r['latency_p50_us']:.0f} us  p99 {r['latency_p99_us']:.0f} us",
        ),
        (
            "raw inference (same model, same backend)",
            f"{1e6 / r['raw_infer_us']:.1f} fps",
            f"{r['raw_infer_us']:.0f} us/frame",
            "",
        ),
        (
            "preprocess + inference",
            f"{1e6 / r['raw_preprocess_infer_us']:.1f} fps",
            f"{r['raw_preprocess_infer_us']:.0f} us/frame",
            "",
        ),
        (
            f"one native call on the {r.get('frame_channel_seq', 'BGR')} frame"
            if r["backend"] == "native"
            else "classify_frame (native preprocessing)",
            f"{1e6 / r['frame_call_us']:.1f} fps",
            f"{r['frame_call_us']:.0f} us/frame",
            "",
        ),
        (
            "overhead of components + emulator",
            "",
            f"{r['overhead_us']:.0f} us/frame",
            f"{r['overhead_pct']:.1f} % of the frame time",
        ),
        (
            "  components beyond inference (vehicle)",
            "",
            f"{r['components_beyond_inference_us']:.0f} us/frame",
            f"{r['components_beyond_inference_pct']:.1f} % of the frame time, "
            f"{r['components_beyond_inference_pct_of_components']:.1f} % of the components' own",
        ),
        *(
            [
                (
                    "    of which the camera's file read + decode",
                    "",
                    f"{r['camera_source_read_us']:.0f} us/frame",
                    "replay only (a live camera delivers decoded frames); without it "
                    f"{r['components_beyond_inference_without_source_read_pct']:.1f} % of the frame time",
                )
            ]
            if r.get("camera_source_read_us")
            else []
        ),
        (
            "  emulator: scheduling and write() (host only)",
            "",
            f"{r['emulator_us']:.0f} us/frame",
            f"{r['emulator_pct']:.1f} % of the frame time",
        ),
    ]
    if r.get("camera_read_ahead_us"):
        rows.append(
            (
                "  camera decoding on its read-ahead thread",
                "",
                f"{r['camera_read_ahead_us']:.0f} us/frame",
                "off the frame path (another core)",
            )
        )
    cores = ", ".join(f"{n} {v:.0f}" for n, v in r["components_core_p50_us"].items() if v)
    own = ", ".join(f"{n} {v:.0f}" for n, v in r["components_own_p50_us"].items() if v)
    rows.append(("median Core time per component (us)", "", "", cores))
    rows.append(("  of which the component's own (us)", "", "", own))
    head = f"{r['backend']}, {r['threads']} thread(s), input {r['input_size'][0]}x{r['input_size'][1]}, {r['frames']} frames"
    return head + "\n" + "\n".join(f"  {a:<42} {b:>12} {c:>16}  {d}" for a, b, c, d in rows)
