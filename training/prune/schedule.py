"""Iterative prune-and-fine-tune: rank on N batches -> remove k filters -> fine-tune M batches, until a target.

The schedule only orchestrates: criteria score (criteria.py), `selection.select` turns scores into a
plan under the guards, surgery cuts (surgery.py), and the training step is `bluefire train`'s. Everything
random is derived from (seed, iteration) or (seed, final epoch), and the run state is written atomically
after every iteration and every final epoch, so a killed run resumed with `--resume` ends with exactly the
model of an uninterrupted one (same thread count assumed).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rtmaps_components.preprocess import Preprocessing

from .. import checkpoint as ckpt_io
from ..config import refuse_changed_settings
from ..device import choose_device
from ..model import SqueezeNet, Widths, build
from ..train import Distillation, accuracy, lr_at, progress, to_input, train_step
from . import criteria as crit_mod
from .config import PruneConfig
from .data import PruneData, batches, load_data, steps_per_final_epoch
from .group import LAYERS, marginal_costs, width
from .selection import check_reachable, min_widths, removed_fraction, select, sizes, targets_met
from .surgery import prune

__all__ = ["MODEL_FILE", "STATE_FILE", "PruneConfig", "PruneData", "load_data", "run"]

STATE_FILE = "state.pt"
MODEL_FILE = "model.pt"


# ---------------------------------------------------------------- training pieces
def rank(
    model: SqueezeNet, cfg: PruneConfig, d: PruneData, prep: Preprocessing, iteration: int, size: int
) -> dict[str, torch.Tensor]:
    """Final per-filter scores of this iteration (criterion, normalisation, FLOPs penalty)."""
    c = crit_mod.make(cfg.criterion, cfg.seed, cfg.alpha)
    c.reset(model, iteration)
    if c.uses_data:
        for xb, yb in batches(d, cfg, 2 * iteration + 1, cfg.rank_batches, augment=False):
            c.accumulate(model, to_input(xb, prep), yb)
    raw = c.scores(model)
    costs = None
    if cfg.flops_lambda:
        pick = 1 if cfg.cost == "macs" else 0
        costs = {
            n: float(v[pick]) for n, v in marginal_costs(model.widths, model.arch, model.num_classes, size).items()
        }
    return crit_mod.rank_scores(raw, cfg.normalize, cfg.flops_lambda, costs)


def finetune(
    model: SqueezeNet,
    cfg: PruneConfig,
    d: PruneData,
    prep: Preprocessing,
    iteration: int,
    show: bool,
    distill: Distillation | None = None,
) -> float:
    """M AdamW steps at constant lr with a fresh optimizer (the cut changed every shape); mean loss."""
    if cfg.finetune_batches == 0:
        return float("nan")
    torch.manual_seed(cfg.seed * 1_000_003 + 2 * iteration)  # dropout
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    losses = []
    bar = progress(
        batches(d, cfg, 2 * iteration, cfg.finetune_batches, augment=True),
        cfg.finetune_batches,
        f"fine-tune {iteration + 1}",
        show,
    )
    for xb, yb in bar:
        losses.append(train_step(model, opt, to_input(xb, prep), yb, cfg.lr, cfg.label_smoothing, distill)[0])
    return float(np.mean(losses))


# ---------------------------------------------------------------- progress
def iterations_left(widths: Widths, base: dict, now: dict, done: int, cfg: PruneConfig) -> int:
    """An estimate of the pruning iterations still to run, for the progress bar's total and the ETA.

    Bounded by the filters the guards still allow (k per step) and by max_iterations; with a size
    target, the removal rate so far (or, before the first cut, removal in proportion to filters)."""
    lo = min_widths(widths, cfg)
    room = sum(width(widths, n) - width(lo, n) for n in LAYERS)
    left = min(math.ceil(room / cfg.filters_per_step), cfg.max_iterations - done)
    for key, target in (("params", cfg.target_params), ("macs", cfg.target_macs)):
        if not target:
            continue
        gone = removed_fraction(base, now, key)
        if gone >= target - 1e-12:
            return 0
        if done:
            rate = gone / done
            if rate > 0:
                left = min(left, math.ceil((target - gone) / rate - 1e-9))
        else:
            total = sum(width(widths, n) for n in LAYERS)
            left = min(left, max(1, math.ceil(target * total / cfg.filters_per_step)))
    return max(0, left)


def eta_seconds(state: dict, cfg: PruneConfig, prune_left: int, steps_per_epoch: int) -> float:
    """Seconds still to go: pruning iterations at their mean time so far, final epochs at theirs (or estimated)."""
    it_s = [h["seconds"] for h in state["history"]]
    ep_s = [h["seconds"] for h in state["final_history"]]
    mean_it = float(np.mean(it_s)) if it_s else 0.0
    if ep_s:
        epoch = float(np.mean(ep_s))
    else:  # no final epoch yet: a fine-tune batch costs about what an iteration's batches cost
        per_batch = mean_it / max(1, cfg.finetune_batches + cfg.rank_batches)
        epoch = per_batch * steps_per_epoch
    return prune_left * mean_it + (cfg.final_epochs - state["final_epoch"]) * epoch


def format_duration(seconds: float) -> str:
    """'1h02m', '3m12s' or '45s'."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class _Overall:
    """The run's overall progress: a bar over pruning iterations + final epochs, and ETA text for the log lines."""

    def __init__(self, cfg: PruneConfig, state: dict, steps_per_epoch: int, show: bool) -> None:
        self.cfg, self.state, self.steps = cfg, state, steps_per_epoch
        self.bar = progress(iter(int, 1), None, f"prune {cfg.criterion}", show)  # advanced by hand
        self.prune_left = 0

    def update(self, widths: Widths, now: dict, advance: int = 1) -> None:
        s = self.state
        self.prune_left = (
            iterations_left(widths, s["base"], now, s["iteration"], self.cfg) if s["phase"] == "prune" else 0
        )
        if hasattr(self.bar, "update"):
            self.bar.total = s["iteration"] + self.prune_left + self.cfg.final_epochs
            self.bar.update(advance)  # refreshes with the new total

    def eta(self) -> str:
        return f"ETA {format_duration(eta_seconds(self.state, self.cfg, self.prune_left, self.steps))}"

    def log(self, text: str) -> None:
        if hasattr(self.bar, "write"):
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if hasattr(self.bar, "close"):
            self.bar.close()


# ---------------------------------------------------------------- state
def _model_state(model: SqueezeNet) -> dict[str, Any]:
    """Weights on the CPU, so a state written on a GPU resumes anywhere."""
    return {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "widths": model.widths.to_dict()}


def _model_from(arch: str, num_classes: int, s: dict, device: torch.device | str = "cpu") -> SqueezeNet:
    m = build(arch, num_classes, Widths.from_dict(s["widths"]))
    m.load_state_dict(s["model"])
    return m.to(device)


def run(
    cfg: PruneConfig,
    resume: bool = False,
    show: bool = True,
    data: PruneData | None = None,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Prune per `cfg` into cfg.out (state.pt, model.pt, report.*); returns the report dict.

    `stop_after` ends the process-equivalent of a kill after that many iterations (tests use it).
    """
    from . import report as report_mod

    cfg.validate()
    out = Path(cfg.out)
    state_path = out / STATE_FILE
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    src = ckpt_io.load(cfg.checkpoint)
    arch, num_classes = src["arch"], int(src["num_classes"])
    prep = Preprocessing.from_json(src["preprocessing"], cfg.checkpoint)
    size = prep.input_size[0]
    base_model, _ = ckpt_io.model_from_checkpoint(src, cfg.checkpoint)
    dev = choose_device(cfg.device)
    base_model.to(dev)
    check_reachable(base_model.widths, arch, num_classes, size, cfg)

    state: dict[str, Any] | None = None
    if state_path.exists():
        if not resume:
            raise ValueError(f"{state_path}: a pruning run already exists here; pass --resume or choose another --out")
        state = ckpt_io.load(state_path)
        refuse_changed_settings(PruneConfig, state.get("config", {}), asdict(cfg), state_path)
    d = data or load_data(cfg, src)

    if state is None:
        base = sizes(base_model.widths, arch, num_classes, size)
        base["widths"] = base_model.widths.to_dict()
        base["val_acc"] = accuracy(base_model, d.val_x, d.val_y, prep)
        least = cfg.min_accuracy(base["val_acc"])
        if least and least >= base["val_acc"]:
            raise ValueError(
                f"min_val_acc={least:.4f} is not below the unpruned validation accuracy {base['val_acc']:.4f}"
            )
        state = {
            "arch": arch,
            "num_classes": num_classes,
            "preprocessing": src["preprocessing"],
            "data": d.split,
            "config": asdict(cfg),
            "phase": "prune",
            "iteration": 0,
            "history": [],
            "base": base,
            "final_epoch": 0,
            "final_history": [],
            "stop_reason": "",
            **_model_state(base_model),
            "prev": _model_state(base_model),
        }
        ckpt_io.save_atomic(state, state_path)
    state.setdefault("data", d.split)
    base = state["base"]
    least = cfg.min_accuracy(base["val_acc"])
    model = _model_from(arch, num_classes, state, dev)
    distill = Distillation(base_model.eval(), cfg.distill, cfg.distill_t) if cfg.distill else None

    overall = _Overall(cfg, state, steps_per_final_epoch(d, cfg), show)
    overall.update(
        model.widths, sizes(model.widths, arch, num_classes, size), advance=state["iteration"] + state["final_epoch"]
    )
    done_now = 0
    while state["phase"] == "prune":
        it = state["iteration"]
        now = sizes(model.widths, arch, num_classes, size)
        reason = (
            "target reached"
            if targets_met(base, now, cfg)
            else "max_iterations reached"
            if it >= cfg.max_iterations
            else ""
        )
        plan = (
            {}
            if reason
            else select(rank(model, cfg, d, prep, it, size), model.widths, cfg, arch, num_classes, size, base)
        )
        if not reason and not plan:
            reason = "no prunable filters left under the guards"
        if reason:
            state.update(phase="final", stop_reason=reason)
            ckpt_io.save_atomic(state, state_path)
            overall.update(model.widths, now, advance=0)
            break
        t0 = time.time()
        widths_before = model.widths
        model = prune(model, plan, cfg.min_width, cfg.round_to).to(dev)
        loss = finetune(model, cfg, d, prep, it, show, distill)
        val = accuracy(model, d.val_x, d.val_y, prep)
        now = sizes(model.widths, arch, num_classes, size)
        rec = {
            "iteration": it + 1,
            **now,
            "widths": model.widths.to_dict(),
            "val_acc": val,
            "train_loss": loss,
            "removed": plan,
            "removed_count": sum(len(v) for v in plan.values()),
            "widths_before": widths_before.to_dict(),
            "seconds": time.time() - t0,
            "reverted": False,
        }
        if least and val < least:
            rec["reverted"] = True
            model = _model_from(arch, num_classes, state["prev"], dev)
            state.update(phase="final", stop_reason=f"validation accuracy {val:.4f} fell below the minimum {least:.4f}")
        state["history"].append(rec)
        state["iteration"] = it + 1
        state.update(_model_state(model))
        if not rec["reverted"]:
            state["prev"] = _model_state(model)
        ckpt_io.save_atomic(state, state_path)
        report_mod.write(out, state, plots=False, name="progress")  # report.* appear only when done
        overall.update(model.widths, now)
        if hasattr(overall.bar, "set_postfix"):
            overall.bar.set_postfix(
                params=f"{now['params'] / base['params']:.1%}",
                macs=f"{now['macs'] / base['macs']:.1%}",
                val=f"{val:.4f}",
            )
        overall.log(
            f"iter {it + 1:3d}  removed {rec['removed_count']:3d}  params {now['params']:8d} "
            f"({now['params'] / base['params']:6.1%})  MACs {now['macs'] / base['macs']:6.1%}  val {val:.4f}"
            f"{'  (below the minimum: undone)' if rec['reverted'] else ''}  {rec['seconds']:.1f}s  "
            f"{overall.eta()}"
        )
        done_now += 1
        if stop_after is not None and done_now >= stop_after:
            overall.close()
            return {"stopped": True}

    if state["phase"] == "final":
        model = _final_finetune(model, state, cfg, d, prep, state_path, show, stop_after, done_now, distill, overall)
        if model is None:
            overall.close()
            return {"stopped": True}
    overall.close()
    model = _model_from(arch, num_classes, state, dev)
    if "test_acc" not in state:
        state["test_acc"] = accuracy(model, d.test_x, d.test_y, prep)
        state["base"]["test_acc"] = accuracy(base_model, d.test_x, d.test_y, prep)
        ckpt_io.save_atomic(state, state_path)
    ckpt_io.save_atomic(_pruned_checkpoint(model, state, cfg, src), out / MODEL_FILE)
    return report_mod.write(out, state, plots=True)


def _final_finetune(
    model: SqueezeNet,
    state: dict,
    cfg: PruneConfig,
    d: PruneData,
    prep: Preprocessing,
    state_path: Path,
    show: bool,
    stop_after: int | None,
    done_now: int,
    distill: Distillation | None,
    overall: _Overall,
) -> SqueezeNet | None:
    """cfg.final_epochs epochs, warm-up then cosine to zero, checkpointed (with optimizer) every epoch."""
    steps = steps_per_final_epoch(d, cfg)
    total, warmup = steps * cfg.final_epochs, min(100, steps * cfg.final_epochs // 10)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.final_lr, weight_decay=cfg.weight_decay)
    if state.get("optimizer"):
        opt.load_state_dict(state["optimizer"])
    for epoch in range(state["final_epoch"], cfg.final_epochs):
        t0 = time.time()
        torch.manual_seed(cfg.seed * 1_000_003 + 999_999 - epoch)
        losses = []
        bar = progress(
            batches(d, cfg, 1_000_000 + epoch, steps, augment=True),
            steps,
            f"final fine-tune {epoch + 1}/{cfg.final_epochs}",
            show,
        )
        for i, (xb, yb) in enumerate(bar):
            lr = lr_at(epoch * steps + i, total, warmup, cfg.final_lr)
            losses.append(train_step(model, opt, to_input(xb, prep), yb, lr, cfg.label_smoothing, distill)[0])
        val = accuracy(model, d.val_x, d.val_y, prep)
        state["final_history"].append(
            {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_acc": val, "seconds": time.time() - t0}
        )
        state.update(final_epoch=epoch + 1, optimizer=opt.state_dict(), **_model_state(model))
        if epoch + 1 == cfg.final_epochs:
            state["phase"] = "done"
        ckpt_io.save_atomic(state, state_path)
        if hasattr(overall.bar, "update"):
            overall.bar.update(1)
        overall.log(
            f"final fine-tune {epoch + 1}/{cfg.final_epochs}  loss {np.mean(losses):.4f}  val {val:.4f}  "
            f"{time.time() - t0:.0f}s  {overall.eta()}"
        )
        done_now += 1
        if stop_after is not None and done_now >= stop_after and state["phase"] != "done":
            return None
    if cfg.final_epochs == 0:
        state["phase"] = "done"
        ckpt_io.save_atomic(state, state_path)
    return model


def _pruned_checkpoint(model: SqueezeNet, state: dict, cfg: PruneConfig, src: dict) -> dict[str, Any]:
    """The pruned model as a model checkpoint (checkpoint.model_checkpoint), so evaluate/export/train --init accept it.

    Its "config" stays the source's training configuration; this run's own settings are under "pruning"."""
    val = (
        state["final_history"][-1]["val_acc"]
        if state["final_history"]
        else state["history"][-1]["val_acc"]
        if state["history"]
        else state["base"]["val_acc"]
    )
    return ckpt_io.model_checkpoint(
        model,
        state["preprocessing"],
        state["data"],
        dict(src.get("config") or {}),
        optimizer=state.get("optimizer", {}),
        epoch=state["final_epoch"],
        history=state["final_history"],
        best_val_acc=val,
        pruning={
            "criterion": cfg.criterion,
            "config": asdict(cfg),
            "base": state["base"],
            "iterations": state["iteration"],
            "stop_reason": state["stop_reason"],
            "test_acc": state.get("test_acc"),
        },
    )
