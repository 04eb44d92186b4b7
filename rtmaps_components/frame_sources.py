"""Where the camera's frames come from: an image folder, or OpenCV's VideoCapture on a device, file or URL.

No RTMaps here, so `bluefire record` reads a clip exactly as the camera replays it. Every source has
`read()` -> ('frame', image, index) | ('bad', reason, index) | ('end', None, None), `rewind()` and
`release()`; a .y4m recording's reader (`y4m.Y4mReader`) has the same three.
"""

import os

import cv2
import numpy as np

from rtmaps_components.image_files import DEFAULT_MAX_PIXELS, MAX_IMAGE_BYTES, check_image_file, read_regular_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def detect_kind(source):
    """auto-detect what a `source` string names."""
    if source.strip().isdigit():
        return "device"
    if "://" in source:
        return "stream"
    if os.path.isdir(source):
        return "folder"
    return "file"


class FolderSource:
    """Sorted image files of a folder, read one by one."""

    def __init__(self, folder, max_pixels=DEFAULT_MAX_PIXELS):
        self.files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_SUFFIXES))
        self.folder = folder
        self.max_pixels = max_pixels
        self.pos = 0

    def read(self):
        """('frame', img, index) | ('bad', reason, index) | ('end', None, None)."""
        if self.pos >= len(self.files):
            return "end", None, None
        i, self.pos = self.pos, self.pos + 1
        path = os.path.join(self.folder, self.files[i])
        try:
            data = read_regular_file(path, MAX_IMAGE_BYTES)
        except ValueError as e:
            return "bad", f"{path} {e}", i
        except OSError as e:
            return "bad", f"{path} cannot be read ({e.strerror or e})", i
        why = check_image_file(path, data, self.max_pixels)
        if why is not None:
            return "bad", f"{path} {why}", i
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            return "bad", f"{path} cannot be decoded", i
        if img.shape[0] * img.shape[1] > self.max_pixels:
            return "bad", f"{path} decodes to {img.shape[1]}x{img.shape[0]} pixels, over max_pixels", i
        return "frame", img, i

    def rewind(self):
        self.pos = 0

    def release(self):
        pass


class CaptureSource:
    """cv2.VideoCapture on a device index, a file or a URL."""

    def __init__(self, source, kind, width, height, fps, timeout_ms):
        if kind == "device":
            self.cap = cv2.VideoCapture(int(source))
        elif kind == "stream":  # a network camera must not block the component for FFmpeg's default 30 s
            self.cap = cv2.VideoCapture(
                source,
                cv2.CAP_ANY,
                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms],
            )
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

    def frame_size(self):
        return int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

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
