"""Filter-ranking criteria. They only score: higher = more important; surgery cuts, the schedule chooses.

Protocol: `reset(model)`, then `accumulate(model, x, y)` on any number of normalised batches, then
`scores(model)` -> {layer: float64 tensor (width,)}, summed over DDP ranks when torch.distributed is
initialised. `rank_scores` then applies per-layer L2 normalisation and the optional FLOPs penalty.

- taylor (Molchanov et al. 2017): Θ_k = mean over examples of | mean over positions of z_k · ∂C/∂z_k |,
  z after the conv's ReLU, ∂C/∂z the gradient of *that example's* loss. The absolute value is taken per
  example, before averaging: a signed batch mean lets examples cancel and is a different criterion.
- l2: mean over examples of ‖z_k‖₂ over the positions of the map.
- combined: α·T̂ + (1-α)·L̂, where T̂ and L̂ are the Taylor and L2 scores each L2-normalised within the
  layer (so both live on the same scale, whatever the layer's size or activation magnitude).
- weight-l1: Σ|W| of the filter (no data). random: uniform scores from (seed, iteration) (no data).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..model import SqueezeNet
from .group import LAYERS, activation, conv

CRITERIA = ("taylor", "l2", "combined", "weight-l1", "random")
DEFAULT_ALPHA = 0.6  # weight of Taylor in `combined`: best oracle correlation, see training/prune/README.md


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


class Criterion:
    """Base class: a data-free criterion ignores batches."""

    name = ""
    uses_data = False
    uses_grad = False

    def reset(self, model: SqueezeNet, iteration: int = 0) -> None:
        pass

    def accumulate(self, model: SqueezeNet, x: torch.Tensor, y: torch.Tensor) -> None:
        pass

    def scores(self, model: SqueezeNet) -> dict[str, torch.Tensor]:
        raise NotImplementedError


class WeightL1(Criterion):
    name = "weight-l1"

    def scores(self, model: SqueezeNet) -> dict[str, torch.Tensor]:
        return {n: conv(model, n).weight.detach().abs().sum((1, 2, 3)).double().cpu() for n in LAYERS}


class Random(Criterion):
    """Uniform random scores, reproducible from (seed, iteration): the floor any criterion must beat."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed, self.iteration = seed, 0

    def reset(self, model: SqueezeNet, iteration: int = 0) -> None:
        self.iteration = iteration

    def scores(self, model: SqueezeNet) -> dict[str, torch.Tensor]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.iteration)
        return {n: torch.rand(conv(model, n).out_channels, generator=gen, dtype=torch.float64) for n in LAYERS}


class _Activations(Criterion):
    """Hooks on every prunable conv's ReLU; accumulates per-example Taylor and L2 sums in one pass."""

    uses_data = True

    def __init__(self) -> None:
        self._handles: list = []
        self._taylor: dict[str, torch.Tensor] = {}
        self._l2: dict[str, torch.Tensor] = {}
        self._count = torch.zeros(1, dtype=torch.float64)

    def reset(self, model: SqueezeNet, iteration: int = 0) -> None:
        self._taylor = {n: torch.zeros(conv(model, n).out_channels, dtype=torch.float64) for n in LAYERS}
        self._l2 = {n: torch.zeros_like(v) for n, v in self._taylor.items()}
        self._count = torch.zeros(1, dtype=torch.float64)

    def _hook(self, name: str):
        def fwd(_module, _inp, out: torch.Tensor) -> None:
            z = out.detach()
            self._l2[name] += z.flatten(2).norm(dim=2).sum(0).double().cpu()  # sums live on the CPU
            if self.uses_grad and out.requires_grad:
                # gradient of the summed loss = each example's own loss gradient
                def bwd(g: torch.Tensor) -> None:  # returns None: the gradient flows on unchanged
                    self._taylor[name].add_((z * g).mean((2, 3)).abs().sum(0).double().cpu())

                out.register_hook(bwd)

        return fwd

    def accumulate(self, model: SqueezeNet, x: torch.Tensor, y: torch.Tensor) -> None:
        was_training = model.training
        model.eval()  # no dropout while ranking: scores depend on the data only
        handles = [activation(model, n).register_forward_hook(self._hook(n)) for n in LAYERS]
        try:
            if self.uses_grad:
                model.zero_grad(set_to_none=True)
                with torch.enable_grad():
                    F.cross_entropy(model(x), y, reduction="sum").backward()
                model.zero_grad(set_to_none=True)
            else:
                with torch.no_grad():
                    model(x)
        finally:
            for h in handles:
                h.remove()
            model.train(was_training)
        self._count += len(x)

    def _means(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        count = float(_all_reduce(self._count))
        if count <= 0:
            raise ValueError(f"{self.name}: no batches were accumulated before scoring")
        return (
            {n: _all_reduce(v) / count for n, v in self._taylor.items()},
            {n: _all_reduce(v) / count for n, v in self._l2.items()},
        )


class Taylor(_Activations):
    name = "taylor"
    uses_grad = True

    def scores(self, model: SqueezeNet) -> dict[str, torch.Tensor]:
        return self._means()[0]


class L2(_Activations):
    name = "l2"

    def scores(self, model: SqueezeNet) -> dict[str, torch.Tensor]:
        return self._means()[1]


class Combined(_Activations):
    name = "combined"
    uses_grad = True

    def __init__(self, alpha: float = DEFAULT_ALPHA) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.alpha = alpha

    def scores(self, model: SqueezeNet) -> dict[str, torch.Tensor]:
        taylor, l2 = self._means()
        return {n: self.alpha * l2_normalise(taylor[n]) + (1 - self.alpha) * l2_normalise(l2[n]) for n in LAYERS}


def make(name: str, seed: int = 0, alpha: float = DEFAULT_ALPHA) -> Criterion:
    """A criterion by its command-line name."""
    if name == "taylor":
        return Taylor()
    if name == "l2":
        return L2()
    if name == "combined":
        return Combined(alpha)
    if name == "weight-l1":
        return WeightL1()
    if name == "random":
        return Random(seed)
    raise ValueError(f"unknown criterion {name!r}; expected one of {', '.join(CRITERIA)}")


def l2_normalise(v: torch.Tensor) -> torch.Tensor:
    """v / ‖v‖₂ (Molchanov's per-layer normalisation); a zero vector stays zero."""
    n = v.norm()
    return v / n if n > 0 else v


def rank_scores(
    raw: dict[str, torch.Tensor],
    normalise: bool = True,
    flops_lambda: float = 0.0,
    filter_macs: dict[str, float] | None = None,
) -> dict[str, torch.Tensor]:
    """Final per-filter scores: per-layer L2 normalisation, then Θ − λ·cost, cost = the MACs (or parameters)
    one filter of that layer costs (itself plus its consumers' input channel) divided by the largest such cost."""
    out = {n: l2_normalise(v) if normalise else v.clone() for n, v in raw.items()}
    if flops_lambda:
        if not filter_macs:
            raise ValueError("flops_lambda needs the per-filter MAC costs")
        top = max(filter_macs.values()) or 1.0
        out = {n: v - flops_lambda * filter_macs[n] / top for n, v in out.items()}
    return out
