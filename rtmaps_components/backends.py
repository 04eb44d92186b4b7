"""Load a bluefire ONNX model for inference on the native engine or ONNX Runtime, with one API.

Every failure names the file and what was wrong with it (missing, not ONNX, not a bluefire
export, inconsistent shapes), so a component can pass the message straight to `report_error`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model_meta import INPUT_NAME, OUTPUT_NAME, ModelMeta
from .preprocess import Preprocessing

BACKENDS = ("auto", "native", "onnxruntime")


class ModelLoadError(ValueError):
    """A model file that cannot be used; the message names the file and the reason."""


def native_status() -> tuple[bool, str]:
    """(available, reason): whether the native engine module imports here, and why not."""
    try:
        from . import _native  # noqa: F401
    except ImportError as e:
        return False, f"the native engine (rtmaps_components._native) is not built ({e}); run `make build`"
    return True, "native engine available"


NATIVE_FRAME_SEQS = ("RGB", "BGR", "GRAY", "RGBA", "BGRA")  # layouts the native engine's run_image reads


@dataclass
class LoadedModel:
    """A ready model: `run` takes float32 NCHW, `classify` one uint8 image in any channel_seq."""

    path: str
    backend: str
    meta: ModelMeta
    threads: int
    _impl: Any

    @property
    def prep(self) -> Preprocessing:
        return self.meta.preprocessing

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.prep.class_names

    @property
    def num_classes(self) -> int:
        return self.prep.num_classes

    def run(self, x: np.ndarray) -> np.ndarray:
        """float32 (N, C, H, W) (C = the preprocessing's channels) -> float32 (N, num_classes) logits."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.backend == "native":
            return np.asarray(self._impl.run(x), dtype=np.float32)
        return self._impl.run([OUTPUT_NAME], {INPUT_NAME: x})[0]

    def classify(self, image: np.ndarray, channel_seq: str = "RGB") -> np.ndarray:
        """One uint8 image -> (num_classes,) logits, preprocessed by the shared `Preprocessing.apply`."""
        return self.run(self.prep.apply(image, channel_seq))[0]

    def classify_frame(self, image: np.ndarray, channel_seq: str = "RGB") -> np.ndarray:
        """One frame as delivered -> (num_classes,) logits. On the native backend, for an 8-bit RGB, BGR, GRAY,
        RGBA or BGRA frame and a bilinear model, one native call preprocesses and classifies the frame itself
        (no Python resize or normalise, no float temporaries; each resized value within one level of
        `Preprocessing.apply`); anything else goes through `classify`."""
        if (self.backend == "native" and channel_seq in NATIVE_FRAME_SEQS and self.prep.resize == "bilinear"
                and isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.flags.c_contiguous):
            return self._impl.run_image(image, channel_seq)
        return self.classify(image, channel_seq)


def _check_file(path: str) -> None:
    if not path:
        raise ModelLoadError("no model file given (property 'model_file' is empty)")
    if not os.path.exists(path):
        raise ModelLoadError(f"{path}: no such model file")
    if not os.path.isfile(path):
        raise ModelLoadError(f"{path}: is not a file")


def _load_onnxruntime(path: str, threads: int) -> tuple[Any, ModelMeta]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises several private exception types for unreadable files
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"{path}: not a readable ONNX model ({first})") from None
    meta = _read_meta(sess.get_modelmeta().custom_metadata_map, path)
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if [i.name for i in inputs] != [INPUT_NAME] or OUTPUT_NAME not in [o.name for o in outputs]:
        raise ModelLoadError(f"{path}: expected input '{INPUT_NAME}' and output '{OUTPUT_NAME}', found inputs "
                             f"{[i.name for i in inputs]} and outputs {[o.name for o in outputs]}")
    shape = inputs[0].shape
    h, w = meta.preprocessing.input_size
    c = meta.preprocessing.channels
    if len(shape) != 4 or shape[1] != c or shape[2:] != [h, w]:
        raise ModelLoadError(f"{path}: input '{INPUT_NAME}' has shape {shape}, the metadata says [batch, {c}, {h}, {w}]")
    return sess, meta


def _read_meta(mapping: Any, path: str) -> ModelMeta:
    try:
        return ModelMeta.from_metadata(dict(mapping), source=path)
    except ValueError as e:
        raise ModelLoadError(str(e)) from None


def _load_native(path: str, threads: int, variant: str) -> tuple[Any, ModelMeta]:
    from . import _native

    try:
        eng = _native.Engine(path, threads, variant)
    except ValueError as e:
        raise ModelLoadError(f"{path}: the native engine refused it ({e})") from None
    meta = _read_meta(eng.metadata, path)
    if int(eng.num_classes) != meta.preprocessing.num_classes:
        raise ModelLoadError(f"{path}: the network has {eng.num_classes} outputs, the metadata names "
                             f"{meta.preprocessing.num_classes} classes")
    return eng, meta


def load_model(path: str, backend: str = "auto", threads: int = 1, variant: str = "auto") -> LoadedModel:
    """Load `path` on `backend` ("auto" = native when built, else ONNX Runtime); ModelLoadError if unusable."""
    if backend not in BACKENDS:
        raise ModelLoadError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if threads < 1:
        raise ModelLoadError(f"threads must be >= 1, got {threads}")
    path = os.fspath(path)
    _check_file(path)
    if backend == "auto":
        backend = "native" if native_status()[0] else "onnxruntime"
    if backend == "native":
        ok, why = native_status()
        if not ok:
            raise ModelLoadError(f"{path}: backend 'native' requested but {why}")
        impl, meta = _load_native(path, threads, variant)
    else:
        impl, meta = _load_onnxruntime(path, threads)
    n = meta.preprocessing.num_classes
    out = LoadedModel(path, backend, meta, threads, impl)
    probe = out.run(np.zeros((1, meta.preprocessing.channels, *meta.preprocessing.input_size), np.float32))
    if probe.shape != (1, n):
        raise ModelLoadError(f"{path}: output '{OUTPUT_NAME}' has shape {probe.shape[1:]}, the metadata names {n} classes")
    return out
