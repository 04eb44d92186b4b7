"""How well each criterion predicts the real cost of removing a filter: the measurement behind `alpha`.

The oracle (Molchanov et al. 2017, section 3.4): for a sample of filters, zero one filter at a time
and measure |ΔC|, the change of the mean validation loss. Each criterion's per-layer-normalised score
is then compared with the oracle by Spearman rank correlation, globally across layers (what global
ranking uses) and within layers (averaged). `combined` is evaluated on a grid of alpha.

    python -m training.prune.oracle CKPT [--per-layer 12] [--eval 1000] [--rank-batches 16] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import checkpoint as ckpt_io
from ..train import to_input
from . import criteria as crit_mod
from .config import PruneConfig
from .data import batches, load_data
from .group import LAYERS, conv

ALPHAS = tuple(round(a, 2) for a in np.linspace(0.0, 1.0, 11))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""

    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for val in np.unique(v):  # average ties
            m = v == val
            if m.sum() > 1:
                r[m] = r[m].mean()
        return r

    ra, rb = ranks(np.asarray(a, float)), ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


@torch.no_grad()
def oracle(model, x: torch.Tensor, y: torch.Tensor, sample: list[tuple[str, int]], batch: int = 500) -> np.ndarray:
    """|mean loss with the filter zeroed − mean loss| for each sampled (layer, filter)."""
    model.eval()

    def loss() -> float:
        return float(
            sum(
                F.cross_entropy(model(x[i : i + batch]), y[i : i + batch], reduction="sum")
                for i in range(0, len(x), batch)
            )
            / len(x)
        )

    base = loss()
    out = []
    for name, k in sample:
        c = conv(model, name)
        w, b = c.weight[k].clone(), c.bias[k].clone()
        c.weight[k] = 0
        c.bias[k] = 0
        out.append(abs(loss() - base))
        c.weight[k] = w
        c.bias[k] = b
    return np.asarray(out)


def study(ckpt_path: str, per_layer: int = 12, n_eval: int = 1000, rank_batches: int = 16, seed: int = 0) -> dict:
    """Spearman correlation of every criterion (and combined on an alpha grid) with the oracle."""
    src = ckpt_io.load(ckpt_path)
    model, prep = ckpt_io.model_from_checkpoint(src, ckpt_path)
    cfg = PruneConfig(checkpoint=ckpt_path, rank_batches=rank_batches, seed=seed)
    d = load_data(cfg, src)
    rng = random.Random(seed)
    sample = [
        (n, k)
        for n in LAYERS
        for k in sorted(rng.sample(range(conv(model, n).out_channels), min(per_layer, conv(model, n).out_channels)))
    ]
    xv = to_input(torch.from_numpy(d.val_x[:n_eval]), prep)
    yv = torch.from_numpy(d.val_y[:n_eval])
    truth = oracle(model, xv, yv, sample)
    acts = crit_mod.Combined()  # one pass gives both the Taylor and the L2 sums
    acts.reset(model)
    for xb, yb in batches(d, cfg, 1, rank_batches, augment=False):
        acts.accumulate(model, to_input(xb, prep), yb)
    taylor_raw, l2_raw = acts._means()
    wl1 = crit_mod.WeightL1().scores(model)
    rnd = crit_mod.Random(seed)
    rnd.reset(model, 0)
    scored = {"taylor": taylor_raw, "l2": l2_raw, "weight-l1": wl1, "random": rnd.scores(model)}
    for a in ALPHAS:
        scored[f"combined@{a}"] = {
            n: a * crit_mod.l2_normalise(taylor_raw[n]) + (1 - a) * crit_mod.l2_normalise(l2_raw[n]) for n in LAYERS
        }
    rows = {}
    for name, raw in scored.items():
        s = crit_mod.rank_scores(raw)
        pick = np.asarray([float(s[n][k]) for n, k in sample])
        within = []
        for n in LAYERS:
            idx = [i for i, (m, _) in enumerate(sample) if m == n]
            r = spearman(pick[idx], truth[idx])
            if not np.isnan(r):
                within.append(r)
        rows[name] = {"global_spearman": spearman(pick, truth), "within_layer_spearman": float(np.mean(within))}
    best = max(ALPHAS, key=lambda a: rows[f"combined@{a}"]["global_spearman"])
    return {
        "checkpoint": ckpt_path,
        "filters": len(sample),
        "eval_images": len(yv),
        "rank_batches": rank_batches,
        "rows": rows,
        "best_alpha_global": best,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.prune.oracle", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--per-layer", type=int, default=12)
    p.add_argument("--eval", type=int, default=1000)
    p.add_argument("--rank-batches", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/oracle")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    res = study(a.checkpoint, a.per_layer, a.eval, a.rank_batches, a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "oracle.json").write_text(json.dumps(res, indent=1))
    lines = [
        f"# Criteria vs oracle |ΔC| ({res['filters']} filters, {res['eval_images']} validation images)",
        "",
        "| criterion | Spearman, global | Spearman, within layer |",
        "|---|---|---|",
    ]
    lines += [
        f"| {n} | {r['global_spearman']:.3f} | {r['within_layer_spearman']:.3f} |" for n, r in res["rows"].items()
    ]
    lines += ["", f"Best alpha (global): {res['best_alpha_global']}"]
    (out / "oracle.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
