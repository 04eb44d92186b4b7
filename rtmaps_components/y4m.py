"""YUV4MPEG2 (.y4m): raw video as ffmpeg, GStreamer and x264 write it, replayed with no decoding.

A stream header `YUV4MPEG2 W.. H.. F.. I.. A.. C.. X..\\n` (space-separated tags), then per frame
`FRAME[ params]\\n` and the planes Y, U, V as stored. `Y4mReader` hands each frame over in a layout the
classifier takes as it is (`preprocess.frame_to_rgb8`), as a camera delivering YUV would:

| C tag | XCOLORRANGE | delivered | channel_seq |
|---|---|---|---|
| mono | none, FULL | uint8 (H, W), the Y plane | GRAY |
| mono | LIMITED | uint8 (H, W), the Y plane through `LIMITED_TO_FULL_Y` | GRAY |
| 420jpeg, 420paldv, 420mpeg2, 420 (none: 420jpeg) | none, LIMITED | uint8 (H*3/2, W), the planes as stored | I420 |
| 422 | none, LIMITED | uint8 (H, W, 2), planes interleaved Y0 U Y1 V | YUYV |
| 420*, 422 | FULL | uint8 (H, W, 3), Y; chroma through `FULL_CB_TO_U`/`_CR_TO_V` on each pixel it covers | YUV |
| 444 | none | uint8 (H, W, 3), planes interleaved | YUV |
| 444 | FULL | uint8 (H, W, 3), planes interleaved, chroma through `FULL_CB_TO_U`/`_CR_TO_V` | YUV |
| 444 | LIMITED | uint8 (H, W, 3), planes interleaved through `LIMITED_TO_FULL_Y`, `LIMITED_CB_TO_U`/`_CR_TO_V` | YUV |

The colour range (`XCOLORRANGE`, which ffmpeg writes: `C420jpeg XCOLORRANGE=FULL` for an MJPEG camera's
yuvj420p): OpenCV (`preprocess.frame_to_rgb8`) decodes I420 and YUYV as video range (BT.601 YCbCr, Y 16-235,
chroma 16-240) and YUV and GRAY as full range. A file in the other range is delivered so that it decodes to
what it means: full-range 4:2:0/4:2:2 as 4:4:4 (Y keeps its 256 levels; nearest chroma, as OpenCV's own 4:2:0
and 4:2:2 decoders do), limited-range 4:4:4 and mono through lookup tables. OpenCV's 4:4:4 YUV is analog YUV
(B-Y = 2.032 U, R-Y = 1.140 V), not the YCbCr of a y4m (B-Y = 1.772 Cb, R-Y = 1.402 Cr), so the tables of a
range change rescale the chroma too; V then clips for the most saturated reds and cyans (|R-Y| over 145 of 255),
as in OpenCV's own BGR2YUV. A C444 header with no XCOLORRANGE is read as before: OpenCV's YUV, full range (what
`bluefire record` wrote before it tagged its files; ffmpeg would take it as limited-range YCbCr); other
XCOLORRANGE values are refused.

Mono and 4:2:0 frames with no range change are views of the buffer the file is read into (one `readinto` a
frame); 4:2:2 and 4:4:4 add one numpy interleave, a range change one copy or table look-up a plane. Other C
values (mono16, 420p10, 444alpha...) are refused. Frame params (per-frame I or X tags, which ffmpeg does not
write) are read past and ignored.
`Y4mWriter` writes Cmono, C420jpeg (OpenCV's BGR2YUV_I420, read back by YUV2RGB_I420) or C444 (full-range
YCbCr, OpenCV's BGR2YCrCb with the chroma planes in y4m's Cb, Cr order), atomically, with the XCOLORRANGE of
what it wrote (LIMITED for 4:2:0, FULL otherwise), so that ffmpeg and this reader decode the same colours.
"""

from __future__ import annotations

import io
import os
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from rtmaps_components.atomic import atomic_path
from rtmaps_components.image_files import DEFAULT_MAX_PIXELS, open_regular_file

MAGIC = b"YUV4MPEG2"
MAX_HEADER_BYTES = 1024  # the stream header line; ffmpeg's are under 100 bytes
MAX_FRAME_HEADER_BYTES = 1024  # FRAME and its params
_FRAME = b"FRAME\n"
# C tag -> (channel_seq delivered, half-bytes per pixel: a frame is W*H*n/2 bytes; 2 mono, 3 4:2:0, 4 4:2:2, 6 4:4:4)
CHROMA = {
    "mono": ("GRAY", 2),
    "420jpeg": ("I420", 3),
    "420paldv": ("I420", 3),
    "420mpeg2": ("I420", 3),
    "420": ("I420", 3),
    "422": ("YUYV", 4),
    "444": ("YUV", 6),
}
DEFAULT_CHROMA = "420jpeg"  # the spec's meaning of a header without C
_INTERLACING = ("p", "t", "b", "m", "?")
WRITE_CHROMA = {"mono": "mono", "420": "420jpeg", "444": "444"}  # what Y4mWriter writes
# ...and its XCOLORRANGE: OpenCV's BGR2YUV_I420 writes video range, BGR2YCrCb and BGR2GRAY full range
WRITE_RANGE = {"mono": "FULL", "420": "LIMITED", "444": "FULL"}
COLOR_RANGES = ("FULL", "LIMITED")  # the XCOLORRANGE values, as ffmpeg writes them
_RANGE_TAG = "COLORRANGE="  # an X tag's text after the X
# the range OpenCV assumes when it converts each layout (preprocess.frame_to_rgb8)
OPENCV_RANGE = {"GRAY": "FULL", "I420": "LIMITED", "YUYV": "LIMITED", "YUV": "FULL"}


def _table(low: int, scale: float, base: int) -> np.ndarray:
    """uint8 lookup table: v -> (v - low) * scale + base, rounded half up and clipped to 0..255."""
    v = (np.arange(256) - low) * scale + base
    return np.clip(np.floor(v + 0.5), 0, 255).astype(np.uint8)


# A file's chroma is YCbCr (B-Y = 1.772 Cb, R-Y = 1.402 Cr, as OpenCV's I420 and YUYV decoders take it), but
# OpenCV's 4:4:4 COLOR_YUV2RGB decodes analog YUV (B-Y = 2.032 U, R-Y = 1.140 V): chroma delivered as YUV is
# rescaled, or a full-range file's reds would come out 19 % paler and its blues 15 % stronger.
_CB_TO_U, _CR_TO_V = 1.772 / 2.032, 1.402 / 1.140
# limited (video) range, BT.601: Y 16-235 -> 0-255; Cb, Cr 16-240 around 128 -> 0-255, then as above
LIMITED_TO_FULL_Y = _table(16, 255 / 219, 0)
LIMITED_CB_TO_U = _table(128, 255 / 224 * _CB_TO_U, 128)
LIMITED_CR_TO_V = _table(128, 255 / 224 * _CR_TO_V, 128)
FULL_CB_TO_U = _table(128, _CB_TO_U, 128)
FULL_CR_TO_V = _table(128, _CR_TO_V, 128)


def _ratio(path: str, tag: str, value: str, allow_zero: bool) -> Fraction | None:
    """An `N:D` tag value; None for 0:0 where the spec means unknown."""
    num, sep, den = value.partition(":")
    if not (sep and num.isdigit() and den.isdigit()):
        raise ValueError(f"{path}: stream header tag {tag!r} must be N:D with whole numbers, got {value!r}")
    n, d = int(num), int(den)
    if allow_zero and n == 0 and d == 0:
        return None
    if n == 0 or d == 0:
        raise ValueError(f"{path}: stream header tag {tag!r} must be N:D with N and D > 0, got {value!r}")
    return Fraction(n, d)


class Y4mHeader:
    """The stream header's fields, checked: size, frame rate, chroma and what a frame holds."""

    def __init__(self, path: str, line: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        if not line.startswith(MAGIC + b" "):
            raise ValueError(f"{path}: not a YUV4MPEG2 file (expected 'YUV4MPEG2 ' at the start, got {line[:16]!r})")
        try:
            text = line[len(MAGIC) : -1].decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"{path}: the stream header holds bytes that are not ASCII: {line[:80]!r}") from None
        tags: dict[str, str] = {}
        self.extensions: list[str] = []
        self.color_range: str | None = None  # XCOLORRANGE: FULL, LIMITED, or None when the header has none
        for token in text.split(" "):
            if not token:
                continue  # two spaces in a row: nothing between them
            if token[0] == "X":
                self.extensions.append(token[1:])
                if token[1:].startswith(_RANGE_TAG):  # the last one counts, as in ffmpeg
                    self.color_range = token[1 + len(_RANGE_TAG) :]
                    if self.color_range not in COLOR_RANGES:
                        raise ValueError(
                            f"{path}: stream header tag 'XCOLORRANGE' must be one of {', '.join(COLOR_RANGES)}, "
                            f"got {self.color_range!r}"
                        )
            else:  # a tag letter this reader does not know is kept and not used, as ffmpeg does
                tags[token[0]] = token[1:]
        self.path = path
        self.width = self._size(tags, "W")
        self.height = self._size(tags, "H")
        self.fps = _ratio(path, "F", tags["F"], allow_zero=False) if "F" in tags else None
        self.aspect = _ratio(path, "A", tags["A"], allow_zero=True) if "A" in tags else None
        self.interlacing = tags.get("I", "?")
        if self.interlacing not in _INTERLACING:
            raise ValueError(
                f"{path}: stream header tag 'I' must be one of {', '.join(_INTERLACING)}, got {self.interlacing!r}"
            )
        self.chroma = tags.get("C", DEFAULT_CHROMA)
        if self.chroma not in CHROMA:
            raise ValueError(
                f"{path}: stream header tag 'C' is {self.chroma!r}, which is not supported "
                f"(supported: {', '.join(CHROMA)}; convert with ffmpeg -pix_fmt yuv420p or -pix_fmt gray)"
            )
        # stored_seq: the planes as the file holds them; channel_seq: the frames delivered, which differ when
        # the file's range is not the one OpenCV assumes for stored_seq (see the module's table)
        self.stored_seq, units = CHROMA[self.chroma]
        self.channel_seq = self.stored_seq
        # per plane (Y, U, V) the table it goes through, None for a copy; None: no range change
        self.luts: tuple[np.ndarray | None, ...] | None = None
        if self.stored_seq == "YUV" and self.color_range == "FULL":  # YCbCr's chroma as OpenCV's YUV
            self.luts = (None, FULL_CB_TO_U, FULL_CR_TO_V)
        elif self.color_range not in (None, OPENCV_RANGE[self.stored_seq]):
            if self.stored_seq == "GRAY":
                self.luts = (LIMITED_TO_FULL_Y,)
            elif self.stored_seq == "YUV":
                self.luts = (LIMITED_TO_FULL_Y, LIMITED_CB_TO_U, LIMITED_CR_TO_V)
            else:  # full-range 4:2:0 or 4:2:2: as 4:4:4, which OpenCV reads as full range
                self.channel_seq = "YUV"
                self.luts = (None, FULL_CB_TO_U, FULL_CR_TO_V)
        if units in (3, 4) and self.width % 2:
            raise ValueError(f"{path}: C{self.chroma} needs an even width (tag 'W'), got {self.width}")
        if units == 3 and self.height % 2:
            raise ValueError(f"{path}: C{self.chroma} needs an even height (tag 'H'), got {self.height}")
        if self.width * self.height > max_pixels:
            raise ValueError(
                f"{path}: stream header declares {self.width}x{self.height} pixels, over max_pixels {max_pixels}"
            )
        self.frame_bytes = self.width * self.height * units // 2

    def _size(self, tags: dict[str, str], tag: str) -> int:
        if tag not in tags:
            raise ValueError(f"{self.path}: stream header has no tag {tag!r} (expected e.g. {tag}640)")
        v = tags[tag]
        if not (v.isdigit() and int(v) > 0):
            raise ValueError(f"{self.path}: stream header tag {tag!r} must be a positive integer, got {v!r}")
        return int(v)

    def shape(self) -> tuple[int, ...]:
        """The delivered frame's shape (see the module's table)."""
        h, w = self.height, self.width
        return {"GRAY": (h, w), "I420": (h * 3 // 2, w), "YUYV": (h, w, 2), "YUV": (h, w, 3)}[self.channel_seq]

    def color_model(self) -> str:
        """RTMaps IplImage color_model of the delivered frames."""
        return "MONO" if self.channel_seq == "GRAY" else "YUV"


def read_header_line(f: io.BufferedReader, path: str) -> bytes:
    """The stream header line (with its newline), at most MAX_HEADER_BYTES; ValueError otherwise."""
    line = f.readline(MAX_HEADER_BYTES)
    if not line or not line.startswith(MAGIC[: len(line)]):
        raise ValueError(f"{path}: not a YUV4MPEG2 file (expected 'YUV4MPEG2 ' at the start, got {line[:16]!r})")
    if not line.endswith(b"\n"):
        if len(line) < MAX_HEADER_BYTES:
            raise ValueError(f"{path}: the file ends inside the stream header (no newline after {line[:80]!r})")
        raise ValueError(f"{path}: stream header has no newline in its first {MAX_HEADER_BYTES} bytes")
    return line


class Y4mReader:
    """Frames of a .y4m file, read with one `readinto` each into a buffer made once.

    `read()` follows the camera's source protocol: ('frame', image, index) | ('bad', reason, index) |
    ('end', None, None). The image is a view of the reader's buffer, valid until the next read, unless
    `fresh` (for a read-ahead queue that holds several frames): then every frame has its own buffer.
    After a frame whose FRAME marker is wrong the stream cannot be followed: that frame is 'bad', then
    'end'. ValueError naming the file and the field for a file that is not a readable .y4m.
    """

    def __init__(self, path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS, fresh: bool = False) -> None:
        self.path = str(path)
        try:
            fd, st = open_regular_file(self.path)
        except ValueError as e:
            raise ValueError(f"{self.path} {e} (a .y4m recording must be a file)") from None
        self.f = os.fdopen(fd, "rb")
        try:
            self.header = Y4mHeader(self.path, read_header_line(self.f, self.path), max_pixels)
        except BaseException:
            self.f.close()
            raise
        self.data_start = self.f.tell()
        self.file_size = st.st_size
        self.fresh = fresh
        self.channel_seq = self.header.channel_seq
        self.color_model = self.header.color_model()
        self.index = 0
        self.lost = False  # a broken FRAME marker: where the next frame starts is unknown
        self._stride = len(_FRAME) + self.header.frame_bytes
        self._new_buffers()

    def _new_buffers(self) -> None:
        """The read buffer (FRAME marker + planes), the frame handed over, and the copies that fill it from the
        planes: views made once, so that a read is a `readinto` (and for 4:2:2 and 4:4:4 one interleave).
        A copy is (destination, source, lookup table or None); a source may broadcast (repeated chroma)."""
        hd = self.header
        h, w = hd.height, hd.width
        self._buf = np.empty(self._stride, np.uint8)
        self._mv = memoryview(self._buf)
        self._tag = self._mv[: len(_FRAME)]
        planes = self._buf[len(_FRAME) :]
        self._copies: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]
        luts = hd.luts
        if luts is None and hd.channel_seq in ("GRAY", "I420"):  # handed over as stored
            self._image, self._copies = planes.reshape(hd.shape()), []
            return
        self._image = img = np.empty(hd.shape(), np.uint8)
        if luts is not None and hd.stored_seq == "GRAY":  # limited-range mono
            self._copies = [(img, planes.reshape(h, w), luts[0])]
        elif luts is not None and hd.stored_seq == "YUV":  # tagged 4:4:4: one table a plane, interleaved
            yuv = planes.reshape(3, h, w)
            self._copies = [(img[:, :, k], yuv[k], luts[k]) for k in range(3)]
        elif luts is not None:  # full-range 4:2:0 or 4:2:2 as 4:4:4: each chroma sample on every pixel it covers
            rows = 2 if hd.stored_seq == "I420" else 1  # the rows one chroma sample covers
            ch, cw = h // rows, w // 2
            uv = planes[h * w :].reshape(2, ch, cw)
            self._uv = np.empty((2, ch, cw), np.uint8)  # the chroma through its tables, before it is repeated
            blocks = img.reshape(ch, rows, cw, 2, 3)  # pixel (r*rows + i, c*2 + j) is blocks[r, i, c, j]
            self._copies = [
                (img[:, :, 0], planes[: h * w].reshape(h, w), luts[0]),
                (self._uv[0], uv[0], luts[1]),
                (self._uv[1], uv[1], luts[2]),
                (blocks[..., 1], self._uv[0][:, None, :, None], None),
                (blocks[..., 2], self._uv[1][:, None, :, None], None),
            ]
        elif hd.stored_seq == "YUV":  # 4:4:4: the three planes interleaved
            self._copies = [(img.transpose(2, 0, 1), planes.reshape(3, h, w), None)]
        else:  # 4:2:2: Y0 U Y1 V, as a YUYV camera sends it
            y, u, v = planes[: h * w], planes[h * w : h * w * 3 // 2], planes[h * w * 3 // 2 :]
            self._copies = [
                (img[:, :, 0], y.reshape(h, w), None),
                (img[:, 0::2, 1], u.reshape(h, w // 2), None),
                (img[:, 1::2, 1], v.reshape(h, w // 2), None),
            ]

    def frame_count(self) -> int | None:
        """Frames in the file when every FRAME marker is bare (as ffmpeg and Y4mWriter write): size arithmetic;
        None when the size does not fit that."""
        body = self.file_size - self.data_start
        return body // self._stride if body % self._stride == 0 else None

    def read(self) -> tuple[str, np.ndarray | str | None, int | None]:
        """The next frame: ('frame', image, index), ('bad', why, index) or ('end', None, None)."""
        if self.lost:
            return "end", None, None
        if self.fresh:  # the frames handed out before keep their buffers
            self._new_buffers()
        i = self.index
        n = self.f.readinto(self._buf)
        if n == 0:
            return "end", None, None
        self.index = i + 1
        if self._tag != _FRAME:
            why = self._frame_with_params(n)
            if why is not None:
                return "bad", f"{self.path} frame {i}: {why}", i
        elif n < self._stride:
            return "bad", f"{self.path} frame {i}: truncated ({n - len(_FRAME)} of {self.header.frame_bytes} bytes)", i
        for dst, src, lut in self._copies:
            if lut is None:
                np.copyto(dst, src)
            else:  # mode "clip" writes straight into dst (uint8 indices are always in range)
                np.take(lut, src, out=dst, mode="clip")
        return "frame", self._image, i

    def _frame_with_params(self, n: int) -> str | None:
        """A FRAME marker with params (`FRAME Ixx\\n`): read its planes into place; why not, or None."""
        head = bytes(self._mv[: min(n, 6)])
        if head != b"FRAME "[: len(head)]:
            self.lost = True
            return f"expected 'FRAME', got {bytes(self._mv[: min(n, 16)])!r}"
        self.f.seek(-n, io.SEEK_CUR)
        line = self.f.readline(MAX_FRAME_HEADER_BYTES)
        if not line.endswith(b"\n"):
            self.lost = True
            if len(line) < MAX_FRAME_HEADER_BYTES:
                return "truncated (the file ends inside its FRAME header)"
            return f"FRAME header has no newline in its first {MAX_FRAME_HEADER_BYTES} bytes"
        got = self.f.readinto(self._mv[len(_FRAME) :])
        if got < self.header.frame_bytes:
            return f"truncated ({got} of {self.header.frame_bytes} bytes)"
        return None

    def rewind(self) -> None:
        """Back to the first frame."""
        self.f.seek(self.data_start)
        self.index = 0
        self.lost = False

    def release(self) -> None:
        self.f.close()

    def __enter__(self) -> Y4mReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def parse_fps(text: str) -> Fraction:
    """A frame rate as `30`, `29.97` or `30000:1001`; ValueError unless positive and finite."""
    try:
        num, sep, den = str(text).partition(":")
        fps = Fraction(int(num), int(den)) if sep else Fraction(str(text)).limit_denominator(1_000_000)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"frame rate must be N, a decimal or N:D, got {text!r}") from None
    if fps <= 0:
        raise ValueError(f"frame rate must be > 0, got {text!r}")
    return fps


class Y4mWriter:
    """BGR or gray frames to a .y4m, atomically: the file appears, whole, when the writer closes without error.

    chroma `mono` (a BGR frame becomes its luma, exact for gray frames), `420` (C420jpeg, OpenCV's
    BGR2YUV_I420) or `444` (full-range YCbCr, planes stored one after another). The header says the range
    OpenCV wrote (`WRITE_RANGE`), so that ffmpeg reads the file as it is meant. Every frame must have
    the first one's size."""

    def __init__(
        self, path: str | os.PathLike, width: int, height: int, chroma: str = "420", fps: Fraction = Fraction(30)
    ) -> None:
        if chroma not in WRITE_CHROMA:
            raise ValueError(f"{path}: chroma must be one of {', '.join(WRITE_CHROMA)}, got {chroma!r}")
        if width <= 0 or height <= 0:
            raise ValueError(f"{path}: frame size must be positive, got {width}x{height}")
        if chroma == "420" and (width % 2 or height % 2):
            raise ValueError(f"{path}: 4:2:0 needs an even width and height, got {width}x{height}; use chroma 444")
        self.path, self.width, self.height, self.chroma = Path(path), width, height, chroma
        self.frames = 0
        with ExitStack() as stack:  # an error before the end of __init__ unwinds it: no temp file left
            tmp = stack.enter_context(atomic_path(self.path, 0o644))
            self._f = stack.enter_context(open(tmp, "wb"))  # noqa: SIM115 (the stack closes it before the rename)
            rate = f"{fps.numerator}:{fps.denominator}"
            # XCOLORRANGE after C, where ffmpeg writes it. ffmpeg reads a stream header of at most 96 bytes (128 in
            # recent versions): this one is 64 plus F's digits for W and H under 100000 (71 for F30000:1001)
            tags = f"W{width} H{height} F{rate} Ip A1:1 C{WRITE_CHROMA[chroma]} XCOLORRANGE={WRITE_RANGE[chroma]}"
            self._f.write(f"YUV4MPEG2 {tags}\n".encode("ascii"))
            self._stack = stack.pop_all()

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 frame: BGR (H, W, 3), or gray (H, W) / (H, W, 1)."""
        import cv2  # the writer's colour conversion only; the reader needs numpy alone

        img = np.asarray(frame)
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[:, :, 0]
        if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
            raise ValueError(
                f"{self.path} frame {self.frames}: expected uint8 BGR (H, W, 3) or gray (H, W), "
                f"got {img.dtype} {img.shape}"
            )
        if img.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"{self.path} frame {self.frames}: {img.shape[1]}x{img.shape[0]}, "
                f"but the recording is {self.width}x{self.height}"
            )
        if self.chroma == "mono":
            planes = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        else:
            bgr = img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
            if self.chroma == "420":
                planes = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
            else:  # YCbCr, full range: OpenCV gives Y, Cr, Cb
                planes = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb).transpose(2, 0, 1)[[0, 2, 1]]
        self._f.write(_FRAME)
        self._f.write(np.ascontiguousarray(planes).data)
        self.frames += 1

    def close(self) -> Path:
        """Finish the file (rename into place); returns its path."""
        self._stack.close()
        return self.path

    def abort(self) -> None:
        """Drop what was written: the target is left as it was."""
        self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> Y4mWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self._stack.__exit__(kind, exc, tb)
