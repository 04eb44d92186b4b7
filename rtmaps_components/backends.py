"""Load a bluefire ONNX model for inference on the native engine or ONNX Runtime, with one API.

Every failure names the file and what was wrong with it (missing, not a regular file, too large,
not ONNX, not a bluefire export, a bad preprocessing field, inconsistent shapes, non-finite weights),
so a component can pass the message straight to `report_error`. This module is the one place that
imports onnxruntime and creates its sessions (`ort_session`), and the one place the native code gets
its preprocessing (`native_preprocessing_fields`, for an engine and for the standalone preprocessor).
"""

from __future__ import annotations

import os
import platform
import stat
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model_meta import INPUT_NAME, MAX_MODEL_BYTES, OUTPUT_NAME, ModelMeta
from .preprocess import Preprocessing, frame_to_rgb8

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


# The frame layouts the native preprocessing reads as they are, and their bytes per pixel.
NATIVE_FRAME_PLANES = {"RGB": 3, "BGR": 3, "GRAY": 1, "RGBA": 4, "BGRA": 4}
_U8 = np.dtype(np.uint8)
# a frame's shape after (H, W) that the native code reads as it is: (H, W, planes), and (H, W) for gray
_NATIVE_FRAME_TAILS = {seq: ((n,), ()) if n == 1 else ((n,),) for seq, n in NATIVE_FRAME_PLANES.items()}


def native_preprocessing_fields(p: Preprocessing) -> dict:
    """The contract as the native binding takes it (Engine.set_preprocessing, _native.Preprocessor)."""
    return {
        "height": p.input_size[0],
        "width": p.input_size[1],
        "channels": p.channels,
        "color": p.color,
        "resize": p.resize,
        "scale": p.scale,
        "mean": list(p.mean),
        "std": list(p.std),
        "channel_order": p.channel_order,
    }


def native_preprocessor(p: Preprocessing) -> Any:
    """A `_native.Preprocessor` for `p`, or None when the native module is not built or `p` is not bilinear
    (the only resize it implements): then the caller uses `Preprocessing.apply` (OpenCV)."""
    if p.resize != "bilinear" or not native_status()[0]:
        return None
    from . import _native

    return _native.Preprocessor(**native_preprocessing_fields(p))


@dataclass
class LoadedModel:
    """A ready model: `run` takes float32 NCHW, `classify` one uint8 image in any channel_seq."""

    path: str
    backend: str
    meta: ModelMeta
    threads: int
    _impl: Any
    _prep_native: Any = None  # native_preprocessor(prep): classify_frame's preprocessing, on both backends

    def __post_init__(self) -> None:
        # classify_frame's one-call path: the native engine, whose preprocessing is set for bilinear models
        self._one_call = self.backend == "native" and self._prep_native is not None

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
        """float32 (N, C, H, W) (C = the preprocessing's channels) -> float32 (N, num_classes) logits.

        Non-finite input (NaN, Inf) is refused with ValueError on both backends."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.backend == "native":  # refuses non-finite input itself
            return np.asarray(self._impl.run(x), dtype=np.float32)
        if not np.isfinite(x).all():  # the same rule as the native engine's: refused, never propagated
            raise ValueError(
                f"{self.path}: run() input holds a non-finite value (NaN or Inf); non-finite input is refused"
            )
        return self._impl.run([OUTPUT_NAME], {INPUT_NAME: x})[0]

    def classify(self, image: np.ndarray, channel_seq: str = "RGB") -> np.ndarray:
        """One uint8 image -> (num_classes,) logits, preprocessed by the shared `Preprocessing.apply`."""
        return self.run(self.prep.apply(image, channel_seq))[0]

    def classify_frame(
        self, image: np.ndarray, channel_seq: str = "RGB", bayer: str = "none", out: np.ndarray | None = None
    ) -> np.ndarray:
        """One frame as delivered -> (num_classes,) logits, preprocessed in C++ whenever the native module is
        built and the model is bilinear, on BOTH backends: the network's input is then the same bytes on x86
        and aarch64 (OpenCV's INTER_LINEAR is not: tests/aarch64/ORT_ON_ARMV8.0.md), each resized value within
        one level of `Preprocessing.apply`. An 8-bit RGB, BGR, GRAY, RGBA or BGRA frame goes to the native code
        as it is (on the native backend, one call: preprocessing and inference); YUV, Bayer and 16-bit frames
        are first converted to RGB (or their luma, for a gray model) by OpenCV (`frame_to_rgb8`), then resized
        natively. Without the native module, or for an area/nearest model: `classify` (OpenCV throughout).
        `out`, a float32 (num_classes,) array, receives the logits on the native one-call path (the classifier
        reuses one per run); other paths return a new array."""
        if (  # the per-frame case first, in as few Python steps as it takes: the checks are the native call's
            self._prep_native is not None
            and bayer == "none"
            and channel_seq in NATIVE_FRAME_PLANES
            and type(image) is np.ndarray
            and image.dtype == _U8
            and image.flags.c_contiguous
            and image.ndim >= 2
            and image.shape[2:] in _NATIVE_FRAME_TAILS[channel_seq]  # else OpenCV's refusal names the layout
        ):
            if self._one_call:
                return self._impl.run_image(image, channel_seq, out)
            # ONNX Runtime: run()'s finiteness check is skipped, the native preprocessing's output being finite
            # by construction (uint8 through a scale, mean and std checked finite when the model loaded)
            return self._impl.run([OUTPUT_NAME], {INPUT_NAME: self._prep_native.run(image, channel_seq)})[0][0]
        if self._prep_native is None:
            if bayer != "none":
                return self.run(self.prep.apply(image, channel_seq, bayer))[0]
            return self.classify(image, channel_seq)
        seq = str(channel_seq).upper()
        direct = (
            bayer == "none"
            and seq in NATIVE_FRAME_PLANES
            and isinstance(image, np.ndarray)
            and image.dtype == np.uint8
            and (
                (image.ndim == 3 and image.shape[2] == NATIVE_FRAME_PLANES[seq]) or (image.ndim == 2 and seq == "GRAY")
            )
        )
        if not direct:  # OpenCV's conversion (its errors name the layout and the fix), the resize here
            image = frame_to_rgb8(image, channel_seq, bayer, luma_only=self.prep.color == "gray")
            seq = "GRAY" if image.shape[2] == 1 else "RGB"
        image = np.ascontiguousarray(image)
        if self.backend == "native":
            return self._impl.run_image(image, seq, out)
        return self.run(self._prep_native.run(image, seq))[0]


def check_model_file(path: str | os.PathLike) -> str:
    """The one rule for model files, on both backends: a str or path-like naming a regular file of at
    most MAX_MODEL_BYTES, checked before anything is read (/dev/zero, a FIFO, a directory are refused).
    Returns the path as a str; ModelLoadError otherwise."""
    try:
        path = os.fspath(path)
    except TypeError:
        raise ModelLoadError(f"the model path must be a str or a path-like, got {type(path).__name__}") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ModelLoadError("no model file given (property 'model_file' is empty)")
    try:
        st = os.stat(path)
    except OSError as e:
        raise ModelLoadError(
            f"{path}: no such model file"
            if isinstance(e, FileNotFoundError)
            else f"{path}: cannot read the model file ({e.strerror})"
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelLoadError(f"{path}: is not a regular file")
    if st.st_size > MAX_MODEL_BYTES:
        raise ModelLoadError(f"{path}: is {st.st_size} bytes, more than the {MAX_MODEL_BYTES} a model may have")
    return path


def onnxruntime_status() -> tuple[bool, str]:
    """(usable, reason) without importing onnxruntime: a known-crashing build is refused, not loaded.

    onnxruntime 1.28 and later die with SIGSEGV inside `import onnxruntime` on aarch64 Linux when
    /proc/cpuinfo lists no ARM cores (qemu-user on an x86 host, some containers): their cpuinfo code
    writes through a NULL cache table (tests/aarch64/ORT_ON_ARMV8.0.md). pyproject pins aarch64 below 1.28.
    """
    from importlib import metadata

    try:
        version = metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:
        return False, "onnxruntime is not installed (pip install bluefire's wheel, or 'onnxruntime<1.28' on aarch64)"
    if platform.machine() in ("aarch64", "arm64") and sys.platform.startswith("linux"):
        major_minor = tuple(int(p) for p in (version.split(".") + ["0"])[:2] if p.isdigit())
        if major_minor >= (1, 28) and not _cpuinfo_lists_arm_cores():
            return False, (
                f"onnxruntime {version} crashes on import on this aarch64 system (/proc/cpuinfo lists "
                "no ARM cores); install 'onnxruntime<1.28' (see tests/aarch64/ORT_ON_ARMV8.0.md)"
            )
    return True, f"onnxruntime {version}"


def _cpuinfo_lists_arm_cores() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return "CPU implementer" in f.read()
    except OSError:
        return False


def thread_limit(backend: str) -> int:
    """The most threads `backend` accepts: the native engine's own limit (_native.MAX_THREADS), and for
    ONNX Runtime this machine's CPU count (more only oversubscribes the cores)."""
    if backend == "native":
        from . import _native

        return int(_native.MAX_THREADS)
    return os.cpu_count() or 1


def check_threads(backend: str, threads: object) -> int:
    """The one threads rule of the runtime: an integer, 0 = the backend's default (native: 1, ONNX
    Runtime: its own choice), else 1..thread_limit(backend). Returns the count to give the backend."""
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise ModelLoadError(f"threads must be an integer, got {threads!r}")
    limit = thread_limit(backend)
    if not 0 <= threads <= limit:
        raise ModelLoadError(f"threads must be 0 (default) or 1..{limit} on backend '{backend}', got {threads}")
    return 1 if backend == "native" and threads == 0 else threads


def ort_session(path: str | os.PathLike, threads: int = 0) -> Any:
    """The one place an ONNX Runtime CPU session is created (load_model, evaluate, export's parity check,
    bench). `threads`: validated by check_threads (0 = ONNX Runtime's default). ModelLoadError names the file."""
    path = check_model_file(path)
    threads = check_threads("onnxruntime", threads)
    ok, why = onnxruntime_status()
    if not ok:
        raise ModelLoadError(f"{path}: backend 'onnxruntime' unusable: {why}")
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ModelLoadError(f"{path}: backend 'onnxruntime' unusable: import onnxruntime failed ({e})") from None

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    # Intra-op workers stop spinning when a run returns: by default they spin on ~38 ms more (ORT
    # 1.30, 2 threads), so at 30 frames/s and 4 threads three cores would never idle, taken from the
    # diagram's other components (camera decoding, meters). Latency cost 0-6 % at 2 threads on the
    # 2-core host; no spinning at all, even within a run, -16 to +12 % (native/tools/ort_spin.py,
    # native/evidence/threads-2core/ort_spin.txt).
    opts.add_session_config_entry("session.force_spinning_stop", "1")
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises several private exception types for unreadable files
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"{path}: not a readable ONNX model ({first})") from None


def _check_io(path: str, inputs: list[str], outputs: list[str]) -> None:
    """Both backends: one input named INPUT_NAME, an output named OUTPUT_NAME."""
    if inputs != [INPUT_NAME] or OUTPUT_NAME not in outputs:
        raise ModelLoadError(
            f"{path}: expected input '{INPUT_NAME}' and output '{OUTPUT_NAME}', found inputs "
            f"{inputs} and outputs {outputs}"
        )


def _load_onnxruntime(path: str, threads: int) -> tuple[Any, ModelMeta]:
    sess = ort_session(path, threads)
    meta = _read_meta(sess.get_modelmeta().custom_metadata_map, path)
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    _check_io(path, [i.name for i in inputs], [o.name for o in outputs])
    shape = inputs[0].shape
    h, w = meta.preprocessing.input_size
    c = meta.preprocessing.channels
    if len(shape) != 4 or shape[1] != c or shape[2:] != [h, w]:
        raise ModelLoadError(
            f"{path}: input '{INPUT_NAME}' has shape {shape}, the metadata says [batch, {c}, {h}, {w}]"
        )
    return sess, meta


def _read_meta(mapping: Any, path: str) -> ModelMeta:
    try:
        return ModelMeta.from_metadata(dict(mapping), source=path)
    except ValueError as e:
        raise ModelLoadError(str(e)) from None


def native_engine(path: str | os.PathLike, threads: int = 1, variant: str = "auto") -> tuple[Any, ModelMeta]:
    """A `_native.Engine` with the model's preprocessing set from its metadata (parsed once, here, by
    ModelMeta), and that metadata. ModelLoadError names the file and the field or reason."""
    from . import _native

    path = check_model_file(path)
    threads = check_threads("native", threads)
    try:
        eng = _native.Engine(path, threads, variant)
    except ValueError as e:
        raise ModelLoadError(f"{path}: the native engine refused it ({e})") from None
    meta = _read_meta(eng.metadata, path)
    _check_io(path, [eng.input_name], [eng.output_name])
    if int(eng.num_classes) != meta.preprocessing.num_classes:
        raise ModelLoadError(
            f"{path}: the network has {eng.num_classes} outputs, the metadata names "
            f"{meta.preprocessing.num_classes} classes"
        )
    try:
        eng.set_preprocessing(**native_preprocessing_fields(meta.preprocessing))
    except ValueError as e:  # the metadata disagrees with the graph's input
        raise ModelLoadError(str(e)) from None
    return eng, meta


def load_model(path: str | os.PathLike, backend: str = "auto", threads: int = 1, variant: str = "auto") -> LoadedModel:
    """Load `path` on `backend` ("auto" = native when built, else ONNX Runtime); ModelLoadError if unusable.

    threads: see check_threads (0 = the backend's default)."""
    if backend not in BACKENDS:
        raise ModelLoadError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    path = check_model_file(path)
    if backend == "auto":  # never a runtime that would crash the process (onnxruntime_status)
        if native_status()[0]:
            backend = "native"
        elif not onnxruntime_status()[0]:
            raise ModelLoadError(f"{path}: no usable backend: {native_status()[1]}; {onnxruntime_status()[1]}")
        else:
            backend = "onnxruntime"
    if backend == "native":
        ok, why = native_status()
        if not ok:
            raise ModelLoadError(f"{path}: backend 'native' requested but {why}")
        impl, meta = native_engine(path, threads, variant)
    else:
        impl, meta = _load_onnxruntime(path, threads)
    n = meta.preprocessing.num_classes
    out = LoadedModel(
        path,
        backend,
        meta,
        int(impl.threads) if backend == "native" else threads,
        impl,
        native_preprocessor(meta.preprocessing),
    )
    probe = out.run(np.zeros((1, meta.preprocessing.channels, *meta.preprocessing.input_size), np.float32))
    if probe.shape != (1, n):
        raise ModelLoadError(
            f"{path}: output '{OUTPUT_NAME}' has shape {probe.shape[1:]}, the metadata names {n} classes"
        )
    if not np.isfinite(probe).all():  # the native reader refuses such weights itself; ONNX Runtime does not
        raise ModelLoadError(f"{path}: a zero image gives non-finite scores; the weights hold NaN or Inf")
    return out
