"""RTMaps PythonBridge component: frames from a camera, a video file, a raw .y4m recording, an image folder or a
stream URL.

Output `image`: IPL_IMAGE, interleaved 8-bit BGR (`color_model` COLR), `ts` = capture time
(`rt.current_time()`, µs), `misc1` = the frame's index in its source (position in a file or folder;
frames since start for a device or stream), `misc3` = `clip_id(source)` (the accuracy meter checks it
against its labels), sent with MiscFlag set in `Ioelt.type`. Paced by the bridge's Sampling policy
(`samplingPeriod`). A `.y4m` file (YUV4MPEG2, what `bluefire record` and `ffmpeg -pix_fmt yuv420p` write)
is replayed as a YUV camera delivers: no decoding, its planes as stored (`y4m.py`: GRAY with color_model
MONO for Cmono; I420, YUYV or YUV with color_model YUV for 4:2:0, 4:2:2, 4:4:4; a full-range 4:2:0/4:2:2
file as YUV, so that it decodes as meant), `width`/`height` not applied to YUV frames. A failed read on a device or stream is a warning and a reconnect with exponential back-off;
an undecodable, truncated or oversized file in a folder, or a truncated or unframed frame of a .y4m,
is a warning and is skipped (counted); a video file that cannot be opened or decoded, or a .y4m whose
stream header is malformed, is an error; the end of a file or folder stops the
output, or rewinds when `loop` is set. With `read_ahead` > 0, files and folders are decoded that many
frames ahead on a thread (a player's read-ahead: decoding overlaps the diagram's work on the frame
before), in the same order and with the same warnings as reading in Core; devices and streams are
always read in Core. No frame larger than `max_pixels` is decoded: image headers, .y4m stream headers
and video stream sizes are checked first.
"""

import os
import queue
import threading
import time

import cv2
import numpy as np
import rtmaps.core as rt
import rtmaps.reading_policy
import rtmaps.types
from rtmaps.base_component import BaseComponent

from rtmaps_components.clip import clip_id
from rtmaps_components.frame_sources import CaptureSource, FolderSource, detect_kind
from rtmaps_components.image_files import DEFAULT_MAX_PIXELS
from rtmaps_components.latency_stats import LatencyHistogram
from rtmaps_components.rate_limit import RateLimitedReporter
from rtmaps_components.y4m import Y4mReader

KINDS = ("auto", "device", "file", "folder", "stream")
MISC_FLAG = rt.DataTypes.CTypes.MiscFlag


def is_y4m(source):
    """A YUV4MPEG2 recording, read by `y4m.Y4mReader` (raw planes, no decoding) rather than OpenCV."""
    return str(source).lower().endswith(".y4m")


class _ReadAhead:
    """A file or folder source read `depth` frames ahead on a thread, as a recording player does.

    Decoding (PNG, JPEG, video) then runs on another core while the diagram works on the previous frame,
    and Core only takes the next item. Items and their order are the source's own ('frame', 'bad',
    'end'); after an 'end' the thread waits for `rewind` (loop) or `release`. Devices and streams are not
    read ahead: a frame queued there would be older than the camera's latest one."""

    def __init__(self, src, depth):
        self.src = src
        self.items = queue.Queue(maxsize=depth)
        self.after_end = queue.Queue()  # "rewind" or "stop"
        self.stopping = threading.Event()
        self.read_ns = 0  # the thread's CPU time in src.read(), summed: what reading costs, off the frame path
        self.reads = 0
        self.thread = threading.Thread(target=self._run, name="camera-read-ahead", daemon=True)
        self.thread.start()

    def _put(self, item):
        while not self.stopping.is_set():
            try:
                self.items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self):
        while not self.stopping.is_set():
            t0 = time.thread_time_ns()
            try:
                item = self.src.read()
            except Exception as e:  # handed to Core, which raises it there as a synchronous read would
                item = ("error", e, None)
            self.read_ns += time.thread_time_ns() - t0
            self.reads += 1
            if not self._put(item):
                return
            if item[0] == "end":
                if self.after_end.get() != "rewind":
                    return
                self.src.rewind()

    def read(self):
        while True:
            try:
                status, x, i = self.items.get(timeout=1.0)
                break
            except queue.Empty:
                if not self.thread.is_alive():
                    raise RuntimeError("camera: the read-ahead thread has stopped") from None
        if status == "error":
            raise x
        return status, x, i

    def rewind(self):
        self.after_end.put("rewind")

    def release(self):
        self.stopping.set()
        self.after_end.put("stop")
        while self.thread.is_alive():
            try:  # a put() blocked on a full queue sees `stopping` within its timeout
                self.items.get(timeout=0.05)
            except queue.Empty:
                pass
            self.thread.join(timeout=0.05)
        self.src.release()


class CameraInput(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
        self.force_reading_policy(rtmaps.reading_policy.SAMPLING)

    def Dynamic(self):
        self.add_output("image", rtmaps.types.IPL_IMAGE)
        # device index, video file, image folder or stream URL; a FILE property so that a diagram can hold
        # a file or folder relative to itself (%RTMAPS_DIAGRAMDIR%)
        self.add_property("source", "0", subtype=rtmaps.types.FILE)
        self.add_property("source_kind", "5|0|auto|device|file|folder|stream", rtmaps.types.ENUM)
        self.add_property("width", 0)  # requested size; 0 keeps the source's own
        self.add_property("height", 0)
        self.add_property("fps", 0.0)  # requested capture rate of a device or stream; 0 = its default
        self.add_property("loop", False)  # rewind files and folders at their end
        self.add_property("reconnect_min_us", 200000)  # first back-off after a failure
        self.add_property("reconnect_max_us", 5000000)  # back-off doubles up to this
        self.add_property("timeout_ms", 2000)  # open/read timeout of a stream URL
        self.add_property("max_pixels", DEFAULT_MAX_PIXELS)  # larger frames are refused before decoding
        # frames of a file or folder decoded ahead on a thread (0: decode in Core); devices and streams never.
        # Off by default: in one interpreter the thread contends for the GIL, and the host emulator ran the
        # replay diagram slower with it (bluefire bench --pipeline --pipeline-set Camera.read_ahead=4)
        self.add_property("read_ahead", 0)

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
        self.max_pixels = max(1, int(self.properties["max_pixels"].data))
        self.read_ahead = max(0, int(self.properties["read_ahead"].data))
        self.read_ns = self.reads = 0  # the read-ahead thread's totals, kept at release
        self.read_times = LatencyHistogram()  # µs in the source's read() inside Core
        self.clip = clip_id(self.source)
        self.backoff = self.backoff_min
        self.retry_at = 0
        self.done = False
        self.emitted = 0
        self.bad_frames = 0
        self.reconnects = 0
        self.src = None
        self.warn = RateLimitedReporter(rt.report_warning)
        self.out = rtmaps.types.Ioelt()
        self.out.data = rtmaps.types.IplImage()
        self.out.misc3 = self.clip
        self.out.type = MISC_FLAG  # misc1..3 travel only with this flag [Intempora examples]
        if self.kind in ("file", "folder") and not os.path.exists(self.source):
            rt.report_error(f"camera: {self.kind} {self.source!r} does not exist")
            self.done = True
            return
        if self.kind == "folder" and not os.path.isdir(self.source):
            rt.report_error(f"camera: source_kind is folder but {self.source!r} is not a folder")
            self.done = True
            return
        if self.kind == "file" and not os.path.isfile(self.source):
            rt.report_error(f"camera: source_kind is file but {self.source!r} is not a file")
            self.done = True
            return
        opened = self._open()
        if self.kind == "file" and not opened:  # a file does not come back: an error, not a reconnect loop
            rt.report_error(
                self.open_error or f"camera: cannot open or decode the video file {self.source!r}{self.why}"
            )
            self.done = True
        elif not opened:
            self._schedule_reconnect(rt.current_time(), f"cannot open {self.kind} {self.source!r}{self.why}")

    def _open(self):
        self.why = self.open_error = ""
        self._layout("BGR", "COLR")
        if self.kind == "folder":
            self.src = self._ahead(FolderSource(self.source, self.max_pixels))
            return True
        if self.kind == "file" and is_y4m(self.source):
            return self._open_y4m()
        src = CaptureSource(self.source, self.kind, self.width, self.height, self.fps, self.timeout_ms)
        if not src.opened():
            src.release()
            return False
        w, h = src.frame_size()
        if w * h > self.max_pixels:
            self.why = f" ({w}x{h} pixels per frame, over max_pixels {self.max_pixels})"
            src.release()
            return False
        self.src = self._ahead(src) if self.kind == "file" else src
        return True

    def _open_y4m(self):
        # raw YUV planes handed over as stored (a camera's frames, no decoding); with read-ahead each frame
        # needs its own buffer, since the queue holds several
        try:
            src = Y4mReader(self.source, self.max_pixels, fresh=self.read_ahead > 0)
        except (ValueError, OSError) as e:
            self.open_error = f"camera: cannot replay the recording: {e}"
            return False
        self._layout(src.channel_seq, src.color_model)
        self.src = self._ahead(src)
        return True

    def _layout(self, channel_seq, color_model):
        """What the frames of the source being opened are; the resize to width x height is for BGR and GRAY."""
        self.out.data.channel_seq = channel_seq
        self.out.data.color_model = color_model
        self.resize_to = (self.height, self.width) if self.width > 0 and self.height > 0 else None
        if self.resize_to is not None and channel_seq not in ("BGR", "GRAY"):
            self.resize_to = None
            self.warn.report(
                "resize",
                f"camera: width/height are not applied to {channel_seq} frames of {self.source!r} "
                "(delivered at their recorded size; the classifier resizes)",
                rt.current_time(),
            )

    def _ahead(self, src):
        return _ReadAhead(src, self.read_ahead) if self.read_ahead > 0 else src

    def _release(self):
        if isinstance(self.src, _ReadAhead):
            self.read_ns += self.src.read_ns
            self.reads += self.src.reads
        self.src.release()
        self.src = None

    def _schedule_reconnect(self, now, why):
        if self.src is not None:
            self._release()
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
        t0 = time.perf_counter_ns()
        status, img, index = self.src.read()
        self.read_times.add((time.perf_counter_ns() - t0) / 1e3)  # file read + decode, or the read-ahead wait
        if status == "bad":
            self.bad_frames += 1
            self.warn.report("bad", f"camera: skipping frame {index}: {img}", now)
            return
        if status == "end":
            if self.kind == "file" and self.emitted == 0 and self.bad_frames == 0:
                rt.report_error(f"camera: the video file {self.source!r} opened but no frame could be decoded")
                self.done = True
            elif self.kind in ("device", "stream"):
                self._schedule_reconnect(now, f"read failed on {self.kind} {self.source!r}")
            elif self.loop and self.emitted > 0:
                self.src.rewind()
            else:
                rt.report_info(f"camera: end of {self.kind} {self.source!r} after {self.emitted} frame(s)")
                self.done = True
            return
        self.backoff = self.backoff_min
        if self.resize_to is not None and img.shape[:2] != self.resize_to:
            img = cv2.resize(img, (self.width, self.height), interpolation=cv2.INTER_AREA)
        if self.kind in ("device", "stream"):
            index = self.emitted
        out = self.out  # reused: write() copies the frame into the output buffer
        out.data.image_data = img if img.flags.c_contiguous else np.ascontiguousarray(img)
        out.ts = rt.current_time()
        out.misc1 = int(index)
        out.misc2 = self.emitted
        self.outputs["image"].write(out)
        self.emitted += 1

    def Death(self):
        if self.src is not None:
            self._release()
        ahead = f", read ahead on a thread: {self.read_ns / 1e3 / self.reads:.0f} us a frame" if self.reads else ""
        rt.report_info(
            f"camera: {self.emitted} frame(s) sent, {self.bad_frames} undecodable, "
            f"{self.reconnects} reconnect attempt(s){ahead}"
        )


# The PythonBridge looks for `rtmaps_python` unless the diagram sets className: both names work.
rtmaps_python = CameraInput
