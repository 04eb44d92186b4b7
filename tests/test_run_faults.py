"""Fault behaviour of `bluefire run`, the emulator and the camera (issue 15): nothing lost, nothing silently wrong,
no bare tracebacks, bounded resources. Each test failed before its fix."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
import zlib

import cv2
import pipeline_fixtures as F
import pytest

from rtmaps_components.emulator import DiagramError, DiagramRunner, load_rtd

BLUEFIRE = [sys.executable, "-m", "training.cli"]


def run_cli(args, timeout=300, **kw):
    return subprocess.run(
        BLUEFIRE + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=F.REPO, **kw
    )


# ---------------------------------------------------------------- diagram files
def test_dev_zero_and_directories_are_refused_before_reading(tmp_path):
    with pytest.raises(DiagramError, match="not a regular file"):
        load_rtd("/dev/zero")
    with pytest.raises(DiagramError, match="not a regular file"):
        load_rtd(tmp_path)
    fifo = tmp_path / "pipe.rtd"
    os.mkfifo(fifo)  # opening it would block until a writer came
    with pytest.raises(DiagramError, match="not a regular file"):
        load_rtd(fifo)
    with pytest.raises(DiagramError, match="cannot read the diagram"):
        load_rtd(tmp_path / "missing.rtd")
    big = tmp_path / "big.rtd"
    with open(big, "wb") as f:
        f.truncate(17 * 1024 * 1024)  # sparse: the size is refused from the file's metadata
    with pytest.raises(DiagramError, match="too large"):
        load_rtd(big)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_dtd_is_refused_whatever_the_encoding(tmp_path, encoding):
    text = (
        f'<?xml version="1.0" encoding="{encoding.upper()}"?>\n'
        '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        f'<RTMapsDiagram {F.NS}><Component InstanceName="&b;" Model="X"/></RTMapsDiagram>'
    )
    p = tmp_path / "bomb.rtd"
    data = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        data = ("\ufeff" + text).encode(encoding)  # with its byte order mark, as editors write it
    p.write_bytes(data)
    with pytest.raises(DiagramError, match="DTD"):
        load_rtd(p)


# ---------------------------------------------------------------- one-line errors before any work
@pytest.mark.parametrize(
    "override, match",
    [
        ("Camera.image.fifosize=inf", "fifosize: expected a finite integer"),
        ("Camera.samplingPeriod=1e999", "samplingPeriod: expected a finite integer"),
        ("Camera.image.fifosize=nan", "fifosize: expected a finite integer"),
        ("Classifier.image.readerType=3", "readerType 3 is not emulated"),
    ],
)
def test_bad_numbers_in_a_diagram_are_one_line_errors(override, match):
    with pytest.raises(DiagramError, match=match):
        DiagramRunner(F.REPLAY, clock="sim", overrides=[override], echo=False).load()


@pytest.mark.parametrize(
    "flags, match",
    [
        (["--duration", "nan"], "--duration must be a finite number"),
        (["--duration", "-1"], "--duration must be a finite number"),
        (["--idle-stop", "inf"], "--idle-stop must be a finite number"),
        (["--set", "Camera.image.fifosize=inf"], "fifosize: expected a finite integer"),
    ],
)
def test_bad_flags_are_one_line_errors_before_any_work(flags, match):
    r = run_cli(["run", F.REPLAY, *flags])
    assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stdout == ""


def test_bad_report_path_is_refused_before_the_run(tmp_path):
    (tmp_path / "file").write_text("x")
    r = run_cli(["run", F.REPLAY, "--report", tmp_path / "file" / "r.json"])
    assert r.returncode == 2 and "--report" in r.stderr and r.stdout == ""


# ---------------------------------------------------------------- component faults
FAULTY = """
import sys
import rtmaps.core as rt
import rtmaps.reading_policy
import rtmaps.types
from rtmaps.base_component import BaseComponent
{top}

class Faulty(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
        self.force_reading_policy(rtmaps.reading_policy.SAMPLING)
    def Dynamic(self):
        self.add_output("out", rtmaps.types.INTEGER32)
    def Birth(self):
        {birth}
    def Core(self):
        {core}
        self.outputs["out"].write(1)
    def Death(self):
        print("DEATH RAN", file=sys.stderr)
"""


def faulty(tmp_path, top="", birth="pass", core="pass"):
    (tmp_path / "f.py").write_text(FAULTY.format(top=top, birth=birth, core=core))
    return F.write_rtd(tmp_path / "f.rtd", F.bridge("A", "f.py", "Faulty", period=1000))


def test_a_run_with_component_exceptions_exits_non_zero(tmp_path):
    r = run_cli(
        [
            "run",
            faulty(tmp_path, core="raise RuntimeError('every frame')"),
            "--clock",
            "sim",
            "--duration",
            "0.03",
            "--quiet",
        ]
    )
    assert r.returncode == 1 and "30 component exception(s)" in r.stdout, (r.stdout, r.stderr)
    ok = run_cli(["run", faulty(tmp_path), "--clock", "sim", "--frames", "30", "--quiet"])
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("where", ["import", "birth", "core"])
def test_sys_exit_in_a_component_is_that_components_error(tmp_path, where):
    kw = {"import": {"top": "sys.exit(7)"}, "birth": {"birth": "sys.exit(7)"}, "core": {"core": "sys.exit(7)"}}[where]
    r = run_cli(["run", faulty(tmp_path, **kw), "--clock", "sim", "--frames", "5", "--quiet"])
    assert "sys.exit(7)" in r.stdout + r.stderr and "Traceback" not in r.stderr, r.stderr
    if where == "import":
        assert r.returncode == 2 and "failed to import" in r.stderr
    else:
        assert r.returncode == 1 and "stopped:" in r.stdout and "DEATH RAN" in r.stderr  # summary and Death done


def test_sigterm_stops_like_ctrl_c_with_death_summary_report_and_csv(tmp_path):
    csv, report = tmp_path / "lat.csv", tmp_path / "r.json"
    p = subprocess.Popen(
        BLUEFIRE
        + [
            "run",
            str(F.REPLAY),
            "--set",
            "Camera.loop=true",
            "--set",
            f"Latency.csv_file={csv}",
            "--report",
            str(report),
        ],
        cwd=F.REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not csv.is_file():  # created in the latency meter's Birth
            time.sleep(0.2)
        time.sleep(2.0)  # frames flowing
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "stopped: terminated" in out and report.is_file()
    lines = csv.read_text().splitlines()
    assert len(lines) > 10 and lines[0].startswith("ts_us")  # flushed and closed by Death
    assert "latency meter:" in err  # Death's summary line


# ---------------------------------------------------------------- camera files
def _camera_run(tmp_path, source, kind="auto", extra=(), frames=None):
    d = DiagramRunner(
        F.REPLAY,
        clock="sim",
        echo=False,
        overrides=F.replay_overrides(F.digits_model(), source, "", kind) + list(extra),
    )
    return d.run(frames=frames, idle_stop_s=0.5, max_wall_s=60)


def _png_header_only(path, w, h):
    """A small, valid-looking PNG that declares w x h pixels (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\x00" * 4096)
    data += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    path.write_bytes(data + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def test_truncated_and_oversized_images_in_a_folder_are_skipped_and_counted(tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    _, _, x, _ = F.digits_data()
    for k in range(6):
        assert cv2.imwrite(str(folder / f"{k:06d}.jpg"), cv2.resize(x[k], (64, 64)))
    whole = (folder / "000002.jpg").read_bytes()
    (folder / "000002.jpg").write_bytes(whole[: len(whole) * 2 // 3])  # truncated: cv2.imread decodes it partly
    assert cv2.imread(str(folder / "000002.jpg")) is not None
    _png_header_only(folder / "000004.png", 20000, 20000)
    rep = _camera_run(tmp_path, folder)
    cam = rep["components"]["Camera"]
    assert rep["frames"] == 5 and rep["exceptions"] == 0  # 6 jpg + 1 png, two refused
    msgs = " ".join(m["message"] for m in rep["messages"])
    assert "truncated JPEG" in msgs and "2 undecodable" in msgs  # the second warning is rate-limited, counted
    assert cam["outputs"]["image"]["written"] == 5
    (folder / "000002.jpg").unlink()
    rep = _camera_run(tmp_path, folder)
    msgs = " ".join(m["message"] for m in rep["messages"])
    assert rep["frames"] == 5 and "declares 20000x20000 pixels, over max_pixels" in msgs


@pytest.mark.parametrize("content", [b"", os.urandom(4096), None])
def test_unreadable_video_file_is_an_error_not_a_reconnect_loop(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    if content is None:  # a real clip cut short: header kept, frames gone
        whole = F.clip("bikes.mp4").read_bytes()
        content = whole[:2048]
    bad.write_bytes(content)
    t0 = time.perf_counter()
    rep = _camera_run(tmp_path, bad)
    assert rep["stop_reason"] in ("birth_error", "idle") and rep["frames"] == 0
    assert any(m["level"] == "error" and "bad.mp4" in m["message"] for m in rep["messages"]), rep["messages"]
    assert not any("retrying" in m["message"] for m in rep["messages"])
    assert time.perf_counter() - t0 < 30


def test_video_frames_over_max_pixels_are_refused_before_decoding(tmp_path):
    rep = _camera_run(tmp_path, F.clip("bikes.mp4"), extra=["Camera.max_pixels=1000"])
    assert rep["frames"] == 0 and rep["stop_reason"] == "birth_error"
    assert any("over max_pixels 1000" in m["message"] for m in rep["messages"])


# ---------------------------------------------------------------- slow consumer on the real clock
SLOW = """
import time
import rtmaps.types
from rtmaps.base_component import BaseComponent

class Slow(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
    def Dynamic(self):
        self.add_input("a", rtmaps.types.ANY)
    def Core(self):
        time.sleep(0.02)
"""


def test_real_clock_slow_consumer_reports_that_the_produced_rate_fell(tmp_path):
    from rtmaps_components.emulator.summary import format_summary, summarize

    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "f.py").write_text(FAULTY.format(top="", birth="pass", core="pass"))
    body = F.bridge("A", "f.py", "Faulty", period=5000) + F.bridge("S", "slow.py", "Slow")
    rep = DiagramRunner(F.write_rtd(tmp_path / "s.rtd", body, [("A.out", "S.a")]), clock="real", echo=False).run(
        duration_s=0.6, idle_stop_s=0
    )
    fell = rep["rate_fell"]["A"]
    assert fell["ticks_missed"] > fell["ticks"] and fell["achieved_hz"] < 0.5 * fell["asked_hz"]
    assert rep["dropped"] == 0  # not frames dropped: frames not produced, and the summary says so
    assert "rate fell: A produced" in format_summary(summarize(rep))
