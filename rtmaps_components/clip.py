"""Which recorded clip a frame comes from: the camera sends `clip_id(source)` as misc3 with every frame, and
the accuracy meter compares it with the `# clip: NAME` line of its labels file, so labels are never scored
against frames of another clip."""

import os
import zlib


def clip_name(source):
    """A clip's name: its folder or file name without suffix."""
    return os.path.splitext(os.path.basename(os.path.normpath(str(source))))[0]


def clip_id(source_or_name):
    """A non-zero 31-bit id of a clip's name (0 is what a source that does not say sends)."""
    return (zlib.crc32(clip_name(source_or_name).encode("utf-8")) & 0x7FFFFFFF) or 1
