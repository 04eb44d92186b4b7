"""The Fire couplings as data: which filters a prunable conv owns, and which input channels they feed.

A prunable layer is named `conv1` or `fireN.{squeeze,expand1x1,expand3x3}` (25 layers). Removing
output filter k of a layer also removes one input channel of every consumer listed here:

- conv1 k            -> fire2.squeeze input k
- fireN.squeeze k    -> fireN.expand1x1 input k and fireN.expand3x3 input k
- fireN.expand1x1 k  -> next consumer input k              (fire(N+1).squeeze, or the classifier after fire9)
- fireN.expand3x3 k  -> next consumer input e1_width + k   (the concatenation puts expand1x1 first)

Max-pools sit between some Fires; they act per channel, so they do not change these couplings.
The classifier (conv10) produces the classes and is never prunable.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import FIRE_NAMES, SqueezeNet, Widths, count_macs, count_params

PARTS = ("squeeze", "expand1x1", "expand3x3")
CLASSIFIER = "classifier"
LAYERS: tuple[str, ...] = ("conv1",) + tuple(f"{f}.{p}" for f in FIRE_NAMES for p in PARTS)

# Depth bands for "where did the pruned filters come from". They follow the width tiers of the
# Fire table (16 | 32 | 48-64 squeeze filters) and, in v1.1, the spatial stages between max-pools.
DEPTH_BANDS: dict[str, tuple[str, ...]] = {
    "early": ("conv1", "fire2", "fire3"),
    "mid": ("fire4", "fire5"),
    "high": ("fire6", "fire7", "fire8", "fire9"),
}


def depth_band(layer: str) -> str:
    """'early', 'mid' or 'high' for a prunable layer name."""
    block = layer.split(".")[0]
    for band, blocks in DEPTH_BANDS.items():
        if block in blocks:
            return band
    raise ValueError(f"unknown layer {layer!r}")


@dataclass(frozen=True)
class Consumer:
    """Input channels [offset, offset + width) of conv `name` are the outputs of one prunable layer."""

    name: str  # a layer name or "classifier"
    offset: int


def check_layer(name: str) -> None:
    if name not in LAYERS:
        raise ValueError(
            f"unknown prunable layer {name!r}; expected conv1 or fireN.squeeze/expand1x1/expand3x3 (N = 2..9)"
        )


def width(widths: Widths, name: str) -> int:
    """Current number of output filters of a prunable layer."""
    check_layer(name)
    if name == "conv1":
        return widths.conv1
    fire, part = name.split(".")
    return widths.fires[FIRE_NAMES.index(fire)][PARTS.index(part)]


def with_widths(widths: Widths, new: dict[str, int]) -> Widths:
    """A copy of `widths` with some layers' widths replaced."""
    conv1 = widths.conv1
    fires = [list(f) for f in widths.fires]
    for name, w in new.items():
        check_layer(name)
        if name == "conv1":
            conv1 = w
        else:
            fire, part = name.split(".")
            fires[FIRE_NAMES.index(fire)][PARTS.index(part)] = w
    return Widths(conv1, tuple(tuple(f) for f in fires))


def consumers(widths: Widths, name: str) -> list[Consumer]:
    """The convs (and offsets) whose input channels are the output filters of `name`."""
    check_layer(name)
    if name == "conv1":
        return [Consumer("fire2.squeeze", 0)]
    fire, part = name.split(".")
    i = FIRE_NAMES.index(fire)
    if part == "squeeze":
        return [Consumer(f"{fire}.expand1x1", 0), Consumer(f"{fire}.expand3x3", 0)]
    nxt = f"{FIRE_NAMES[i + 1]}.squeeze" if i + 1 < len(FIRE_NAMES) else CLASSIFIER
    return [Consumer(nxt, 0 if part == "expand1x1" else widths.fires[i][1])]


def conv(model: SqueezeNet, name: str):
    """The nn.Conv2d of a prunable layer or of the classifier."""
    if name == CLASSIFIER:
        return model.final_conv
    check_layer(name)
    if name == "conv1":
        return model.conv1
    fire, part = name.split(".")
    return getattr(model.fires()[FIRE_NAMES.index(fire)], part)


def activation(model: SqueezeNet, name: str):
    """The ReLU module right after a prunable conv (where criteria read activations)."""
    check_layer(name)
    if name == "conv1":
        return model.features[1]
    fire, part = name.split(".")
    return getattr(model.fires()[FIRE_NAMES.index(fire)], f"{part}_activation")


def marginal_costs(widths: Widths, arch: str, num_classes: int, size: int) -> dict[str, tuple[int, int]]:
    """(params, MACs) that removing one more filter of each layer saves, including its consumers' inputs."""
    p0, m0 = count_params(widths, arch, num_classes), count_macs(widths, arch, num_classes, size)
    out = {}
    for name in LAYERS:
        w = width(widths, name)
        if w <= 1:
            out[name] = (0, 0)
            continue
        smaller = with_widths(widths, {name: w - 1})
        out[name] = (p0 - count_params(smaller, arch, num_classes), m0 - count_macs(smaller, arch, num_classes, size))
    return out
