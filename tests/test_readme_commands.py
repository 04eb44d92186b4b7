"""Every `bluefire run` command that README.md and diagrams/README.md show runs, as shown (issue 12).

Only what cannot exist on a test machine is replaced: `clip.mp4` by a recorded clip, the IP camera's
URL by a local HTTP server that serves that clip, `models/mine.onnx` by a test model, output paths by
temporary ones.
"""

from __future__ import annotations

import http.server
import re
import shlex
import subprocess
import sys
import threading
import time

import cv2
import pipeline_fixtures as F
import pytest

READMES = [F.REPO / "README.md", F.DIAGRAMS / "README.md", F.COMPONENTS / "README.md"]
CAMERA_URL = "http://192.168.0.90/mjpg/video.mjpg"


def readme_run_commands() -> list[tuple[str, str]]:
    out = []
    for path in READMES:
        in_block = False
        for line in path.read_text().splitlines():
            if line.strip().startswith("```"):
                in_block = not in_block
                continue
            if in_block and line.strip().startswith("bluefire run "):
                out.append((path.name, line.strip()))
    return out


class _MjpegCamera(http.server.BaseHTTPRequestHandler):
    """An IP camera's MJPEG stream (multipart/x-mixed-replace, as an AXIS camera serves /mjpg/video.mjpg)."""

    frames: list[bytes] = []

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            for k in range(600):
                jpg = self.frames[k % len(self.frames)]
                self.wfile.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(jpg)).encode()
                    + b"\r\n\r\n"
                    + jpg
                    + b"\r\n"
                )
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def clip_server():
    cap = cv2.VideoCapture(str(F.clip("bikes.mp4")))
    frames = []
    while len(frames) < 30:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", img)[1].tobytes())
    cap.release()
    _MjpegCamera.frames = frames
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MjpegCamera)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/mjpg/video.mjpg"
    srv.shutdown()


def test_the_readmes_show_run_commands():
    cmds = readme_run_commands()
    assert len(cmds) >= 5
    assert any("Camera.source=clip.mp4" in c for _, c in cmds) and any(CAMERA_URL in c for _, c in cmds)


@pytest.mark.parametrize("where, command", readme_run_commands())
def test_readme_run_command(where, command, tmp_path, clip_server):
    text = (
        command.replace("clip.mp4", str(F.clip("bikes.mp4")))
        .replace(CAMERA_URL, clip_server)
        .replace("models/mine.onnx", str(F.digits_model()))
        .replace("out/", f"{tmp_path}/")
    )
    args = shlex.split(text)
    assert args[:2] == ["bluefire", "run"]
    r = subprocess.run(
        [sys.executable, "-m", "training.cli", *args[1:]], cwd=F.REPO, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, (command, r.stdout[-2000:], r.stderr[-3000:])
    assert "Traceback" not in r.stderr and "stopped:" in r.stdout
    frames = int(re.search(r"(\d+) frame\(s\) from sources", r.stdout).group(1))
    assert frames > 0, r.stdout
    labelled = "classify_replay" in command and "clip.mp4" not in command and "labels_file=" not in command
    if labelled:
        assert "accuracy through the pipeline" in r.stdout
    else:  # another clip than the labelled one: no accuracy, and the meter says why when it has labels
        assert "accuracy through the pipeline" not in r.stdout
        if "labels_file=" not in command and "Camera.source=clip.mp4" in command:
            assert "come from another clip" in r.stderr
