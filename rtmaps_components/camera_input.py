"""RTMaps PythonBridge component: frames from a camera, a video file, an image folder or a stream URL.

Output `image`: IPL_IMAGE, interleaved 8-bit BGR, `ts` = capture time (`rt.current_time()`, µs),
`misc1` = the frame's index in its source (position in a file or folder; frames since start for
a device or stream). Paced by the bridge's Sampling policy (`samplingPeriod`).
A failed read on a device or stream is a warning and a reconnect with exponential back-off;
an undecodable file in a folder is a warning and is skipped; the end of a file or folder stops
the output, or rewinds when `loop` is set.
"""
import os

import cv2
import numpy as np

import rtmaps.core as rt
import rtmaps.reading_policy
import rtmaps.types
from rtmaps.base_component import BaseComponent

from rtmaps_components.rate_limit import RateLimitedReporter

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
KINDS = ("auto", "device", "file", "folder", "stream")


def detect_kind(source):
    """auto-detect what a `source` string names."""
    if source.strip().isdigit():
        return "device"
    if "://" in source:
        return "stream"
    if os.path.isdir(source):
        return "folder"
    return "file"


class _FolderSource:
    """Sorted image files of a folder, read one by one."""

    def __init__(self, folder):
        self.files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_SUFFIXES))
        self.folder = folder
        self.pos = 0

    def read(self):
        """('frame', img, index) | ('bad', reason, index) | ('end', None, None)."""
        if self.pos >= len(self.files):
            return "end", None, None
        i, self.pos = self.pos, self.pos + 1
        path = os.path.join(self.folder, self.files[i])
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            reason = "is missing" if not os.path.exists(path) else "cannot be decoded"
            return "bad", f"{path} {reason}", i
        return "frame", img, i

    def rewind(self):
        self.pos = 0

    def release(self):
        pass


class _CaptureSource:
    """cv2.VideoCapture on a device index, a file or a URL."""

    def __init__(self, source, kind, width, height, fps, timeout_ms):
        if kind == "device":
            self.cap = cv2.VideoCapture(int(source))
        elif kind == "stream":  # a network camera must not block the component for FFmpeg's default 30 s
            self.cap = cv2.VideoCapture(source, cv2.CAP_ANY, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms,
                                                              cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms])
        else:
            self.cap = cv2.VideoCapture(source)
        if kind in ("device", "stream"):
            if width > 0 and height > 0:
                self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if fps > 0:
                self.cap.set(cv2.CAP_PROP_FPS, fps)
        self.pos = 0

    def opened(self):
        return self.cap.isOpened()

    def read(self):
        ok, img = self.cap.read()
        if not ok or img is None:
            return "end", None, None
        i, self.pos = self.pos, self.pos + 1
        return "frame", img, i

    def rewind(self):
        self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self.pos = 0

    def release(self):
        self.cap.release()


class CameraInput(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
        self.force_reading_policy(rtmaps.reading_policy.SAMPLING)

    def Dynamic(self):
        self.add_output("image", rtmaps.types.IPL_IMAGE)
        self.add_property("source", "0")  # device index, video file, image folder or stream URL
        self.add_property("source_kind", "5|0|auto|device|file|folder|stream", rtmaps.types.ENUM)
        self.add_property("width", 0)  # requested size; 0 keeps the source's own
        self.add_property("height", 0)
        self.add_property("fps", 0.0)  # requested capture rate of a device or stream; 0 = its default
        self.add_property("loop", False)  # rewind files and folders at their end
        self.add_property("reconnect_min_us", 200000)  # first back-off after a failure
        self.add_property("reconnect_max_us", 5000000)  # back-off doubles up to this
        self.add_property("timeout_ms", 2000)  # open/read timeout of a stream URL

    def Birth(self):
        self.source = str(self.properties["source"].data)
        kind = self.properties["source_kind"].get_selected_value()
        self.kind = detect_kind(self.source) if kind == "auto" else kind
        self.width = int(self.properties["width"].data)
        self.height = int(self.properties["height"].data)
        self.fps = float(self.properties["fps"].data)
        self.loop = bool(self.properties["loop"].data)
        self.backoff_min = max(1, int(self.properties["reconnect_min_us"].data))
        self.backoff_max = max(self.backoff_min, int(self.properties["reconnect_max_us"].data))
        self.timeout_ms = max(1, int(self.properties["timeout_ms"].data))
        self.backoff = self.backoff_min
        self.retry_at = 0
        self.done = False
        self.emitted = 0
        self.bad_frames = 0
        self.reconnects = 0
        self.src = None
        self.warn = RateLimitedReporter(rt.report_warning)
        if self.kind in ("file", "folder") and not os.path.exists(self.source):
            rt.report_error(f"camera: {self.kind} {self.source!r} does not exist")
            self.done = True
            return
        if not self._open():
            self._schedule_reconnect(rt.current_time(), f"cannot open {self.kind} {self.source!r}")

    def _open(self):
        if self.kind == "folder":
            self.src = _FolderSource(self.source)
            return True
        src = _CaptureSource(self.source, self.kind, self.width, self.height, self.fps, self.timeout_ms)
        if not src.opened():
            src.release()
            return False
        self.src = src
        return True

    def _schedule_reconnect(self, now, why):
        if self.src is not None:
            self.src.release()
            self.src = None
        self.retry_at = now + self.backoff
        self.warn.report("reconnect", f"camera: {why}; retrying in {self.backoff / 1e6:.2f} s", now)
        self.backoff = min(self.backoff * 2, self.backoff_max)

    def Core(self):
        if self.done:
            return
        now = rt.current_time()
        if self.src is None:
            if now < self.retry_at:
                return
            self.reconnects += 1
            if not self._open():
                self._schedule_reconnect(now, f"cannot open {self.kind} {self.source!r}")
                return
            rt.report_info(f"camera: {self.kind} {self.source!r} (re)opened")
        status, img, index = self.src.read()
        if status == "bad":
            self.bad_frames += 1
            self.warn.report("bad", f"camera: skipping frame {index}: {img}", now)
            return
        if status == "end":
            if self.kind in ("device", "stream"):
                self._schedule_reconnect(now, f"read failed on {self.kind} {self.source!r}")
            elif self.loop and self.emitted > 0:
                self.src.rewind()
            else:
                rt.report_info(f"camera: end of {self.kind} {self.source!r} after {self.emitted} frame(s)")
                self.done = True
            return
        self.backoff = self.backoff_min
        if self.width > 0 and self.height > 0 and img.shape[:2] != (self.height, self.width):
            img = cv2.resize(img, (self.width, self.height), interpolation=cv2.INTER_AREA)
        if self.kind in ("device", "stream"):
            index = self.emitted
        out = rtmaps.types.Ioelt()
        out.data = rtmaps.types.IplImage()
        out.data.image_data = np.ascontiguousarray(img)
        out.data.color_model = "COLR"
        out.data.channel_seq = "BGR"
        out.ts = rt.current_time()
        out.misc1 = int(index)
        out.misc2 = self.emitted
        self.outputs["image"].write(out)
        self.emitted += 1

    def Death(self):
        if self.src is not None:
            self.src.release()
            self.src = None
        rt.report_info(f"camera: {self.emitted} frame(s) sent, {self.bad_frames} undecodable, "
                       f"{self.reconnects} reconnect attempt(s)")


# The PythonBridge looks for `rtmaps_python` unless the diagram sets className: both names work.
rtmaps_python = CameraInput
