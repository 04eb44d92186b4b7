"""Cut filters out of a SqueezeNet: a smaller dense network with copied weights, no masks.

Surgery never scores; it takes a plan {layer: filter indices to remove}, validates all of it, and
only then builds the new network from its width table and copies the surviving weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from ..model import SqueezeNet, Widths, build
from .group import CLASSIFIER, LAYERS, check_layer, consumers, conv, width, with_widths


def validate_plan(
    widths: Widths, plan: Mapping[str, Sequence[int]], min_width: int = 1, round_to: int = 1
) -> dict[str, list[int]]:
    """Check every layer name and index of a removal plan; returns it normalised (sorted, empty layers dropped)."""
    if min_width < 1:
        raise ValueError(f"min_width must be >= 1, got {min_width}")
    if round_to < 1:
        raise ValueError(f"round_to must be >= 1, got {round_to}")
    clean: dict[str, list[int]] = {}
    for name, idx in plan.items():
        check_layer(name)
        w = width(widths, name)
        idx = list(idx)
        bad = [i for i in idx if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < w]
        if bad:
            raise ValueError(f"plan: {name} has {w} filters; indices {bad[:5]} are out of range 0..{w - 1}")
        if len(set(idx)) != len(idx):
            raise ValueError(f"plan: {name} lists a filter more than once")
        if not idx:
            continue
        left = w - len(idx)
        if left < min_width:
            raise ValueError(f"plan: {name} would keep {left} of {w} filters, the minimum width is {min_width}")
        if round_to > 1 and left % round_to:
            raise ValueError(f"plan: {name} would keep {left} filters, not a multiple of round_to={round_to}")
        clean[name] = sorted(idx)
    return clean


def _keep(n: int, removed: Sequence[int]) -> torch.Tensor:
    drop = set(removed)
    return torch.tensor([i for i in range(n) if i not in drop], dtype=torch.long)


@torch.no_grad()
def prune(model: SqueezeNet, plan: Mapping[str, Sequence[int]], min_width: int = 1, round_to: int = 1) -> SqueezeNet:
    """Return a new, smaller SqueezeNet without the planned filters (the input model is left untouched)."""
    plan = validate_plan(model.widths, plan, min_width, round_to)
    old = model.widths
    new_widths = with_widths(old, {n: width(old, n) - len(idx) for n, idx in plan.items()})
    keep_out = {n: _keep(width(old, n), plan.get(n, ())) for n in LAYERS}
    # input channels each conv keeps: start from all, then drop the channels fed by removed filters
    in_drop: dict[str, list[int]] = {n: [] for n in LAYERS + (CLASSIFIER,)}
    for name, idx in plan.items():
        for c in consumers(old, name):
            in_drop[c.name].extend(c.offset + i for i in idx)
    new = build(model.arch, model.num_classes, new_widths)
    new.train(model.training)
    for name in LAYERS + (CLASSIFIER,):
        src, dst = conv(model, name), conv(new, name)
        k_in = _keep(src.in_channels, in_drop[name]).to(src.weight.device)
        w = src.weight.index_select(1, k_in)
        b = src.bias
        if name != CLASSIFIER:
            w = w.index_select(0, keep_out[name].to(w.device))
            b = b.index_select(0, keep_out[name].to(b.device))
        if w.shape != dst.weight.shape:
            raise AssertionError(f"surgery: {name} weight {tuple(w.shape)} != rebuilt {tuple(dst.weight.shape)}")
        dst.weight.copy_(w)
        dst.bias.copy_(b)
    return new


@torch.no_grad()
def zero_filters(model: SqueezeNet, plan: Mapping[str, Sequence[int]]) -> None:
    """Zero the planned filters' weights and biases in place (their ReLU outputs become 0): the test oracle."""
    plan = validate_plan(model.widths, plan)
    for name, idx in plan.items():
        c = conv(model, name)
        c.weight[idx] = 0
        c.bias[idx] = 0
