"""Inputs, outputs, FIFOs and properties of emulated components, with RTMaps' refusals.

Real RTMaps copies a written sample into the output's buffer; the emulator copies arrays and
images on write too, so a component that reuses its own buffer cannot corrupt what it sent.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import DiagramError, NoSampleError
from .sdk.rtmaps import types as T

_INT_TYPES = {"INTEGER32": np.int32, "INTEGER64": np.int64, "UINTEGER8": np.uint8, "UINTEGER64": np.uint64}
_FLOAT_TYPES = {"FLOAT32": np.float32, "FLOAT64": np.float64}
_CHANNELS = {"BGR": 3, "RGB": 3, "BGRA": 4, "RGBA": 4, "GRAY": 1, "YUV": 3}
DEFAULT_TEXT_BUFFER = 255  # [inferred] characters of a TEXT_ASCII output declared without buffer_size
# readerType codes of saved diagrams: 0 FIFO (the default), 2 what every public ImageViewer/DataViewer input
# and converter carries, 4 sampling. 2 is emulated as "wake on a new sample, read the newest" [inferred].
FIFO_READER, NEXT_READER, SAMPLING_READER = 0, 2, 4
LATEST_ONLY_READERS = (NEXT_READER, SAMPLING_READER)
IMAGE_DTYPES = (np.uint8, np.uint16, np.float32)  # 8-bit, 16-bit (mono16, depth) and float images travel
_MISC_FLAG = 0x0200  # rtmaps.core.DataTypes.CTypes.MiscFlag


def parse_count(text: str, where: str, minimum: int = 1) -> int:
    """A whole number >= `minimum` from diagram/--set text; DiagramError (one line) for inf, nan, 1e999, 2.5, words."""
    t = str(text).strip()
    try:
        v = float(t)
    except ValueError:
        raise DiagramError(f"{where}: expected an integer, got {text!r}") from None
    if not np.isfinite(v) or not v.is_integer() or abs(v) > 2**62:
        raise DiagramError(f"{where}: expected a finite integer, got {text!r}")
    if int(v) < minimum:
        raise DiagramError(f"{where}: must be >= {minimum}, got {int(v)}")
    return int(v)


def type_name(t: Any) -> str:
    return getattr(t, "name", repr(t))


def types_compatible(out_type: Any, in_type: Any) -> bool:
    """An output may feed an input of the same type; ANY and AUTO accept or give anything."""
    names = {type_name(out_type), type_name(in_type)}
    return bool(names & {"ANY", "AUTO"}) or len(names) == 1


class Fifo:
    """Bounded FIFO: pushing into a full one drops the oldest sample and counts it."""

    def __init__(self, size: int, latest_only: bool = False) -> None:
        self.size = 1 if latest_only else max(1, size)
        self.latest_only = latest_only
        self.items: deque = deque()
        self.received = 0
        self.dropped = 0
        self.overwritten = 0  # a sampling reader keeps the newest; older ones are not "drops"
        self.high_water = 0

    def push(self, item: Any) -> None:
        self.received += 1
        if len(self.items) >= self.size:
            self.items.popleft()
            if self.latest_only:
                self.overwritten += 1
            else:
                self.dropped += 1
        self.items.append(item)
        self.high_water = max(self.high_water, len(self.items))

    def pop(self) -> Any:
        return self.items.popleft()

    def pop_latest(self) -> Any:
        """The newest sample; older ones are skipped (sampling and triggered reads)."""
        item = self.items.pop()
        self.items.clear()
        return item

    def __len__(self) -> int:
        return len(self.items)


class InputPort:
    """A declared input: its FIFO (sized by the feeding output's fifosize) and the last sample read."""

    def __init__(self, owner: str, name: str, io_type: Any, index: int) -> None:
        self.owner, self.name, self.type, self.index = owner, name, io_type, index
        self.reader_type = FIFO_READER
        self.subsampling = 1
        self.fifo = Fifo(16)
        self.connected = False
        self.current: Any = None
        self._seen = 0

    def offer(self, ioelt: Any) -> None:
        self._seen += 1
        if (self._seen - 1) % self.subsampling == 0:
            self.fifo.push(ioelt)

    @property
    def ioelt(self) -> Any:
        if self.current is None:
            raise NoSampleError(f"{self.owner}.{self.name}: no sample has arrived on this input yet")
        return self.current

    def stats(self) -> dict:
        f = self.fifo
        return {
            "received": f.received,
            "dropped": f.dropped,
            "overwritten": f.overwritten,
            "fifo_size": f.size,
            "fifo_high_water": f.high_water,
            "pending": len(f),
        }


class OutputPort:
    """A declared output: validates, copies and timestamps each write, then fans it out."""

    def __init__(
        self,
        owner: str,
        name: str,
        io_type: Any,
        buffer_size: int | None,
        clock_us: Callable[[], int],
        on_write: Callable[[OutputPort], None],
    ) -> None:
        self.owner, self.name, self.type = owner, name, io_type
        tn = self._tn = type_name(io_type)
        self._where = f"{owner}.{name}"
        if isinstance(buffer_size, (int, np.integer)) and not isinstance(buffer_size, bool) and buffer_size == 0:
            buffer_size = None  # public components pass 0 for "the default size"
        self.declared_buffer = 0 if buffer_size is None else buffer_size  # what the bridge caches (internalOutputs)
        if buffer_size is None and tn not in ("AUTO", "ANY", "STREAM8"):  # a byte stream: unbounded [inferred]
            buffer_size = DEFAULT_TEXT_BUFFER if tn == "TEXT_ASCII" else 1
        if buffer_size is not None and (not isinstance(buffer_size, int) or buffer_size < 1):
            raise DiagramError(f"{owner}.{name}: buffer_size must be a positive int, got {buffer_size!r}")
        self.buffer_size = buffer_size
        self.fifosize = 16
        self.subsampling = 1
        self.periodic = False
        self.targets: list[InputPort] = []
        self.written = 0
        self.last: Any = None
        self._clock_us = clock_us
        self._on_write = on_write
        self.misc_dropped = 0  # writes whose misc1..3 did not travel (Ioelt.type without MiscFlag)
        self.write_ns = 0  # time spent in write() (the emulator's I/O), summed
        self.on_misc_dropped: Callable[[OutputPort], None] | None = None

    def alloc_output_buffer(self, n: int) -> None:
        """Pre-size a vector output to `n` elements (characters for text)."""
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{self.owner}.{self.name}: alloc_output_buffer needs a positive int, got {n!r}")
        self.buffer_size = int(n)

    def write(self, x: Any, ts: int | None = None) -> None:
        t0 = time.perf_counter_ns()
        try:
            self._write(x, ts)
        finally:  # the emulator's share of a Core (checks, copy, fan-out), not the component's
            self.write_ns += time.perf_counter_ns() - t0

    def _write(self, x: Any, ts: int | None) -> None:
        out = T.Ioelt()
        if isinstance(x, T.Ioelt):
            data, stamp = x.data, x.ts
            out.frequency = x.frequency
            if isinstance(x.type, int) and x.type & _MISC_FLAG:
                out.misc1, out.misc2, out.misc3 = x.misc1, x.misc2, x.misc3
            elif x.misc1 or x.misc2 or x.misc3:
                # as in Intempora's examples, misc fields travel only when Ioelt.type carries MiscFlag
                self.misc_dropped += 1
                if self.on_misc_dropped is not None:
                    self.on_misc_dropped(self)
        else:
            data, stamp = x, None
        if ts is not None:
            stamp = ts
        out.data, out.vector_size = self._checked_copy(data)
        out.ts = int(self._clock_us() if stamp is None else stamp)
        out.type = self.type
        self.written += 1
        self.last = out
        if (self.written - 1) % self.subsampling == 0:
            for target in self.targets:
                target.offer(out)
        self._on_write(self)

    def _checked_copy(self, data: Any) -> tuple[Any, int]:
        """Copy `data` as the output's type allows; TypeError/ValueError name the port."""
        where, tn = self._where, self._tn
        if tn == "IPL_IMAGE" or isinstance(data, T.IplImage):
            if not isinstance(data, T.IplImage):
                raise TypeError(
                    f"{where}: an IPL_IMAGE output needs an rtmaps.types.IplImage, got {type(data).__name__}"
                )
            return _copy_image(data, where), 1
        if tn == "TEXT_ASCII":
            if not isinstance(data, str):
                raise TypeError(f"{where}: a TEXT_ASCII output needs a str, got {type(data).__name__}")
            n = len(data)
        elif tn in _FLOAT_TYPES or tn in _INT_TYPES:
            if isinstance(data, (int, np.integer)) and not isinstance(data, bool):  # the common scalar case
                return (float(data) if tn in _FLOAT_TYPES else int(data)), 1
            if isinstance(data, (float, np.floating)) and tn in _FLOAT_TYPES:
                return float(data), 1
            dtype = _FLOAT_TYPES.get(tn) or _INT_TYPES[tn]
            if isinstance(data, np.ndarray) and data.dtype == dtype and data.ndim == 1:  # already right: copy
                self._check_size(data.size)
                return data.copy(), data.size
            arr = np.asarray(data)
            kind = "fc" if tn in _FLOAT_TYPES else "iub"
            if arr.dtype.kind not in kind + ("iub" if tn in _FLOAT_TYPES else ""):
                raise TypeError(f"{where}: a {tn} output cannot carry {arr.dtype} data")
            n = int(arr.size)
            data = arr.astype(dtype).reshape(-1) if arr.ndim else dtype(arr).item()
        elif tn == "STREAM8" or isinstance(data, (bytes, bytearray, memoryview)):
            # the real bridge hands byte streams to Python as numpy uint8 arrays, not bytes
            arr = np.frombuffer(bytes(data), np.uint8).copy() if not isinstance(data, np.ndarray) else data
            if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8:
                raise TypeError(f"{where}: a STREAM8 output carries bytes or a uint8 array, got {type(data).__name__}")
            n, data = int(arr.size), arr.reshape(-1).copy()
        else:
            n = len(data) if hasattr(data, "__len__") and not isinstance(data, str) else 1
            if isinstance(data, np.ndarray):
                data = data.copy()
            elif (
                isinstance(data, (list, tuple))
                and data
                and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in data)
            ):
                data = np.asarray(data)  # numeric vectors reach Python inputs as numpy arrays
            elif isinstance(data, list):
                data = list(data)
        self._check_size(n)
        return data, n

    def _check_size(self, n: int) -> None:
        if self.buffer_size is not None and n > self.buffer_size:
            raise ValueError(
                f"{self._where}: wrote {n} elements into a buffer of {self.buffer_size} "
                f"(size it with add_output(..., buffer_size) or alloc_output_buffer)"
            )

    def stats(self) -> dict:
        out: dict = {"written": self.written, "connections": [f"{t.owner}.{t.name}" for t in self.targets]}
        last = None if self.last is None else self.last.data
        if isinstance(last, str):
            out["last"] = last
        elif isinstance(last, (int, float)) or (isinstance(last, np.ndarray) and last.size <= 32):
            out["last"] = np.asarray(last).tolist()
        elif isinstance(last, list) and len(last) <= 32:
            out["last"] = list(last)
        return out


def _copy_image(img: Any, where: str) -> Any:
    a = img.image_data
    if not isinstance(a, np.ndarray) or a.dtype not in IMAGE_DTYPES or a.ndim not in (2, 3) or 0 in a.shape:
        desc = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise ValueError(
            f"{where}: broken frame: image_data must be a non-empty uint8, uint16 or float32 "
            f"(H, W[, C]) array, got {desc}"
        )
    seq = str(img.channel_seq).upper()
    channels = 1 if a.ndim == 2 else a.shape[2]
    if seq in _CHANNELS and _CHANNELS[seq] != channels:
        raise ValueError(
            f"{where}: broken frame: channel_seq {seq!r} needs {_CHANNELS[seq]} channel(s), image_data has {channels}"
        )
    out = T.IplImage()
    out.image_data = np.array(a, order="C", copy=True)
    out.color_model, out.channel_seq = img.color_model, img.channel_seq
    return out


class Property:
    """A component property: `.data` is the value (an enum's selected index), typed by its default."""

    def __init__(self, owner: str, name: str, default: Any, subtype: Any = None, flags: Any = None) -> None:
        if not isinstance(name, str) or not name or " " in name:
            raise DiagramError(f"{owner}: property names must be non-empty with no spaces, got {name!r}")
        if isinstance(flags, str):  # a description (shown by Studio as a tooltip) [inferred]
            flags = None
        self.owner, self.name, self.subtype, self.flags = owner, name, subtype, flags
        self.default = default
        self.labels: list[str] = []
        kinds = set(type_name(subtype).split("|")) | set(type_name(flags).split("|") if flags is not None else ())
        known = {"ENUM", "FILE", "PATH", "MUST_EXIST", "None"}
        if kinds - known:
            raise DiagramError(
                f"{owner}.{name}: property kind {sorted(kinds - known)} is not one of ENUM, FILE, PATH, MUST_EXIST"
            )
        self.must_exist = "MUST_EXIST" in kinds
        self.is_path = bool(kinds & {"FILE", "PATH"})
        if "ENUM" in kinds:
            self.kind = "enum"
            self.data = self._parse_enum(str(default))
        elif isinstance(default, bool):
            self.kind, self.data = "bool", default
        elif isinstance(default, int):
            self.kind, self.data = "int", default
        elif isinstance(default, float):
            self.kind, self.data = "float", default
        elif isinstance(default, str):
            self.kind, self.data = "str", default
        else:
            raise DiagramError(
                f"{owner}.{name}: property default must be bool, int, float or str, got {type(default).__name__}"
            )

    def _parse_enum(self, text: str) -> int:
        parts = text.split("|")
        try:
            count, selected = int(parts[0]), int(parts[1])
        except (ValueError, IndexError):
            raise DiagramError(
                f"{self.owner}.{self.name}: enum must read 'count|selected|label...', got {text!r}"
            ) from None
        labels = parts[2:]
        if count != len(labels) or not 0 <= selected < count:
            raise DiagramError(
                f"{self.owner}.{self.name}: enum {text!r} lists {len(labels)} labels for count {count}, "
                f"selected {selected}"
            )
        self.labels = labels
        return selected

    def get_selected_value(self) -> str:
        if self.kind != "enum":
            raise TypeError(f"{self.owner}.{self.name}: get_selected_value() is for enum properties")
        return self.labels[self.data]

    def set_from_text(self, text: str) -> None:
        """Apply a value read from a diagram or `--set` (enum: 'count|selected|labels', a label or an index)."""
        where = f"{self.owner}.{self.name}"
        t = text.strip()
        try:
            if self.kind == "enum":
                if "|" in t:
                    labels = self.labels
                    self.data = self._parse_enum(t)
                    if labels and self.labels != labels:
                        self.labels = labels
                        raise ValueError(f"the diagram's labels differ from the component's {labels}")
                elif t in self.labels:
                    self.data = self.labels.index(t)
                elif t.isdigit() and int(t) < len(self.labels):
                    self.data = int(t)
                else:
                    raise ValueError(f"expected one of {self.labels}")
            elif self.kind == "bool":
                if t.lower() not in ("true", "false", "1", "0"):
                    raise ValueError("expected true or false")
                self.data = t.lower() in ("true", "1")
            elif self.kind == "int":
                self.data = int(float(t)) if float(t).is_integer() else int(t)
            elif self.kind == "float":
                self.data = float(t)
            else:
                self.data = text
        except ValueError as e:
            raise DiagramError(f"{where}: cannot set {self.kind} property to {text!r} ({e})") from None
