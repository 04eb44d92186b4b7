"""Image files as the camera reads them from a folder: checked before they are decoded.

No RTMaps and no OpenCV here: the header checks (size from PNG, JPEG, BMP or PNM headers, truncated JPEG)
and the read of one regular file, so they are testable and reusable on their own.
"""

import os
import stat
import struct

MAX_IMAGE_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000  # a 8K UHD frame is 33 MP; a 20000x20000 "PNG bomb" is 400 MP


def image_size(data):
    """(width, height) from a PNG, JPEG, BMP or PNM header, or None when the format is not one of those."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return (0, 0)  # not a marker where one must be: corrupt
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame segment
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + length
        return (0, 0)
    if data[:1] == b"P" and data[1:2] in b"123456":
        parts = data[2:64].split()
        try:
            return int(parts[0]), int(parts[1])
        except (ValueError, IndexError):
            return (0, 0)
    return None


def check_image_file(path, data, max_pixels):
    """Why an image file must not be decoded (oversized, truncated), or None."""
    size = image_size(data)
    if size is not None:
        w, h = size
        if w <= 0 or h <= 0:
            return "has a corrupt header"
        if w * h > max_pixels:
            return f"declares {w}x{h} pixels, over max_pixels {max_pixels}"
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        return "is a truncated JPEG (no end-of-image marker)"
    return None


def open_regular_file(path):
    """(fd, fstat result) of `path` opened read-only; ValueError when it is not a regular file (FIFO, device,
    folder). O_NONBLOCK so that opening a FIFO with no writer returns at once instead of blocking."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_regular_file(path, limit):
    """The bytes of a regular file of at most `limit` bytes; ValueError (why) for anything else.

    One open and one fstat of that descriptor (no path lookup between the size check and the read), and
    O_NONBLOCK so a FIFO named like an image cannot block the camera's Core. Reads the checked size + 1,
    not the limit: read(n) allocates n first (a 256 MiB request per frame made RSS grow under qemu)."""
    fd, st = open_regular_file(path)
    try:
        if st.st_size > limit:
            raise ValueError(f"is over {limit} bytes")
        chunks, want = [], st.st_size + 1  # +1: a file that grew since fstat is caught below
        while want > 0:
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            want -= len(chunk)
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(data) > limit:
        raise ValueError(f"is over {limit} bytes")
    return data
