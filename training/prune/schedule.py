"""Iterative prune-and-fine-tune: rank on N batches -> remove k filters -> fine-tune M batches, until a target.

The schedule only orchestrates: criteria score, `select` turns scores into a plan under the guards,
surgery cuts. Everything random is derived from (seed, iteration) or (seed, final epoch), and the run
state is written atomically after every iteration and every final epoch, so a killed run resumed with
`--resume` ends with exactly the model of an uninterrupted one (same thread count assumed).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from .. import checkpoint as ckpt_io
from .. import data as data_mod
from ..model import SqueezeNet, Widths, build, count_macs, count_params
from ..train import accuracy, epoch_batches, lr_at, progress, to_input, train_step
from . import criteria as crit_mod
from .group import LAYERS, marginal_costs, width, with_widths
from .surgery import prune

STATE_FILE = "state.pt"
MODEL_FILE = "model.pt"


@dataclass
class PruneConfig:
    """`bluefire prune` settings. Layered: these defaults < --config FILE.json < command-line flags."""

    checkpoint: str = ""             # trained bluefire checkpoint to prune
    criterion: str = "taylor"        # taylor | l2 | combined | weight-l1 | random
    alpha: float = crit_mod.DEFAULT_ALPHA  # combined = alpha * Taylor + (1 - alpha) * L2 (both layer-normalised)
    normalize: bool = True           # per-layer L2 normalisation of the scores before global ranking
    flops_lambda: float = 0.0        # score - lambda * (per-filter cost / largest per-filter cost); 0 = off
    cost: str = "macs"               # what flops_lambda penalises: macs (speed) | params (model size)
    target_params: float = 0.8       # stop once this fraction of the parameters is removed (0 = no such target)
    target_macs: float = 0.0         # stop once this fraction of the MACs is removed (0 = no such target)
    min_val_acc: float = 0.0         # accuracy floor: an iteration below it is undone and pruning stops (0 = off)
    max_val_drop: float = 0.0        # floor relative to the unpruned val accuracy, e.g. 0.01 (0 = off)
    filters_per_step: int = 32       # k: filters removed per iteration
    ranking: str = "global"          # global: k lowest over all layers | per-layer: k shared in proportion to width
    rank_batches: int = 16           # N: batches the criterion sees per iteration
    finetune_batches: int = 100      # M: fine-tuning batches after each cut
    final_epochs: int = 3            # fine-tuning epochs after the last cut (cosine to zero)
    lr: float = 5e-4                 # AdamW lr during iterative fine-tuning (constant)
    final_lr: float = 5e-4           # peak AdamW lr of the final fine-tune
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    distill: float = 0.0             # weight of distillation from the unpruned model (KL at temperature distill_t); 0 = off
    distill_t: float = 4.0           # distillation temperature
    augment: str = "crop,flip"       # as in training; flips are skipped where the data set forbids them
    batch_size: int = 128
    min_width: int = 1               # guard: no layer keeps fewer filters
    round_to: int = 1                # guard: keep pruned widths multiples of this (4 or 8 for SIMD), 1 = off
    max_iterations: int = 1000
    data: str = ""                   # data spec; "" = the checkpoint's own training data and validation split
    seed: int = 0
    threads: int = 0                 # torch intra-op threads, 0 = torch's default
    device: str = "auto"             # auto (cuda when available) | cpu | cuda; not part of a run's identity
    out: str = "runs/prune"

    def validate(self) -> None:
        if self.criterion not in crit_mod.CRITERIA:
            raise ValueError(f"criterion: expected one of {', '.join(crit_mod.CRITERIA)}, got {self.criterion!r}")
        if self.cost not in ("macs", "params"):
            raise ValueError(f"cost: expected 'macs' or 'params', got {self.cost!r}")
        if self.ranking not in ("global", "per-layer"):
            raise ValueError(f"ranking: expected 'global' or 'per-layer', got {self.ranking!r}")
        for name in ("target_params", "target_macs", "min_val_acc", "max_val_drop"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}: must be in [0, 1), got {getattr(self, name)}")
        if not (self.target_params or self.target_macs or self.min_val_acc or self.max_val_drop):
            raise ValueError("no target: give target_params, target_macs, min_val_acc or max_val_drop")
        for name in ("filters_per_step", "batch_size", "min_width", "round_to", "max_iterations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("rank_batches", "finetune_batches", "final_epochs", "threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if self.rank_batches == 0 and self.criterion in ("taylor", "l2", "combined"):
            raise ValueError(f"rank_batches: {self.criterion} needs at least one batch")
        if not 0.0 <= self.distill <= 1.0 or self.distill_t <= 0:
            raise ValueError(f"distill must be in [0, 1] and distill_t > 0, got {self.distill}, {self.distill_t}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha: must be in [0, 1], got {self.alpha}")
        if self.lr <= 0 or self.final_lr <= 0:
            raise ValueError("lr and final_lr must be > 0")
        bad = set(filter(None, self.augment.split(","))) - {"crop", "flip"}
        if bad:
            raise ValueError(f"augment: unknown item(s) {sorted(bad)}; expected crop, flip")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device: expected auto, cpu or cuda, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device: cuda was asked for but torch sees no CUDA device")


def device_of(cfg: PruneConfig) -> torch.device:
    """The torch device a run computes on (batches and models are moved there; state is saved on the CPU)."""
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


# ---------------------------------------------------------------- data
@dataclass
class PruneData:
    """Prepared uint8 training and validation images at the model's input size (and test, for the report)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    flip_ok: bool
    spec: str
    seed: int = 0
    val_fraction: float = 0.1


def load_data(cfg: PruneConfig, ckpt: dict) -> PruneData:
    """The checkpoint's own data and validation split (same spec, seed and val_fraction as its training)."""
    from rtmaps_components.preprocess import Preprocessing

    known = ckpt_io.data_split_of(ckpt)
    spec = cfg.data or known["spec"]
    if not spec:
        raise ValueError(f"{cfg.checkpoint}: the checkpoint names no training data; give --data")
    seed, val_fraction = known["seed"], known["val_fraction"]
    prep = Preprocessing.from_json(ckpt["preprocessing"], cfg.checkpoint)
    ds = data_mod.load(spec, seed, val_fraction)
    if len(ds.class_names) != int(ckpt["num_classes"]):
        raise ValueError(f"{cfg.checkpoint}: the model has {ckpt['num_classes']} classes, data {spec!r} has {len(ds.class_names)}")
    return PruneData(torch.from_numpy(data_mod.prepare(ds.train, prep)), torch.from_numpy(ds.train.labels),
                     data_mod.prepare(ds.val, prep), ds.val.labels, data_mod.prepare(ds.test, prep), ds.test.labels,
                     ds.flip_ok, spec, seed, val_fraction)


def _batches(d: PruneData, cfg: PruneConfig, key: int, count: int, augment: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """`count` batches from seeded permutations of the training split; `key` picks the permutation."""
    aug = set(filter(None, cfg.augment.split(","))) if augment else set()
    bs = min(cfg.batch_size, len(d.train_y))
    dev = device_of(cfg)
    done, rep = 0, 0
    while done < count:
        for xb, yb in epoch_batches(d.train_x, d.train_y, bs, cfg.seed, key * 1000 + rep, "crop" in aug,
                                    "flip" in aug and d.flip_ok):
            yield xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            done += 1
            if done == count:
                return
        rep += 1


# ---------------------------------------------------------------- measuring
def sizes(widths: Widths, arch: str, num_classes: int, size: int) -> dict[str, int]:
    """Parameters, MACs and fp32 weight bytes of a width table."""
    p = count_params(widths, arch, num_classes)
    return {"params": p, "macs": count_macs(widths, arch, num_classes, size), "size_bytes": 4 * p}


def floor_of(cfg: PruneConfig, base_val: float) -> float:
    """The validation-accuracy floor in force (0 when none)."""
    return max(cfg.min_val_acc, base_val - cfg.max_val_drop if cfg.max_val_drop else 0.0)


def _min_widths(widths: Widths, cfg: PruneConfig) -> Widths:
    """The narrowest table the guards allow: min_width, rounded up to round_to, never above the current width."""
    lo = math.ceil(cfg.min_width / cfg.round_to) * cfg.round_to
    return with_widths(widths, {n: min(width(widths, n), lo) for n in LAYERS})


def targets_met(base: dict, now: dict, cfg: PruneConfig) -> bool:
    """Every size target given is reached (False when only an accuracy floor was given)."""
    checks = []
    if cfg.target_params:
        checks.append(1 - now["params"] / base["params"] >= cfg.target_params - 1e-12)
    if cfg.target_macs:
        checks.append(1 - now["macs"] / base["macs"] >= cfg.target_macs - 1e-12)
    return bool(checks) and all(checks)


def check_reachable(widths: Widths, arch: str, num_classes: int, size: int, cfg: PruneConfig) -> None:
    """Raise before any work when the guards make a size target impossible."""
    base = sizes(widths, arch, num_classes, size)
    low = sizes(_min_widths(widths, cfg), arch, num_classes, size)
    for key, target in (("params", cfg.target_params), ("macs", cfg.target_macs)):
        best = 1 - low[key] / base[key]
        if target and best < target:
            raise ValueError(f"target_{key}={target:.3f} is unreachable: with min_width={cfg.min_width} and "
                             f"round_to={cfg.round_to} at most {best:.3f} of the {key} can be removed")


# ---------------------------------------------------------------- selection
def select(scores: dict[str, torch.Tensor], widths: Widths, cfg: PruneConfig, arch: str, num_classes: int,
           size: int, base: dict) -> dict[str, list[int]]:
    """Turn scores into a removal plan: the k lowest (global or per layer) under the guards, stopping at the target."""
    lo = _min_widths(widths, cfg)
    room = {n: width(widths, n) - width(lo, n) for n in LAYERS}
    order = {n: [int(i) for i in torch.argsort(scores[n], stable=True)] for n in LAYERS}
    k = cfg.filters_per_step
    if cfg.ranking == "per-layer":
        total = sum(room.values())
        share = {n: k * room[n] / total if total else 0 for n in LAYERS}
        quota = {n: min(room[n], int(share[n])) for n in LAYERS}
        for n in sorted(LAYERS, key=lambda n: share[n] - int(share[n]), reverse=True):  # largest remainders
            if sum(quota.values()) >= min(k, total):
                break
            if quota[n] < room[n]:
                quota[n] += 1
        candidates = [(n, i) for n in LAYERS for i in order[n][:quota[n]]]
        candidates.sort(key=lambda c: float(scores[c[0]][c[1]]))
    else:
        candidates = sorted(((n, i) for n in LAYERS for i in order[n]), key=lambda c: float(scores[c[0]][c[1]]))
    plan: dict[str, list[int]] = {n: [] for n in LAYERS}
    taken = 0
    for n, i in candidates:
        if taken == k:
            break
        if len(plan[n]) >= room[n]:
            continue
        plan[n].append(i)
        taken += 1
        if cfg.round_to == 1:
            cur = with_widths(widths, {m: width(widths, m) - len(v) for m, v in plan.items() if v})
            if targets_met(base, sizes(cur, arch, num_classes, size), cfg):
                break
    if cfg.round_to > 1:
        plan = _round_plan(plan, order, widths, lo, cfg.round_to)
    return {n: sorted(v) for n, v in plan.items() if v}


def _round_plan(plan: dict[str, list[int]], order: dict[str, list[int]], widths: Widths, lo: Widths,
                r: int) -> dict[str, list[int]]:
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


# ---------------------------------------------------------------- training pieces
def rank(model: SqueezeNet, cfg: PruneConfig, d: PruneData, prep, iteration: int, size: int) -> dict[str, torch.Tensor]:
    """Final per-filter scores of this iteration (criterion, normalisation, FLOPs penalty)."""
    c = crit_mod.make(cfg.criterion, cfg.seed, cfg.alpha)
    c.reset(model, iteration)
    if c.uses_data:
        for xb, yb in _batches(d, cfg, 2 * iteration + 1, cfg.rank_batches, augment=False):
            c.accumulate(model, to_input(xb, prep), yb)
    raw = c.scores(model)
    costs = None
    if cfg.flops_lambda:
        pick = 1 if cfg.cost == "macs" else 0
        costs = {n: float(v[pick]) for n, v in marginal_costs(model.widths, model.arch, model.num_classes, size).items()}
    return crit_mod.rank_scores(raw, cfg.normalize, cfg.flops_lambda, costs)


def step(model: SqueezeNet, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, lr: float,
         cfg: PruneConfig, teacher: SqueezeNet | None) -> float:
    """One AdamW step: cross-entropy, plus distillation from the unpruned model when cfg.distill > 0."""
    if teacher is None or not cfg.distill:
        return train_step(model, opt, x, y, lr, cfg.label_smoothing)[0]
    import torch.nn.functional as F

    with torch.no_grad():
        soft = F.softmax(teacher.eval()(x) / cfg.distill_t, dim=1)
    for g in opt.param_groups:
        g["lr"] = lr
    model.train()
    logits = model(x)
    kd = F.kl_div(F.log_softmax(logits / cfg.distill_t, dim=1), soft, reduction="batchmean") * cfg.distill_t ** 2
    loss = (1 - cfg.distill) * F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing) + cfg.distill * kd
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def finetune(model: SqueezeNet, cfg: PruneConfig, d: PruneData, prep, iteration: int, show: bool,
             teacher: SqueezeNet | None = None) -> float:
    """M AdamW steps at constant lr with a fresh optimizer (the cut changed every shape); mean loss."""
    if cfg.finetune_batches == 0:
        return float("nan")
    torch.manual_seed(cfg.seed * 1_000_003 + 2 * iteration)  # dropout
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    losses = []
    bar = progress(_batches(d, cfg, 2 * iteration, cfg.finetune_batches, augment=True), cfg.finetune_batches,
                   f"fine-tune {iteration + 1}", show)
    for xb, yb in bar:
        losses.append(step(model, opt, to_input(xb, prep), yb, cfg.lr, cfg, teacher))
    return float(np.mean(losses))


# ---------------------------------------------------------------- state
def _model_state(model: SqueezeNet) -> dict[str, Any]:
    """Weights on the CPU, so a state written on a GPU resumes anywhere."""
    return {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "widths": model.widths.to_dict()}


def _model_from(arch: str, num_classes: int, s: dict, device: torch.device | str = "cpu") -> SqueezeNet:
    m = build(arch, num_classes, Widths.from_dict(s["widths"]))
    m.load_state_dict(s["model"])
    return m.to(device)


def config_diff(old: dict, new: dict) -> dict[str, tuple[Any, Any]]:
    """{key: (checkpoint value, requested value)} for every setting that differs.

    A setting added to PruneConfig after the run started counts as its default in the old run."""
    defaults = {f.name: f.default for f in fields(PruneConfig)}
    old = {**{k: v for k, v in defaults.items() if k not in old}, **old}
    where = {"device", "threads"}  # where a run computes is not what it computes
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
            if k not in where and old.get(k) != new.get(k)}


def _log(bar, text: str) -> None:
    if hasattr(bar, "write"):
        bar.write(text)
    else:
        print(text, flush=True)


def run(cfg: PruneConfig, resume: bool = False, show: bool = True, data: PruneData | None = None,
        stop_after: int | None = None) -> dict[str, Any]:
    """Prune per `cfg` into cfg.out (state.pt, model.pt, report.*); returns the report dict.

    `stop_after` ends the process-equivalent of a kill after that many iterations (tests use it).
    """
    from . import report as report_mod
    from rtmaps_components.preprocess import Preprocessing

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
    dev = device_of(cfg)
    base_model.to(dev)
    check_reachable(base_model.widths, arch, num_classes, size, cfg)

    state: dict[str, Any] | None = None
    if state_path.exists():
        if not resume:
            raise ValueError(f"{state_path}: a pruning run already exists here; pass --resume or choose another --out")
        state = ckpt_io.load(state_path)
        diff = config_diff(state.get("config", {}), asdict(cfg))
        if diff:
            lines = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
            raise ValueError(f"{state_path}: refusing to resume with a different configuration ({lines})")
    d = data or load_data(cfg, src)

    if state is None:
        base = sizes(base_model.widths, arch, num_classes, size)
        base["widths"] = base_model.widths.to_dict()
        base["val_acc"] = accuracy(base_model, d.val_x, d.val_y, prep)
        floor = floor_of(cfg, base["val_acc"])
        if floor and floor >= base["val_acc"]:
            raise ValueError(f"min_val_acc={floor:.4f} is not below the unpruned validation accuracy {base['val_acc']:.4f}")
        state = {"arch": arch, "num_classes": num_classes, "preprocessing": src["preprocessing"],
                 "data": {"spec": d.spec, "seed": d.seed, "val_fraction": d.val_fraction},
                 "config": asdict(cfg), "phase": "prune", "iteration": 0, "history": [], "base": base,
                 "final_epoch": 0, "final_history": [], "stop_reason": "", **_model_state(base_model),
                 "prev": _model_state(base_model)}
        ckpt_io.save_atomic(state, state_path)
    state.setdefault("data", {"spec": d.spec, "seed": d.seed, "val_fraction": d.val_fraction})
    base = state["base"]
    floor = floor_of(cfg, base["val_acc"])
    model = _model_from(arch, num_classes, state, dev)
    teacher = base_model.eval() if cfg.distill else None

    bar = progress(iter(int, 1), None, f"prune {cfg.criterion}", show)  # endless; advanced by hand
    if hasattr(bar, "update"):
        bar.update(state["iteration"])
    done_now = 0
    while state["phase"] == "prune":
        it = state["iteration"]
        now = sizes(model.widths, arch, num_classes, size)
        reason = ("target reached" if targets_met(base, now, cfg) else
                  "max_iterations reached" if it >= cfg.max_iterations else "")
        plan = {} if reason else select(rank(model, cfg, d, prep, it, size), model.widths, cfg, arch,
                                        num_classes, size, base)
        if not reason and not plan:
            reason = "no prunable filters left under the guards"
        if reason:
            state.update(phase="final", stop_reason=reason)
            ckpt_io.save_atomic(state, state_path)
            break
        t0 = time.time()
        widths_before = model.widths
        model = prune(model, plan, cfg.min_width, cfg.round_to).to(dev)
        loss = finetune(model, cfg, d, prep, it, show, teacher)
        val = accuracy(model, d.val_x, d.val_y, prep)
        now = sizes(model.widths, arch, num_classes, size)
        rec = {"iteration": it + 1, **now, "widths": model.widths.to_dict(), "val_acc": val, "train_loss": loss,
               "removed": plan, "removed_count": sum(len(v) for v in plan.values()),
               "widths_before": widths_before.to_dict(), "seconds": time.time() - t0, "reverted": False}
        if floor and val < floor:
            rec["reverted"] = True
            model = _model_from(arch, num_classes, state["prev"], dev)
            state.update(phase="final", stop_reason=f"validation accuracy {val:.4f} fell below the floor {floor:.4f}")
        state["history"].append(rec)
        state["iteration"] = it + 1
        state.update(_model_state(model))
        if not rec["reverted"]:
            state["prev"] = _model_state(model)
        ckpt_io.save_atomic(state, state_path)
        report_mod.write(out, state, plots=False, name="progress")  # report.* appear only when done
        if hasattr(bar, "update"):
            bar.update(1)
            bar.set_postfix(params=f"{now['params'] / base['params']:.1%}", macs=f"{now['macs'] / base['macs']:.1%}",
                            val=f"{val:.4f}")
        _log(bar, f"iter {it + 1:3d}  removed {rec['removed_count']:3d}  params {now['params']:8d} "
                  f"({now['params'] / base['params']:6.1%})  MACs {now['macs'] / base['macs']:6.1%}  val {val:.4f}"
                  f"{'  (below floor: undone)' if rec['reverted'] else ''}  {rec['seconds']:.1f}s")
        done_now += 1
        if stop_after is not None and done_now >= stop_after:
            return {"stopped": True}
    if hasattr(bar, "close"):
        bar.close()

    if state["phase"] == "final":
        model = _final_finetune(model, state, cfg, d, prep, state_path, show, stop_after, done_now, teacher)
        if model is None:
            return {"stopped": True}
    model = _model_from(arch, num_classes, state, dev)
    if "test_acc" not in state:
        state["test_acc"] = accuracy(model, d.test_x, d.test_y, prep)
        state["base"]["test_acc"] = accuracy(base_model, d.test_x, d.test_y, prep)
        ckpt_io.save_atomic(state, state_path)
    final = _training_checkpoint(model, state, cfg)
    ckpt_io.save_atomic(final, out / MODEL_FILE)
    return report_mod.write(out, state, plots=True)


def _final_finetune(model: SqueezeNet, state: dict, cfg: PruneConfig, d: PruneData, prep, state_path: Path,
                    show: bool, stop_after: int | None, done_now: int,
                    teacher: SqueezeNet | None) -> SqueezeNet | None:
    """cfg.final_epochs epochs, warm-up then cosine to zero, checkpointed (with optimizer) every epoch."""
    steps = max(1, len(d.train_y) // min(cfg.batch_size, len(d.train_y)))
    total, warmup = steps * cfg.final_epochs, min(100, steps * cfg.final_epochs // 10)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.final_lr, weight_decay=cfg.weight_decay)
    if state.get("optimizer"):
        opt.load_state_dict(state["optimizer"])
    for epoch in range(state["final_epoch"], cfg.final_epochs):
        t0 = time.time()
        torch.manual_seed(cfg.seed * 1_000_003 + 999_999 - epoch)
        losses = []
        bar = progress(_batches(d, cfg, 1_000_000 + epoch, steps, augment=True), steps,
                       f"final fine-tune {epoch + 1}/{cfg.final_epochs}", show)
        for i, (xb, yb) in enumerate(bar):
            losses.append(step(model, opt, to_input(xb, prep), yb, lr_at(epoch * steps + i, total, warmup, cfg.final_lr),
                               cfg, teacher))
        val = accuracy(model, d.val_x, d.val_y, prep)
        state["final_history"].append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_acc": val,
                                       "seconds": time.time() - t0})
        state.update(final_epoch=epoch + 1, optimizer=opt.state_dict(), **_model_state(model))
        print(f"final fine-tune {epoch + 1}/{cfg.final_epochs}  loss {np.mean(losses):.4f}  val {val:.4f}  "
              f"{time.time() - t0:.0f}s", flush=True)
        if epoch + 1 == cfg.final_epochs:
            state["phase"] = "done"
        ckpt_io.save_atomic(state, state_path)
        done_now += 1
        if stop_after is not None and done_now >= stop_after and state["phase"] != "done":
            return None
    if cfg.final_epochs == 0:
        state["phase"] = "done"
        ckpt_io.save_atomic(state, state_path)
    return model


def _training_checkpoint(model: SqueezeNet, state: dict, cfg: PruneConfig) -> dict[str, Any]:
    """The pruned model in `bluefire train`'s checkpoint format, so evaluate/export/train --init accept it."""
    val = (state["final_history"][-1]["val_acc"] if state["final_history"]
           else state["history"][-1]["val_acc"] if state["history"] else state["base"]["val_acc"])
    return {"model": _model_state(model)["model"], "arch": model.arch, "num_classes": model.num_classes,
            "widths": model.widths.to_dict(), "preprocessing": state["preprocessing"],
            "optimizer": state.get("optimizer", {}), "config": asdict(cfg), "epoch": state["final_epoch"],
            "history": state["final_history"], "best_val_acc": val, "rng": {"torch": torch.get_rng_state()},
            "data": state["data"],  # the data and split it was trained on, for evaluate/export
            "pruning": {"criterion": cfg.criterion, "base": state["base"], "iterations": state["iteration"],
                        "stop_reason": state["stop_reason"], "test_acc": state.get("test_acc")}}


def config_from_args(values: dict[str, Any]) -> PruneConfig:
    """PruneConfig from a dict (unknown keys are errors), validated."""
    names = {f.name for f in fields(PruneConfig)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown prune setting(s) {sorted(unknown)}")
    cfg = PruneConfig(**values)
    cfg.validate()
    return cfg
