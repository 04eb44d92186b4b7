"""Metadata keys that `bluefire export` writes into ONNX files and every backend reads."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .preprocess import METADATA_KEY as PREPROCESSING_KEY
from .preprocess import Preprocessing

FORMAT_VERSION = "1"
ARCH_KEY = "bluefire.arch"
WIDTHS_KEY = "bluefire.widths"
VERSION_KEY = "bluefire.format_version"
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
# The largest model file either backend reads (the native reader's _native.MAX_MODEL_BYTES is the same).
MAX_MODEL_BYTES = 1 << 30


@dataclass(frozen=True)
class ModelMeta:
    """What a bluefire ONNX file says about itself: architecture, widths, preprocessing."""

    arch: str
    widths: dict  # {"conv1": int, "fires": [[s, e1, e3] x 8]}
    preprocessing: Preprocessing

    def to_metadata(self) -> dict[str, str]:
        return {
            VERSION_KEY: FORMAT_VERSION,
            ARCH_KEY: self.arch,
            WIDTHS_KEY: json.dumps(self.widths),
            PREPROCESSING_KEY: self.preprocessing.to_json(),
        }

    @staticmethod
    def from_metadata(meta: Mapping[str, str], source: str = "model") -> ModelMeta:
        for key in (ARCH_KEY, WIDTHS_KEY, VERSION_KEY):
            if key not in meta:
                raise ValueError(f"{source}: no '{key}' metadata; was it exported with `bluefire export`?")
        if meta[VERSION_KEY] != FORMAT_VERSION:
            raise ValueError(
                f"{source}: '{VERSION_KEY}' is {meta[VERSION_KEY]!r}, this runtime reads {FORMAT_VERSION!r}"
            )
        try:
            widths = json.loads(meta[WIDTHS_KEY])
        except json.JSONDecodeError as e:
            raise ValueError(f"{source}: '{WIDTHS_KEY}' is not valid JSON ({e})") from None
        return ModelMeta(meta[ARCH_KEY], widths, Preprocessing.from_metadata(meta, source))


def read_metadata(path: str | os.PathLike) -> ModelMeta:
    """The bluefire metadata of an ONNX file, read with the `onnx` package (training-side tools: bench,
    model cards, floor); no session is built. ValueError names the file."""
    import onnx

    path = os.fspath(path)
    try:
        proto = onnx.load(path, load_external_data=False)
    except Exception as e:  # onnx raises DecodeError, OSError, ...
        raise ValueError(f"{path}: not a readable ONNX file ({type(e).__name__}: {e})") from None
    return meta_of_proto(proto, path)


def meta_of_proto(proto: Any, source: str) -> ModelMeta:
    """The bluefire metadata of a loaded onnx.ModelProto."""
    return ModelMeta.from_metadata({p.key: p.value for p in proto.metadata_props}, source)
