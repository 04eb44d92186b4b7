"""`bluefire record SRC -o OUT.y4m`: an image folder, a video file or a camera to a raw YUV4MPEG2 recording.

The frames are read as the camera component reads them (`frame_sources`: the folder's images sorted by
name, OpenCV on a video file or a device) and written with `y4m.Y4mWriter`, so the camera then replays them
with no decoding, as YUV the way a vehicle's camera delivers it. No torch here: this runs on the vehicle.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .frame_sources import CaptureSource, FolderSource, detect_kind
from .image_files import DEFAULT_MAX_PIXELS
from .output_paths import check_output_path
from .y4m import WRITE_CHROMA, Y4mWriter, parse_fps

DEFAULT_FPS = Fraction(30)
_STREAM_TIMEOUT_MS = 5000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="an image folder, a video file, a device index (0: the first camera) or a stream URL")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.y4m", help="the recording to write")
    p.add_argument(
        "--frames", type=int, metavar="N", help="record at most N frames (required for a device or a stream)"
    )
    p.add_argument(
        "--fps",
        metavar="RATE",
        help="frame rate in the header: N, a decimal or N:D (default: a video file's own, else 30)",
    )
    p.add_argument(
        "--chroma",
        choices=("auto", *WRITE_CHROMA),
        default="auto",
        help="mono (Cmono: the luma), 420 (C420jpeg, OpenCV's BGR2YUV_I420) or 444 (C444); auto: mono when the "
        "frames are gray, else 420 (444 for an odd size)",
    )
    p.add_argument(
        "--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N", help="refuse frames larger than this"
    )
    p.add_argument("--quiet", action="store_true", help="no progress line")


def _is_gray(img: np.ndarray) -> bool:
    """A frame with no colour: one channel, or B = G = R everywhere."""
    if img.ndim == 2 or img.shape[2] == 1:
        return True
    return bool(np.array_equal(img[:, :, 0], img[:, :, 1]) and np.array_equal(img[:, :, 1], img[:, :, 2]))


def _open_source(
    source: str, kind: str, max_pixels: int
) -> tuple[FolderSource | CaptureSource, int | None, Fraction | None]:
    """The source, its frame count when known, and a video's own frame rate; ValueError when it cannot be read."""
    if kind == "folder":
        src = FolderSource(source, max_pixels)
        if not src.files:
            raise ValueError(f"{source}: no image files in the folder")
        return src, len(src.files), None
    if kind == "file" and not Path(source).is_file():
        raise ValueError(f"{source}: no such file or folder")
    cap = CaptureSource(source, kind, 0, 0, 0, _STREAM_TIMEOUT_MS)
    if not cap.opened():
        cap.release()
        raise ValueError(f"{source}: cannot open it as a {'video file' if kind == 'file' else kind}")
    w, h = cap.frame_size()
    if w * h > max_pixels:
        cap.release()
        raise ValueError(f"{source}: {w}x{h} pixels per frame, over --max-pixels {max_pixels}")
    if kind != "file":
        return cap, None, None
    count = int(cap.cap.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = cap.cap.get(cv2.CAP_PROP_FPS)
    own = Fraction(fps).limit_denominator(1001) if math.isfinite(fps) and fps > 0 else None
    return cap, (count if count > 0 else None), own


def _check_args(args: argparse.Namespace, kind: str) -> str | None:
    """The first bad flag as a one-line message, before any work."""
    if args.frames is not None and args.frames < 1:
        return "--frames must be >= 1"
    if kind in ("device", "stream") and args.frames is None:
        return f"a {kind} has no end: give --frames N"
    if args.max_pixels < 1:
        return "--max-pixels must be >= 1"
    if args.output.suffix.lower() != ".y4m":
        return f"-o {args.output}: expected a .y4m file name (the camera replays a .y4m without decoding)"
    try:
        check_output_path(args.output, "-o")
        if args.fps is not None:
            parse_fps(args.fps)
    except ValueError as e:
        return str(e) if str(e).startswith("-o") else f"--fps: {e}"
    return None


class _Progress:
    """One status line on stderr, at most every half second (rewritten in place on a terminal)."""

    def __init__(self, total: int | None, quiet: bool) -> None:
        self.total, self.quiet = total, quiet
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def show(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (not final and now - self.last < 0.5):
            return
        self.last = now
        of = f"/{self.total}" if self.total else ""
        start, end = ("\r", "\n" if final else "") if self.tty else ("", "\n")
        print(f"{start}record: {done}{of} frame(s)", end=end, file=sys.stderr, flush=True)


def record(
    args: argparse.Namespace, kind: str, src: FolderSource | CaptureSource, count: int | None, own_fps: Fraction | None
) -> int:
    """Copy the frames of `src` into `args.output`; the exit status. ValueError (why) when a frame cannot be."""
    fps = parse_fps(args.fps) if args.fps is not None else own_fps or DEFAULT_FPS
    total = min(count, args.frames) if count and args.frames else (count or args.frames)
    progress = _Progress(total, args.quiet)
    writer: Y4mWriter | None = None
    chroma = args.chroma
    try:
        while writer is None or args.frames is None or writer.frames < args.frames:
            status, img, index = src.read()
            if status == "end":
                break
            if status == "bad":  # a gap would shift every later frame's index, and labels.txt with it
                raise ValueError(f"frame {index}: {img}; fix or remove it, a recording has no gaps")
            gray = _is_gray(img)
            if writer is None:
                h, w = img.shape[:2]
                if chroma == "auto":
                    chroma = "mono" if gray else ("420" if w % 2 == 0 and h % 2 == 0 else "444")
                writer = Y4mWriter(args.output, w, h, chroma, fps)
            elif args.chroma == "auto" and chroma == "mono" and not gray:
                raise ValueError(
                    f"frame {index} of {args.source} has colour but the first frame(s) were gray: "
                    "rerun with --chroma 420 (or --chroma mono to keep only the luma)"
                )
            writer.write(img)
            progress.show(writer.frames)
        if writer is None:
            raise ValueError(f"{args.source}: no frame could be read")
        if kind in ("device", "stream") and writer.frames < args.frames:
            print(f"warning: the {kind} stopped after {writer.frames} of {args.frames} frame(s)", file=sys.stderr)
        progress.show(writer.frames, final=True)
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        src.release()
    rate = f"{fps.numerator}:{fps.denominator}"
    print(f"{args.output}: {writer.frames} frame(s), {w}x{h}, C{WRITE_CHROMA[chroma]}, F{rate}")
    return 0


def main(args: argparse.Namespace) -> int:
    source = str(args.source)
    kind = detect_kind(source)
    bad = _check_args(args, kind)
    if bad:
        print(f"error: {bad}", file=sys.stderr)
        return 2
    try:
        src, count, own_fps = _open_source(source, kind, args.max_pixels)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        return record(args, kind, src, count, own_fps)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
