"""Selection is a pure function of widths, scores and settings: the k lowest under the guards, stopping at the target."""

from __future__ import annotations

import pytest
import torch

from tests.fixtures_prune import SMALL
from training.model import count_params
from training.prune.config import PruneConfig
from training.prune.group import LAYERS, width, with_widths
from training.prune.selection import check_reachable, min_widths, select, sizes, targets_met

ARCH, CLASSES, SIZE = "squeezenet1_1", 10, 32


def _scores(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {n: torch.rand(width(SMALL, n), generator=g) for n in LAYERS}


def _after(plan: dict[str, list[int]]):
    return with_widths(SMALL, {n: width(SMALL, n) - len(v) for n, v in plan.items()})


def _base() -> dict:
    return sizes(SMALL, ARCH, CLASSES, SIZE)


def test_global_takes_the_k_lowest_scores():
    scores = _scores()
    cfg = PruneConfig(checkpoint="x", filters_per_step=10, target_params=0.9)
    plan = select(scores, SMALL, cfg, ARCH, CLASSES, SIZE, _base())
    chosen = sorted(float(scores[n][i]) for n, v in plan.items() for i in v)
    everything = sorted(float(s) for v in scores.values() for s in v)
    assert chosen == everything[:10]


def test_guards_are_never_crossed():
    cfg = PruneConfig(checkpoint="x", filters_per_step=400, target_params=0.99, min_width=3)
    plan = select(_scores(1), SMALL, cfg, ARCH, CLASSES, SIZE, _base())
    after = _after(plan)
    assert all(width(after, n) >= min(3, width(SMALL, n)) for n in LAYERS)
    assert min_widths(SMALL, cfg) == with_widths(SMALL, {n: min(3, width(SMALL, n)) for n in LAYERS})


@pytest.mark.parametrize("round_to", [1, 2, 4, 8])
@pytest.mark.parametrize("target", [0.1, 0.3])
def test_stops_at_the_target_for_any_round_to(round_to, target):
    """The step that reaches the target removes no more than it must (issue 15: round_to 4 overshot 0.30 to 0.40)."""
    cfg = PruneConfig(checkpoint="x", filters_per_step=64, target_params=target, round_to=round_to)
    base = _base()
    plan = select(_scores(2), SMALL, cfg, ARCH, CLASSES, SIZE, base)
    after = _after(plan)
    assert targets_met(base, sizes(after, ARCH, CLASSES, SIZE), cfg)
    if round_to > 1:
        assert all(width(after, n) % round_to == 0 for n in plan)
    # overshoot bounded by about one rounding step of one layer, not a whole step of k filters
    removed = 1 - count_params(after, ARCH, CLASSES) / base["params"]
    assert removed < target + 0.06, removed


def test_per_layer_ranking_shares_k_by_room():
    cfg = PruneConfig(checkpoint="x", filters_per_step=20, target_params=0.9, ranking="per-layer")
    plan = select(_scores(3), SMALL, cfg, ARCH, CLASSES, SIZE, _base())
    assert sum(len(v) for v in plan.values()) == 20
    assert len(plan) >= 10  # spread over most layers, not the k globally lowest


def test_unreachable_target_is_refused():
    with pytest.raises(ValueError, match="target_params=0.990 is unreachable"):
        check_reachable(SMALL, ARCH, CLASSES, SIZE, PruneConfig(checkpoint="x", target_params=0.99, min_width=4))


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"lr": float("inf")}, "lr: must be a finite number"),
        ({"distill_t": float("nan")}, "distill_t: must be a finite number"),
        ({"label_smoothing": 2.0}, r"label_smoothing: must be in \[0, 1\)"),
        ({"weight_decay": -1.0}, "weight_decay: must be >= 0"),
    ],
)
def test_settings_out_of_range_are_named(setting, message):
    with pytest.raises(ValueError, match=message):
        PruneConfig(checkpoint="x", **setting).validate()
