"""Arithmetic floor of a SqueezeNet: the fewest multiplies any standard fp32 algorithm needs.

The benchmark's targets are ratios to ONNX Runtime; this says whether a ratio is reachable at all.
Per layer it takes the cheapest of the algorithms in use for convolutions of that shape:
direct convolution with the taps that only read padding skipped, and Winograd F(m x m, 3x3) for
m = 2, 4, 6 (F(6x6) being the largest tile commonly used in fp32; larger tiles lose accuracy).
Transforms, weight traffic and every other overhead are left out, so it is a lower bound on time:
floor_ms = 2 * MACs / peak. Nothing here knows about the native engine's choices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .model import _STEM_KERNEL, FIRE_NAMES, Widths, feature_sizes

WINOGRAD_TILES = (2, 4, 6)  # output tile side m of F(m x m, 3x3); input tile m + 2


def direct_3x3_taps(side: int) -> int:
    """Multiplies per (input, output) channel pair of a 3x3 pad-1 stride-1 convolution on a side x side
    map, counting only taps that land inside the map: per axis 3 per pixel, minus one at each edge."""
    return (3 * side - 2) ** 2


def winograd_3x3_mults(side: int, m: int) -> int:
    """Multiplies per channel pair of Winograd F(m x m, 3x3) covering a side x side output."""
    return math.ceil(side / m) ** 2 * (m + 2) ** 2


def best_3x3(side: int) -> tuple[str, int]:
    """The cheapest algorithm for a 3x3 pad-1 convolution on this map and its multiplies per pair."""
    options = [("direct", direct_3x3_taps(side))] + [
        (f"F({m}x{m})", winograd_3x3_mults(side, m)) for m in WINOGRAD_TILES
    ]
    return min(options, key=lambda o: o[1])


@dataclass(frozen=True)
class LayerFloor:
    name: str
    direct_macs: int  # the plain count (every tap, padding included), as count_macs
    floor_macs: int
    algorithm: str


def layer_floors(widths: Widths, arch: str, num_classes: int, size: int, planes: int = 3) -> list[LayerFloor]:
    """Per convolution, its plain MAC count and the fewest multiplies of the algorithms above.

    planes: the stem's input planes (1 for a gray model whose stem export folded)."""
    fs = feature_sizes(arch, size)
    k = _STEM_KERNEL[arch]
    stem = widths.conv1 * planes * k * k * fs["conv1"] ** 2  # strided: no Winograd in common use
    out = [LayerFloor("conv1", stem, stem, "direct")]
    for name, cin, (s, e1, e3) in zip(FIRE_NAMES, widths.fire_inputs(), widths.fires):
        side = fs[name]
        hw = side * side
        out.append(LayerFloor(f"{name}.squeeze", hw * cin * s, hw * cin * s, "direct"))
        out.append(LayerFloor(f"{name}.expand1x1", hw * s * e1, hw * s * e1, "direct"))
        alg, per_pair = best_3x3(side)
        out.append(LayerFloor(f"{name}.expand3x3", hw * 9 * s * e3, per_pair * s * e3, alg))
    cls = fs["fire9"] ** 2 * widths.classifier_in * num_classes
    out.append(LayerFloor("classifier", cls, cls, "direct"))
    return out


def floor_macs(widths: Widths, arch: str, num_classes: int, size: int, planes: int = 3) -> int:
    return sum(layer.floor_macs for layer in layer_floors(widths, arch, num_classes, size, planes))


def int8_floor_macs(widths: Widths, arch: str, num_classes: int, size: int, planes: int = 3) -> int:
    """The int8 floor's multiplies: direct convolution with padding taps skipped on every layer.

    Integer Winograd needs wider intermediates than 8 bits (its transforms grow values), so int8
    engines (TFLite, ncnn, ONNX Runtime, this one) run 3x3 layers directly; no cheaper standard
    algorithm exists to count."""
    fs = feature_sizes(arch, size)
    total = 0
    for lay in layer_floors(widths, arch, num_classes, size, planes):
        if lay.name.endswith("expand3x3"):
            side = fs[lay.name.split(".")[0]]
            total += lay.direct_macs // (9 * side * side) * direct_3x3_taps(side)
        else:
            total += lay.direct_macs
    return total


# Cortex-A53 without dot-product instructions: a 128-bit widening multiply-accumulate (smlal/umlal
# .4s from 16-bit lanes, or smull .8h + sadalp per 8 int8 products) retires at most 4 int8
# multiply-accumulates per cycle on its 64-bit NEON datapath, twice the fp32 rate (a 128-bit FMA
# takes two cycles: 2 MACs per cycle, shared/reference-facts.md). Nominal, from the instruction
# mix: 4 G int8 MAC/s per core at 1 GHz.
A53_INT8_GMACS = 4.0


def int8_floor_ms(macs: int, peak_gmacs: float) -> float:
    """Time for `macs` int8 multiply-accumulates at `peak_gmacs` G MAC/s."""
    return macs / (peak_gmacs * 1e9) * 1e3


# The issue's int8 target: native int8 at most this fraction of native fp32's time.
INT8_TARGET_RATIO = 0.6
A53_FP32_GMACS = 2.0  # one 128-bit fmla .4s (4 MACs) per two cycles at 1 GHz: the 4 GFLOP/s above


def int8_fp32_floor_ratio(int8_macs: int, fp32_macs: int, int8_gmacs: float, fp32_gmacs: float) -> float:
    """The int8 floor's time over the fp32 floor's: int8_macs at the int8 rate against the
    fewest-multiply fp32 count (Winograd on the 3x3 layers) at the fp32 rate. An int8 engine and an
    fp32 engine equally close to their floors run at this ratio; an int8 engine reaches
    INT8_TARGET_RATIO x the fp32 engine only by being 1 / ratio x INT8_TARGET_RATIO closer to its floor."""
    return (int8_macs / int8_gmacs) / (fp32_macs / fp32_gmacs)


def floor_ms(macs: int, peak_gflops: float) -> float:
    """Time for `macs` multiply-adds at the measured peak (2 FLOP each)."""
    return 2 * macs / (peak_gflops * 1e9) * 1e3


def main(argv: list[str] | None = None) -> int:
    """`python -m training.floor MODEL.onnx [--gflops 4 16]`: per-layer floor and its time at given peaks."""
    import argparse

    from rtmaps_components.model_meta import read_metadata

    ap = argparse.ArgumentParser(prog="python -m training.floor", description=main.__doc__)
    ap.add_argument("models", nargs="+", help="ONNX files exported by bluefire (widths in their metadata)")
    ap.add_argument(
        "--int8-gmacs",
        type=float,
        nargs="+",
        default=[A53_INT8_GMACS, 4 * A53_INT8_GMACS],
        help="int8 MAC rates to price the int8 floor at (default: one and four Cortex-A53 cores, "
        f"{A53_INT8_GMACS:g} G MAC/s each without dot-product instructions)",
    )
    ap.add_argument(
        "--gflops",
        type=float,
        nargs="+",
        default=[4.0, 16.0],
        help="peaks to price the floor at (default: one and four Cortex-A53 cores at 1 GHz, "
        "4 GFLOP/s each, shared/reference-facts.md)",
    )
    ap.add_argument(
        "--host-gmacs",
        type=float,
        nargs=2,
        metavar=("FP32", "INT8"),
        help="one thread's fp32 FMA and int8 multiply-accumulate peaks of a host in G MAC/s "
        "(native/tools/simd_peak.sh): price both floors there and print their ratio",
    )
    ap.add_argument(
        "--fp32-ms",
        type=float,
        help="with --host-gmacs: the native fp32 engine's measured time on that host (ms); prints the "
        f"share of the int8 peak an int8 engine needs to run in {INT8_TARGET_RATIO:g}x that",
    )
    a = ap.parse_args(argv)
    if a.fp32_ms is not None and not a.host_gmacs:
        ap.error("--fp32-ms needs --host-gmacs")
    for path in a.models:
        try:
            meta = read_metadata(path)
        except ValueError as e:
            raise SystemExit(str(e)) from None
        arch, widths, pre = meta.arch, Widths.from_dict(meta.widths, path), meta.preprocessing
        size, classes, planes = pre.input_size[0], pre.num_classes, pre.channels
        layers = layer_floors(widths, arch, classes, size, planes)
        print(f"{path}: {arch} at {size}x{size}, {planes} input plane(s), {classes} classes")
        print(f"  {'layer':<18} {'algorithm':<9} {'plain MACs':>11} {'floor MACs':>11}")
        for lay in layers:
            print(f"  {lay.name:<18} {lay.algorithm:<9} {lay.direct_macs:>11,} {lay.floor_macs:>11,}")
        total = sum(lay.floor_macs for lay in layers)
        plain = sum(lay.direct_macs for lay in layers)
        print(f"  {'total':<18} {'':<9} {plain:>11,} {total:>11,}")
        print("  floor: " + ", ".join(f"{floor_ms(total, g):.2f} ms at {g:g} GFLOP/s" for g in a.gflops))
        i8 = int8_floor_macs(widths, arch, classes, size, planes)
        print(
            f"  int8 floor: {i8:,} MACs (direct, padding taps skipped): "
            + ", ".join(f"{int8_floor_ms(i8, g):.2f} ms at {g:g} G int8 MAC/s" for g in a.int8_gmacs)
        )
        r = int8_fp32_floor_ratio(i8, total, A53_INT8_GMACS, A53_FP32_GMACS)
        print(
            f"  int8 / fp32 floor on a Cortex-A53 ({A53_INT8_GMACS:g} int8 vs {A53_FP32_GMACS:g} fp32 G MAC/s "
            f"per GHz): {r:.2f} (target {INT8_TARGET_RATIO:g}: "
            + ("reachable at equal efficiency)" if r <= INT8_TARGET_RATIO else "out of reach at equal efficiency)")
        )
        if a.host_gmacs:
            f32, q8 = a.host_gmacs
            r = int8_fp32_floor_ratio(i8, total, q8, f32)
            line = (
                f"  host at {f32:g} fp32 / {q8:g} int8 G MAC/s: fp32 floor {int8_floor_ms(total, f32) * 1e3:.1f} us, "
                f"int8 floor {int8_floor_ms(i8, q8) * 1e3:.1f} us, ratio {r:.2f}"
            )
            if a.fp32_ms is not None:
                need = int8_floor_ms(i8, q8) / (INT8_TARGET_RATIO * a.fp32_ms)
                line += (
                    f"; int8 in {INT8_TARGET_RATIO:g} x {a.fp32_ms * 1e3:.0f} us = "
                    f"{INT8_TARGET_RATIO * a.fp32_ms * 1e3:.1f} us needs {need:.0%} of the int8 peak end to end"
                )
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
