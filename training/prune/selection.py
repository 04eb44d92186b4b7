"""Which filters go: pure functions of the width table, the scores and the settings (no model, no data).

`select` turns per-filter scores into a removal plan: the k lowest (over all layers, or shared per
layer in proportion to width) under the guards (min_width, round_to), stopping as soon as the size
target is met, whatever the rounding.
"""

from __future__ import annotations

import math

import torch

from ..model import Widths, count_macs, count_params
from .config import PruneConfig
from .group import LAYERS, width, with_widths

Plan = dict[str, list[int]]


def sizes(widths: Widths, arch: str, num_classes: int, size: int) -> dict[str, int]:
    """Parameters, MACs and fp32 weight bytes of a width table."""
    p = count_params(widths, arch, num_classes)
    return {"params": p, "macs": count_macs(widths, arch, num_classes, size), "size_bytes": 4 * p}


def min_widths(widths: Widths, cfg: PruneConfig) -> Widths:
    """The narrowest table the guards allow: min_width, rounded up to round_to, never above the current width."""
    lo = math.ceil(cfg.min_width / cfg.round_to) * cfg.round_to
    return with_widths(widths, {n: min(width(widths, n), lo) for n in LAYERS})


def removed_fraction(base: dict, now: dict, key: str) -> float:
    """The fraction of base[key] (params or macs) that is gone in `now`."""
    return 1 - now[key] / base[key]


def targets_met(base: dict, now: dict, cfg: PruneConfig) -> bool:
    """Every size target given is reached (False when only an accuracy minimum was given)."""
    checks = [
        removed_fraction(base, now, key) >= target - 1e-12
        for key, target in (("params", cfg.target_params), ("macs", cfg.target_macs))
        if target
    ]
    return bool(checks) and all(checks)


def check_reachable(widths: Widths, arch: str, num_classes: int, size: int, cfg: PruneConfig) -> None:
    """Raise before any work when the guards make a size target impossible."""
    base = sizes(widths, arch, num_classes, size)
    low = sizes(min_widths(widths, cfg), arch, num_classes, size)
    for key, target in (("params", cfg.target_params), ("macs", cfg.target_macs)):
        best = removed_fraction(base, low, key)
        if target and best < target:
            raise ValueError(
                f"target_{key}={target:.3f} is unreachable: with min_width={cfg.min_width} and "
                f"round_to={cfg.round_to} at most {best:.3f} of the {key} can be removed"
            )


def _quotas(room: dict[str, int], k: int) -> dict[str, int]:
    """k filters shared over layers in proportion to their room (largest remainders get the leftovers)."""
    total = sum(room.values())
    share = {n: k * room[n] / total if total else 0 for n in LAYERS}
    quota = {n: min(room[n], int(share[n])) for n in LAYERS}
    for n in sorted(LAYERS, key=lambda n: share[n] - int(share[n]), reverse=True):
        if sum(quota.values()) >= min(k, total):
            break
        if quota[n] < room[n]:
            quota[n] += 1
    return quota


def select(
    scores: dict[str, torch.Tensor],
    widths: Widths,
    cfg: PruneConfig,
    arch: str,
    num_classes: int,
    size: int,
    base: dict,
) -> Plan:
    """Turn scores into a removal plan: the k lowest (global or per layer) under the guards, stopping at the target."""
    lo = min_widths(widths, cfg)
    room = {n: width(widths, n) - width(lo, n) for n in LAYERS}
    order = {n: [int(i) for i in torch.argsort(scores[n], stable=True)] for n in LAYERS}
    k = cfg.filters_per_step
    if cfg.ranking == "per-layer":
        quota = _quotas(room, k)
        candidates = [(n, i) for n in LAYERS for i in order[n][: quota[n]]]
        candidates.sort(key=lambda c: float(scores[c[0]][c[1]]))
    else:
        candidates = sorted(((n, i) for n in LAYERS for i in order[n]), key=lambda c: float(scores[c[0]][c[1]]))

    def final(p: Plan) -> Plan:  # the plan as it would be cut: rounded to the guard
        return round_plan(p, order, widths, lo, cfg.round_to) if cfg.round_to > 1 else p

    plan: Plan = {n: [] for n in LAYERS}
    taken = 0
    for n, i in candidates:
        if taken == k:
            break
        if len(plan[n]) >= room[n]:
            continue
        plan[n].append(i)
        taken += 1
        cut = final(plan)
        after = with_widths(widths, {m: width(widths, m) - len(v) for m, v in cut.items() if v})
        if targets_met(base, sizes(after, arch, num_classes, size), cfg):  # stop at the target, rounded or not
            break
    return {n: sorted(v) for n, v in final(plan).items() if v}


def round_plan(plan: Plan, order: dict[str, list[int]], widths: Widths, lo: Widths, r: int) -> Plan:
    """Move each layer's removal count to the nearest count that leaves a multiple of r (next-lowest filters first)."""
    out = {}
    for n, chosen in plan.items():
        w, c = width(widths, n), len(chosen)
        if not c:
            out[n] = []
            continue
        keep = round((w - c) / r) * r
        keep = max(width(lo, n), min(keep, w // r * r))
        out[n] = order[n][: w - keep] if w - keep > 0 else []
    if not any(out.values()) and any(plan.values()):  # everything rounded away: round the busiest layer down
        n = max(plan, key=lambda m: len(plan[m]))
        w = width(widths, n)
        keep = max(width(lo, n), min((w - len(plan[n])) // r * r, (w - 1) // r * r))
        out[n] = order[n][: w - keep] if w > keep else []
    return out
