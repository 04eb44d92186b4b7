"""YUV4MPEG2 recordings: reader and writer round trips, the shipped clip, malformed files, `bluefire record`.

The camera replaying .y4m files through the emulator is tested in test_components.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtmaps_components.preprocess import frame_to_rgb8
from rtmaps_components.y4m import (
    FULL_CB_TO_U,
    FULL_CR_TO_V,
    MAX_HEADER_BYTES,
    WRITE_RANGE,
    Y4mReader,
    Y4mWriter,
    parse_fps,
)

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "diagrams" / "data" / "fmnist_clip"
SHIPPED = REPO / "diagrams" / "data" / "fmnist_clip.y4m"
SHIPPED_MODEL = REPO / "models" / "squeezenet1_1_fmnist_pruned.onnx"


def colour_frames(n: int = 5, h: int = 6, w: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Random colours in 2x2 blocks: 4:2:0 then loses nothing but rounding, so a round trip can be checked."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h // 2, w // 2, 3), dtype=np.uint8).repeat(2, 0).repeat(2, 1) for _ in range(n)]


def read_all(reader: Y4mReader) -> list[tuple[str, object, int | None]]:
    """Every item up to and including 'end', frames copied (the reader reuses its buffer)."""
    items = []
    while True:
        status, x, i = reader.read()
        items.append((status, x.copy() if isinstance(x, np.ndarray) else x, i))
        if status == "end":
            return items


def png_frames() -> list[np.ndarray]:
    return [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(CLIP.glob("*.png"))]


def write_y4m(path: Path, w: int, h: int, tags: str, frames: list[list[np.ndarray]]) -> Path:
    """A .y4m of uint8 planes as given (Y, then U and V at the chroma's size), one list of planes a frame."""
    body = b"".join(b"FRAME\n" + b"".join(p.tobytes() for p in planes) for planes in frames)
    path.write_bytes(f"YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 {tags}\n".encode() + body)
    return path


def in_gamut_frames(n: int = 3, h: int = 8, w: int = 8, seed: int = 2) -> list[np.ndarray]:
    """colour_frames with |R-Y| <= 140: colours whose V fits OpenCV's 4:4:4 YUV (see y4m's docstring)."""
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 256, (n * h * w, 3), dtype=np.uint8)
    b, g, r = pool.T.astype(float)
    colours = pool[np.abs(r - (0.299 * r + 0.587 * g + 0.114 * b)) <= 140][: n * (h // 2) * (w // 2)]
    return [c.repeat(2, 0).repeat(2, 1) for c in colours.reshape(n, h // 2, w // 2, 3)]


def ycbcr(bgr: np.ndarray, full: bool) -> list[np.ndarray]:
    """BT.601 Y, Cb, Cr planes of a BGR frame as ffmpeg stores them: full range (yuvj*, JPEG) or limited (video)."""
    b, g, r = (bgr[:, :, k].astype(float) for k in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb, cr = (b - y) / 1.772, (r - y) / 1.402
    if not full:
        y, cb, cr = 16 + y * 219 / 255, cb * 224 / 255, cr * 224 / 255
    return [np.clip(np.floor(p + 0.5), 0, 255).astype(np.uint8) for p in (y, cb + 128, cr + 128)]


def rgb_error(img: np.ndarray, seq: str, bgr: np.ndarray) -> int:
    """The largest difference between the classifier's RGB of a delivered frame and the frame it was made from."""
    return int(np.abs(frame_to_rgb8(img, seq).astype(int) - cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).max())


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize(
    "chroma, tag, seq, model, convert",
    [
        ("mono", "Cmono XCOLORRANGE=FULL", "GRAY", "MONO", cv2.COLOR_BGR2GRAY),
        ("420", "C420jpeg XCOLORRANGE=LIMITED", "I420", "YUV", cv2.COLOR_BGR2YUV_I420),
        ("444", "C444 XCOLORRANGE=FULL", "YUV", "YUV", cv2.COLOR_BGR2YCrCb),
    ],
)
def test_writer_and_reader_round_trip(tmp_path, chroma, tag, seq, model, convert):
    frames = colour_frames()
    path = tmp_path / "clip.y4m"
    with Y4mWriter(path, 8, 6, chroma, parse_fps("30000:1001")) as w:
        for f in frames:
            w.write(f)
    assert path.read_bytes().startswith(f"YUV4MPEG2 W8 H6 F30000:1001 Ip A1:1 {tag}\n".encode())
    with Y4mReader(path) as r:
        assert (r.channel_seq, r.color_model, r.frame_count()) == (seq, model, 5)
        assert r.header.color_range == WRITE_RANGE[chroma]
        assert r.header.fps == parse_fps("30000:1001")
        items = read_all(r)
        r.rewind()
        again = read_all(r)
    assert [s for s, _, _ in items] == ["frame"] * 5 + ["end"] and [i for _, _, i in items[:5]] == [0, 1, 2, 3, 4]
    for (_, img, _), (_, img2, _), bgr in zip(items, again, frames):
        want = cv2.cvtColor(bgr, convert)
        if chroma == "444":  # stored as YCbCr, delivered with OpenCV's YUV chroma
            want = np.stack([want[:, :, 0], FULL_CB_TO_U[want[:, :, 2]], FULL_CR_TO_V[want[:, :, 1]]], 2)
        np.testing.assert_array_equal(img, want)
        np.testing.assert_array_equal(img2, want)
        if seq != "GRAY":  # the classifier's conversion of the delivered layout gives the frame back, nearly
            back = frame_to_rgb8(img, seq)
            assert np.abs(back.astype(int) - cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).max() <= 3


def test_a_422_file_reads_as_packed_yuyv(tmp_path):
    rng = np.random.default_rng(1)
    h, w = 4, 6
    y = rng.integers(0, 256, (2, h, w), dtype=np.uint8)
    u = rng.integers(0, 256, (2, h, w // 2), dtype=np.uint8)
    v = rng.integers(0, 256, (2, h, w // 2), dtype=np.uint8)
    body = b"".join(b"FRAME\n" + y[k].tobytes() + u[k].tobytes() + v[k].tobytes() for k in range(2))
    (tmp_path / "c.y4m").write_bytes(b"YUV4MPEG2 W6 H4 F25:1 Ip A0:0 C422 XYSCSS=422\n" + body)
    with Y4mReader(tmp_path / "c.y4m") as r:
        assert r.channel_seq == "YUYV" and r.frame_count() == 2
        items = read_all(r)
    for k in range(2):
        img = items[k][1]
        assert img.shape == (h, w, 2)
        np.testing.assert_array_equal(img[:, :, 0], y[k])
        np.testing.assert_array_equal(img[:, 0::2, 1], u[k])
        np.testing.assert_array_equal(img[:, 1::2, 1], v[k])
        assert frame_to_rgb8(img, "YUYV").shape == (h, w, 3)


def test_a_missing_c_tag_means_420jpeg(tmp_path):
    i420 = cv2.cvtColor(colour_frames(1)[0], cv2.COLOR_BGR2YUV_I420)
    (tmp_path / "c.y4m").write_bytes(b"YUV4MPEG2 W8 H6\nFRAME\n" + i420.tobytes())
    with Y4mReader(tmp_path / "c.y4m") as r:
        assert r.header.chroma == "420jpeg" and r.header.fps is None
        status, img, _ = r.read()
    assert status == "frame" and np.array_equal(img, i420)


def test_reused_buffer_and_fresh_buffers(tmp_path):
    path = tmp_path / "c.y4m"
    with Y4mWriter(path, 8, 6, "420") as w:
        for f in colour_frames(3):
            w.write(f)
    with Y4mReader(path) as r:  # the synchronous camera: the output's write() copies, the buffer is reused
        a, b = r.read()[1], r.read()[1]
        assert a is b
    with Y4mReader(path, fresh=True) as r:  # read-ahead: queued frames must not share memory
        a, b, c = (r.read()[1] for _ in range(3))
        assert not np.shares_memory(a, b) and not np.shares_memory(b, c)
        assert not np.array_equal(a, b)


# ---------------------------------------------------------------- colour range (XCOLORRANGE)
@pytest.mark.parametrize("chroma, sub", [("420jpeg", (2, 2)), ("422", (1, 2))])
def test_full_range_420_and_422_are_delivered_as_444_and_decode_as_meant(tmp_path, chroma, sub):
    """ffmpeg's yuvj420p/yuvj422p (an MJPEG camera): Y 0-255, which OpenCV's I420/YUYV decoders would stretch."""
    frames = in_gamut_frames()
    frames[0][:2, :2], frames[0][:2, 2:4] = 0, 255  # black and white: Y 0 and 255, out of video range
    planes = [ycbcr(f, full=True) for f in frames]
    sub_planes = [[y, cb[:: sub[0], :: sub[1]], cr[:: sub[0], :: sub[1]]] for y, cb, cr in planes]
    path = write_y4m(tmp_path / "c.y4m", 8, 8, f"C{chroma} XYSCSS=x XCOLORRANGE=FULL", sub_planes)
    with Y4mReader(path, fresh=True) as r:
        assert (r.channel_seq, r.color_model, r.header.shape(), r.frame_count()) == ("YUV", "YUV", (8, 8, 3), 3)
        assert (r.header.stored_seq, r.header.color_range) == ({"420jpeg": "I420", "422": "YUYV"}[chroma], "FULL")
        items = read_all(r)
        r.rewind()
        a, b = r.read()[1], r.read()[1]
        assert not np.shares_memory(a, b)  # read-ahead's own buffers, the chroma's included
    assert [s for s, _, _ in items] == ["frame"] * 3 + ["end"]
    for (_, img, _), bgr, (y, _, _) in zip(items, frames, planes):
        assert img.shape == r.header.shape() and img.dtype == np.uint8
        np.testing.assert_array_equal(img[:, :, 0], y)  # Y keeps its 256 levels
        np.testing.assert_array_equal(frame_to_rgb8(img, "YUV", luma_only=True)[:, :, 0], y)  # a gray model's luma
        assert rgb_error(img, r.channel_seq, bgr) <= 3
    # the same planes read as today's untagged file would be: contrast stretched, far from the frame
    plain = write_y4m(tmp_path / "plain.y4m", 8, 8, f"C{chroma}", sub_planes[:1])
    with Y4mReader(plain) as r:
        assert r.header.color_range is None and rgb_error(r.read()[1], r.channel_seq, frames[0]) > 10


def test_limited_range_444_and_mono_decode_as_meant(tmp_path):
    """ffmpeg's yuv444p and gray tagged LIMITED: mapped to the full range OpenCV takes YUV and GRAY in."""
    frames = in_gamut_frames()
    path = write_y4m(tmp_path / "c.y4m", 8, 8, "C444 XCOLORRANGE=LIMITED", [ycbcr(f, full=False) for f in frames])
    with Y4mReader(path) as r:
        assert (r.channel_seq, r.color_model, r.header.shape(), r.header.color_range) == (
            "YUV",
            "YUV",
            (8, 8, 3),
            "LIMITED",
        )
        items = read_all(r)
    for (_, img, _), bgr in zip(items, frames):
        assert img.shape == (8, 8, 3) and rgb_error(img, "YUV", bgr) <= 3
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    video = np.floor(16 + gray.astype(float) * 219 / 255 + 0.5).astype(np.uint8)
    path = write_y4m(tmp_path / "m.y4m", 16, 16, "Cmono XCOLORRANGE=LIMITED", [[video], [np.full_like(video, 16)]])
    with Y4mReader(path) as r:
        assert (r.channel_seq, r.color_model, r.header.shape()) == ("GRAY", "MONO", (16, 16))
        (_, img, _), (_, black, _), _ = read_all(r)
    assert img.shape == (16, 16) and np.abs(img.astype(int) - gray).max() <= 1
    assert (img[0, 0], img[-1, -1], black.max()) == (0, 255, 0)  # 16 and 235 are black and white


OLD_LAYOUT = {"mono": "GRAY", "420jpeg": "I420", "422": "YUYV", "444": "YUV"}


@pytest.mark.parametrize("chroma", OLD_LAYOUT)
@pytest.mark.parametrize("tagged", [False, True])
def test_no_range_tag_or_opencvs_own_range_reads_as_before(tmp_path, chroma, tagged):
    """Untagged (ffmpeg's default per chroma), or the range OpenCV assumes of the layout: the planes as before,
    bit for bit (but tagged 4:4:4's chroma, YCbCr), and mono and 4:2:0 still views of the read buffer."""
    h, w = 4, 6
    rng = np.random.default_rng(5)
    cw, ch = {"mono": (0, 0), "420jpeg": (w // 2, h // 2), "422": (w // 2, h), "444": (w, h)}[chroma]
    y, u, v = rng.integers(0, 256, (h, w), np.uint8), *rng.integers(0, 256, (2, ch, cw), np.uint8)
    seq = OLD_LAYOUT[chroma]
    if seq == "GRAY":  # what the reader delivered before XCOLORRANGE was read
        want, planes = y, [y]
    elif seq == "I420":
        want, planes = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(h * 3 // 2, w), [y, u, v]
    elif seq == "YUYV":
        want, planes = np.stack([y, np.stack([u, v], 2).reshape(h, w)], 2), [y, u, v]
    elif tagged:  # C444 tagged FULL is YCbCr (ffmpeg's yuvj444p, our writer): its chroma as OpenCV's YUV
        want, planes = np.stack([y, FULL_CB_TO_U[u], FULL_CR_TO_V[v]], 2), [y, u, v]
    else:
        want, planes = np.stack([y, u, v], 2), [y, u, v]
    own = {"GRAY": "FULL", "I420": "LIMITED", "YUYV": "LIMITED", "YUV": "FULL"}[seq]
    tags = f"C{chroma} XYSCSS=x" + (f" XCOLORRANGE={own}" if tagged else "")
    with Y4mReader(write_y4m(tmp_path / "c.y4m", w, h, tags, [planes, planes])) as r:
        assert (r.channel_seq, r.header.shape(), r.header.color_range) == (seq, want.shape, own if tagged else None)
        assert r.color_model == ("MONO" if seq == "GRAY" else "YUV")
        img = r.read()[1]
        assert img.dtype == np.uint8 and np.array_equal(img, want)
        assert np.shares_memory(img, r._buf) == (seq in ("GRAY", "I420"))  # zero-copy kept
        assert np.array_equal(r.read()[1], want) and r.read()[0] == "end"


def test_ffmpeg_reads_the_writers_range(tmp_path):
    """ffmpeg (OpenCV's FFMPEG backend) decodes our recordings to their frames, colours included: the tag
    says the range (ffmpeg takes an untagged C444 as video range) and C444 is YCbCr, as ffmpeg reads it."""
    planes = [np.full((16, 16), v, np.uint8) for v in (16, 128, 128)]  # a dark gray, limited range's black
    probe = write_y4m(tmp_path / "p.y4m", 16, 16, "C444 XCOLORRANGE=FULL", [planes])
    cap = cv2.VideoCapture(str(probe), cv2.CAP_FFMPEG)
    ok, img = cap.read()
    cap.release()
    if not ok or img[0, 0, 0] != 16:
        pytest.skip("this OpenCV has no FFMPEG backend, or its ffmpeg does not read XCOLORRANGE (FFmpeg < 4.4)")
    bgr = in_gamut_frames(1, 16, 16)[0]
    for chroma in WRITE_RANGE:
        with Y4mWriter(tmp_path / f"{chroma}.y4m", 16, 16, chroma) as w:
            w.write(bgr)
        cap = cv2.VideoCapture(str(tmp_path / f"{chroma}.y4m"), cv2.CAP_FFMPEG)
        ok, img = cap.read()
        cap.release()
        want = cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) if chroma == "mono" else bgr
        assert ok and np.abs(img.astype(int) - want).max() <= 3, chroma


# ---------------------------------------------------------------- the shipped recording
def test_shipped_y4m_is_the_png_clip_byte_for_byte():
    """Also catches the recording going stale when the PNG clip changes: remake it with the README command."""
    pngs = png_frames()
    assert len(pngs) == 200 and all(p.ndim == 2 and p.dtype == np.uint8 for p in pngs)
    with Y4mReader(SHIPPED) as r:
        assert (r.header.width, r.header.height, r.header.chroma, r.channel_seq) == (28, 28, "mono", "GRAY")
        assert r.frame_count() == 200
        items = read_all(r)
    assert [i for _, _, i in items[:-1]] == list(range(200)) and items[-1][0] == "end"
    for (status, img, i), png in zip(items, pngs):
        assert status == "frame" and np.array_equal(img, png), i
    # what the camera delivers from the folder (BGR, IMREAD_COLOR) is the same gray in every channel
    bgr = cv2.imread(str(sorted(CLIP.glob("*.png"))[7]), cv2.IMREAD_COLOR)
    assert all(np.array_equal(bgr[:, :, c], items[7][1]) for c in range(3))


def test_shipped_model_top1_on_i420_frames_equals_bgr_frames(tmp_path):
    """The clip as a colour camera would send it (C420jpeg -> I420) classifies as the BGR frames do."""
    from rtmaps_components.backends import load_model

    bgrs = [cv2.cvtColor(p, cv2.COLOR_GRAY2BGR) for p in png_frames()]
    path = tmp_path / "fmnist_clip.y4m"
    with Y4mWriter(path, 28, 28, "420") as w:
        for f in bgrs:
            w.write(f)
    model = load_model(SHIPPED_MODEL, backend="auto", threads=1)
    with Y4mReader(path) as r:
        got = []
        for _ in bgrs:
            status, i420, _ = r.read()
            assert status == "frame" and i420.shape == (42, 28)
            got.append(int(model.classify_frame(i420, "I420").argmax()))
    want = [int(model.classify_frame(f, "BGR").argmax()) for f in bgrs]
    assert got == want


# ---------------------------------------------------------------- malformed files
GOOD = b"YUV4MPEG2 W8 H6 F30:1 Ip A1:1 C420jpeg\n"


@pytest.mark.parametrize(
    "header, match",
    [
        (b"YUV4MPEG2 H6 C420jpeg\n", r"clip.y4m: stream header has no tag 'W'"),
        (b"YUV4MPEG2 Wabc H6\n", r"clip.y4m: stream header tag 'W' must be a positive integer, got 'abc'"),
        (b"YUV4MPEG2 W8 H0\n", r"tag 'H' must be a positive integer, got '0'"),
        (b"YUV4MPEG2 W8 H6 Cmono16\n", r"tag 'C' is 'mono16', which is not supported \(supported: mono, 420jpeg"),
        (b"YUV4MPEG2 W8 H6 C420p10 XYSCSS=420P10\n", r"tag 'C' is '420p10'"),
        (b"YUV4MPEG2 W8 H6 C444alpha\n", r"tag 'C' is '444alpha'"),
        (b"YUV4MPEG2 W7 H6 C420jpeg\n", r"C420jpeg needs an even width \(tag 'W'\), got 7"),
        (b"YUV4MPEG2 W8 H5 C420\n", r"C420 needs an even height \(tag 'H'\), got 5"),
        (b"YUV4MPEG2 W7 H6 C422\n", r"C422 needs an even width"),
        (b"YUV4MPEG2 W8000 H8000 Cmono\n", r"declares 8000x8000 pixels, over max_pixels 40000000"),
        (b"YUV4MPEG2 W8 H6 F30\n", r"tag 'F' must be N:D"),
        (b"YUV4MPEG2 W8 H6 F0:1\n", r"tag 'F' must be N:D with N and D > 0"),
        (b"YUV4MPEG2 W8 H6 Ix\n", r"tag 'I' must be one of p, t, b, m, \?"),
        (b"YUV4MPEG2 W8 H6 C420jpeg", r"the file ends inside the stream header"),
        (b"YUV4MPEG2 W8 H6 X" + b"x" * MAX_HEADER_BYTES + b"\n", r"no newline in its first 1024 bytes"),
        (b"YUV4MPEG W8 H6\n", r"not a YUV4MPEG2 file \(expected 'YUV4MPEG2 ' at the start"),
        (b"\x89PNG\r\n\x1a\n", r"not a YUV4MPEG2 file"),
        (b"", r"not a YUV4MPEG2 file"),
        (b"YUV4MPEG2 W8 H6 C\xff\n", r"not ASCII"),
        (
            b"YUV4MPEG2 W8 H6 C420jpeg XCOLORRANGE=full\n",
            r"clip.y4m: stream header tag 'XCOLORRANGE' must be one of FULL, LIMITED, got 'full'",
        ),
        (b"YUV4MPEG2 W8 H6 Cmono XCOLORRANGE=\n", r"tag 'XCOLORRANGE' must be one of FULL, LIMITED, got ''"),
        (b"YUV4MPEG2 W8 H6 XCOLORRANGE=UNSPECIFIED\n", r"tag 'XCOLORRANGE' must be one of FULL, LIMITED"),
    ],
)
def test_malformed_stream_headers_name_the_file_and_the_field(tmp_path, header, match):
    (tmp_path / "clip.y4m").write_bytes(header + (b"FRAME\n" + bytes(72) if header.endswith(b"\n") else b""))
    with pytest.raises(ValueError, match=match):
        Y4mReader(tmp_path / "clip.y4m")


def test_max_pixels_is_the_callers(tmp_path):
    (tmp_path / "clip.y4m").write_bytes(GOOD)
    with pytest.raises(ValueError, match="declares 8x6 pixels, over max_pixels 47"):
        Y4mReader(tmp_path / "clip.y4m", max_pixels=47)
    Y4mReader(tmp_path / "clip.y4m", max_pixels=48).release()


def test_truncated_last_frame_is_bad_then_end(tmp_path):
    frame = b"FRAME\n" + bytes(range(72))
    (tmp_path / "clip.y4m").write_bytes(GOOD + frame * 2 + frame[:30])
    with Y4mReader(tmp_path / "clip.y4m") as r:
        assert r.frame_count() is None
        items = read_all(r)
    assert [(s, i) for s, _, i in items] == [("frame", 0), ("frame", 1), ("bad", 2), ("end", None)]
    assert items[2][1] == f"{tmp_path / 'clip.y4m'} frame 2: truncated (24 of 72 bytes)"


@pytest.mark.parametrize("tail", [b"FRA", b"FRAME", b"FRAME Ixx"])
def test_a_file_ending_inside_a_frame_marker_is_a_bad_frame(tmp_path, tail):
    (tmp_path / "clip.y4m").write_bytes(GOOD + b"FRAME\n" + bytes(72) + tail)
    with Y4mReader(tmp_path / "clip.y4m") as r:
        items = read_all(r)
    assert [(s, i) for s, _, i in items] == [("frame", 0), ("bad", 1), ("end", None)]
    assert "frame 1: " in items[1][1]


def test_frame_params_are_read_past(tmp_path):
    planes = [bytes([k]) * 72 for k in range(4)]
    markers = [b"FRAME\n", b"FRAME Ip XCOMMENT=hello\n", b"FRAME\n", b"FRAME Ib\n"]
    (tmp_path / "clip.y4m").write_bytes(GOOD + b"".join(m + p for m, p in zip(markers, planes)))
    with Y4mReader(tmp_path / "clip.y4m") as r:
        items = read_all(r)
        r.rewind()
        assert r.read()[2] == 0
    assert [(s, i) for s, _, i in items] == [("frame", k) for k in range(4)] + [("end", None)]
    for k in range(4):
        assert (items[k][1] == k).all() and items[k][1].shape == (9, 8)


def test_a_broken_frame_marker_is_bad_then_end_and_rewind_recovers(tmp_path):
    frame = b"FRAME\n" + bytes(72)
    (tmp_path / "clip.y4m").write_bytes(GOOD + frame + b"FRAMX\n" + bytes(72) + frame)
    with Y4mReader(tmp_path / "clip.y4m") as r:
        items = read_all(r)
        assert items[1] == (
            "bad",
            f"{tmp_path / 'clip.y4m'} frame 1: expected 'FRAME', got b'FRAMX\\n" + "\\x00" * 10 + "'",
            1,
        )
        assert [(s, i) for s, _, i in items] == [("frame", 0), ("bad", 1), ("end", None)]
        r.rewind()
        assert r.read()[0] == "frame"


def test_a_fifo_named_y4m_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "x.y4m")
    with pytest.raises(ValueError, match=r"x.y4m is not a regular file \(a .y4m recording must be a file\)"):
        Y4mReader(tmp_path / "x.y4m")
    with pytest.raises(ValueError, match="is not a regular file"):
        Y4mReader(tmp_path)


# ---------------------------------------------------------------- writer
def test_writer_is_atomic_and_checks_frames(tmp_path):
    path = tmp_path / "clip.y4m"
    path.write_bytes(b"old")
    with (
        pytest.raises(ValueError, match=r"clip.y4m frame 1: 4x6, but the recording is 8x6"),
        Y4mWriter(path, 8, 6, "mono") as w,
    ):
        w.write(colour_frames(1)[0])
        w.write(np.zeros((6, 4), np.uint8))
    assert path.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["clip.y4m"]
    with pytest.raises(ValueError, match="4:2:0 needs an even width and height, got 7x6"):
        Y4mWriter(path, 7, 6, "420")
    with (
        pytest.raises(ValueError, match=r"expected uint8 BGR \(H, W, 3\) or gray \(H, W\), got float32"),
        Y4mWriter(path, 8, 6, "444") as w,
    ):
        w.write(np.zeros((6, 8, 3), np.float32))
    assert path.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["clip.y4m"]


@pytest.mark.parametrize("text, want", [("30", (30, 1)), ("29.97", (2997, 100)), ("30000:1001", (30000, 1001))])
def test_parse_fps(text, want):
    fps = parse_fps(text)
    assert (fps.numerator, fps.denominator) == want


@pytest.mark.parametrize("text", ["0", "-5", "1:0", "abc", "nan"])
def test_parse_fps_refuses(text):
    with pytest.raises(ValueError, match="frame rate must be"):
        parse_fps(text)


# ---------------------------------------------------------------- bluefire record
def bluefire(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "training.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def write_folder(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir()
    for k, f in enumerate(frames):
        assert cv2.imwrite(str(folder / f"{k:04d}.png"), f)
    (folder / "labels.txt").write_text("not an image\n")
    return folder


def test_record_gray_folder_is_mono_and_exact(tmp_path):
    gray = [f[:, :, 0] for f in colour_frames(7)]
    folder = write_folder(tmp_path / "clip", gray)
    r = bluefire("record", str(folder), "-o", str(tmp_path / "out.y4m"), "--fps", "25")
    assert r.returncode == 0, r.stderr
    assert "out.y4m: 7 frame(s), 8x6, Cmono, F25:1" in r.stdout and "record: 7/7 frame(s)" in r.stderr
    with Y4mReader(tmp_path / "out.y4m") as rd:
        items = read_all(rd)
    assert len(items) == 8 and all(np.array_equal(img, g) for (_, img, _), g in zip(items, gray))


def test_record_colour_folder_is_420_or_444(tmp_path):
    frames = colour_frames(4)
    folder = write_folder(tmp_path / "clip", frames)
    assert bluefire("record", str(folder), "-o", str(tmp_path / "a.y4m"), "--frames", "3").returncode == 0
    assert bluefire("record", str(folder), "-o", str(tmp_path / "b.y4m"), "--chroma", "444").returncode == 0
    with Y4mReader(tmp_path / "a.y4m") as a, Y4mReader(tmp_path / "b.y4m") as b:
        assert (a.header.chroma, a.frame_count(), b.header.chroma, b.frame_count()) == ("420jpeg", 3, "444", 4)
        np.testing.assert_array_equal(a.read()[1], cv2.cvtColor(frames[0], cv2.COLOR_BGR2YUV_I420))
        assert b.header.color_range == "FULL" and rgb_error(b.read()[1], "YUV", frames[0]) <= 3


def test_record_a_video_file_keeps_its_frame_rate(tmp_path):
    import pipeline_fixtures as F

    video = F.clip("bikes.mp4")
    r = bluefire("record", str(video), "-o", str(tmp_path / "bikes.y4m"), "--frames", "4", "--quiet")
    assert r.returncode == 0, r.stderr
    cap = cv2.VideoCapture(str(video))
    want = [cap.read()[1] for _ in range(4)]
    with Y4mReader(tmp_path / "bikes.y4m") as rd:
        assert rd.header.chroma == "420jpeg" and rd.frame_count() == 4
        assert abs(float(rd.header.fps) - cap.get(cv2.CAP_PROP_FPS)) < 1e-3
        for bgr in want:
            np.testing.assert_array_equal(rd.read()[1], cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420))


def test_record_refusals_and_failures(tmp_path):
    folder = write_folder(tmp_path / "clip", [f[:, :, 0] for f in colour_frames(4)])
    out = tmp_path / "out.y4m"
    cases = [
        (["record", str(folder), "-o", str(tmp_path / "out.mp4")], 2, "expected a .y4m file name"),
        (["record", "0", "-o", str(out)], 2, "a device has no end: give --frames N"),
        (["record", str(folder), "-o", str(out), "--frames", "0"], 2, "--frames must be >= 1"),
        (["record", str(folder), "-o", str(out), "--fps", "0"], 2, "--fps: frame rate must be > 0"),
        (["record", str(folder), "-o", str(tmp_path)], 2, "expected a .y4m file name"),
        (["record", str(tmp_path / "gone"), "-o", str(out)], 2, "gone: no such file or folder"),
        (["record", str(folder), "-o", str(out), "--max-pixels", "10"], 1, "over max_pixels 10"),
    ]
    for args, code, text in cases:
        r = bluefire(*args)
        assert r.returncode == code and text in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    (folder / "0002.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    r = bluefire("record", str(folder), "-o", str(out))
    assert r.returncode == 1 and "frame 2:" in r.stderr and "cannot be decoded" in r.stderr, r.stderr
    assert not out.exists() and os.listdir(tmp_path) == ["clip"]
    # a colour frame after gray ones: auto chose mono, which would drop the colour
    write_folder(tmp_path / "mixed", [colour_frames(1)[0][:, :, 0], colour_frames(1)[0]])
    r = bluefire("record", str(tmp_path / "mixed"), "-o", str(out))
    assert r.returncode == 1 and "frame 1 of" in r.stderr and "--chroma 420" in r.stderr
    assert not out.exists()
