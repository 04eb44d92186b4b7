"""What `bluefire bench` times and against what: the built-in cases, the torch twin of an ONNX model, its MAC
counts, and the machine's measured fp32 peak. Host side (torch, onnx); the timing itself is
rtmaps_components.bench_runners."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtmaps_components.bench_runners import Runner, timed
from rtmaps_components.model_meta import meta_of_proto, read_metadata

# Widths of a real 80 %-pruned SqueezeNet 1.1 (the 40x40 model shipped before the 64x64 one), fixed
# so this case stays comparable across runs: the odd channel counts a pruned network really has.
PRUNED80 = {
    "conv1": 37,
    "fires": [
        [11, 35, 41],
        [14, 31, 55],
        [23, 40, 58],
        [24, 30, 57],
        [24, 46, 56],
        [24, 59, 62],
        [28, 59, 69],
        [39, 96, 97],
    ],
}
# Built-in cases, random weights (timing does not depend on them): name -> (arch, size, classes, widths or None)
BUILTIN = {
    "squeezenet1_1-224-1000": ("squeezenet1_1", 224, 1000, None),
    "squeezenet1_1-32-10": ("squeezenet1_1", 32, 10, None),
    "squeezenet1_1-64-10": ("squeezenet1_1", 64, 10, None),
    "squeezenet1_1-64-10-pruned80": ("squeezenet1_1", 64, 10, PRUNED80),
}


def export_builtin(d: Path, cases: str = "all") -> list[Path]:
    """The built-in cases as ONNX files in `d` (random weights, seeded)."""
    import torch

    from rtmaps_components.preprocess import Preprocessing

    from .export import export_onnx
    from .model import SqueezeNet, Widths

    names = list(BUILTIN) if cases == "all" else [c.strip() for c in cases.split(",") if c.strip()]
    unknown = [n for n in names if n not in BUILTIN]
    if unknown:
        raise ValueError(f"--cases: unknown case(s) {', '.join(unknown)}; expected some of {', '.join(BUILTIN)}")
    out = []
    for name in names:
        arch, size, classes, widths = BUILTIN[name]
        torch.manual_seed(0)
        prep = Preprocessing((size, size), tuple(f"class{i}" for i in range(classes)))
        w = Widths.from_dict(widths, name) if widths else None
        out.append(export_onnx(SqueezeNet(arch, classes, w), prep, d / f"{name}.onnx"))
    return out


def torch_model(path: Path):
    """The same network in torch eager, its weights read from the ONNX initializers."""
    import onnx
    import torch
    from onnx import numpy_helper

    from .model import Widths, build

    proto = onnx.load(str(path))  # with the weights: the twin is built from them
    meta = meta_of_proto(proto, str(path))
    model = build(
        meta.arch,
        meta.preprocessing.num_classes,
        Widths.from_dict(meta.widths, str(path)),
        in_planes=meta.preprocessing.channels,
    )
    inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in proto.graph.initializer}
    state = model.state_dict()
    for k in state:  # the exporter drops all-zero biases
        state[k] = inits.get(k, torch.zeros_like(state[k]))
    model.load_state_dict(state)
    return model.eval()


def model_macs(path: Path, native_macs: int | None) -> tuple[int, int | None, tuple[int, int, int]]:
    """(plain MAC count, fewest-multiply count or None, input planes and size) of a model file."""
    from .floor import floor_macs
    from .model import Widths, count_macs

    meta = read_metadata(path)
    h, w = meta.preprocessing.input_size
    c = meta.preprocessing.channels
    if h == w:
        args = (Widths.from_dict(meta.widths), meta.arch, meta.preprocessing.num_classes, h, c)
        return count_macs(*args), floor_macs(*args), (c, h, w)
    return int(native_macs or 0), None, (c, h, w)


def measure_peak_gflops() -> float:
    """Single-thread fp32 GEMM throughput (torch.mm 1024^3, best of 30): the machine's practical peak.

    The best of many short runs, so that on a shared machine at least one lands in a quiet moment.
    """
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    mm = timed(lambda: torch.mm(a, b))
    mm()
    best = min(mm() for _ in range(30))
    torch.set_num_threads(old)
    return 2 * 1024**3 / best / 1e9


def torch_runners(path: Path, threads: int, variants: str) -> list[Runner]:
    import torch

    torch.set_num_threads(threads)
    model = torch_model(path)

    def run_torch(x: np.ndarray):
        torch.set_num_threads(threads)  # global in torch: set per call, as thread counts are interleaved
        with torch.inference_mode():
            return model(torch.from_numpy(x))

    return [Runner("torch", "eager", run_torch)]
