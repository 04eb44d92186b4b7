"""Training and fine-tuning loops (used by `bluefire train` and by the pruning schedule).

Everything random is derived from (seed, epoch), and the LR schedule from the global step, so a
run resumed from an epoch checkpoint ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from rtmaps_components.preprocess import Preprocessing


@dataclass
class TrainConfig:
    """`bluefire train` settings. Layered: these defaults < --config FILE.json < command-line flags."""

    data: str = "fashion-mnist"  # fashion-mnist[:DIR] | cifar10:DIR | folder:DIR | digits
    arch: str = "squeezenet1_1"  # squeezenet1_0 | squeezenet1_1
    input_size: int = 32  # square network input; images are resized to it
    weights: str = ""  # torchvision state dict to start from (transfer learning)
    init: str = ""  # bluefire checkpoint to start from (transfer; head re-initialised if classes differ)
    epochs: int = 30  # passes over the training split (cosine schedule spans them all)
    head_epochs: int = 0  # transfer learning: train only the classifier for these first epochs
    batch_size: int = 128  # images per step and per process (under torchrun the global batch is N x this)
    optimizer: str = "adamw"  # adamw | sgd (Nesterov). SqueezeNet has no batch norm: SGD from scratch
    # stays at chance on Fashion-MNIST here, AdamW does not (measured)
    lr: float = 0.002  # peak learning rate (after warm-up)
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.05  # decoupled for AdamW; use ~5e-4 with SGD
    warmup_epochs: float = 1.0  # linear warm-up, then cosine to zero
    label_smoothing: float = 0.1  # cross-entropy label smoothing
    augment: str = "crop,flip"  # comma list of crop (pad 4 + random crop), flip (skipped where flips change the label)
    val_fraction: float = 0.1  # carved from the training split; the test split is never used for choices
    train_limit: int = 0  # use only this many training images (few-label transfer), 0 = all
    seed: int = 0  # seeds init, splits, shuffling, augmentation and dropout
    threads: int = 0  # torch intra-op threads, 0 = torch's default
    out: str = "runs/train"  # folder for checkpoint.pt, best.pt and metrics.json

    def validate(self) -> None:
        from .model import ARCHS

        if self.arch not in ARCHS:
            raise ValueError(f"arch: expected one of {ARCHS}, got {self.arch!r}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer: expected 'sgd' or 'adamw', got {self.optimizer!r}")
        for name in ("epochs", "batch_size", "input_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.head_epochs <= self.epochs:
            raise ValueError(f"head_epochs: must be in 0..epochs ({self.epochs}), got {self.head_epochs}")
        bad = set(filter(None, self.augment.split(","))) - {"crop", "flip"}
        if bad:
            raise ValueError(f"augment: unknown item(s) {sorted(bad)}; expected crop, flip")
        for name in ("lr", "momentum", "weight_decay", "warmup_epochs", "label_smoothing", "val_fraction"):
            if not math.isfinite(getattr(self, name)):  # lr inf trains to all-NaN weights and exits 0
                raise ValueError(f"{name}: must be a finite number, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr: must be > 0, got {self.lr}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing: must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum: must be in [0, 1), got {self.momentum}")
        for name in ("weight_decay", "warmup_epochs", "train_limit", "threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction: must be in [0, 1), got {self.val_fraction}")


# ---------------------------------------------------------------- batches
def to_input(x: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """uint8 (B, H, W, 3) RGB -> normalised float32 (B, 3, H, W); same arithmetic as Preprocessing.normalize."""
    mean = torch.tensor(prep.mean, dtype=torch.float32, device=x.device)
    std = torch.tensor(prep.std, dtype=torch.float32, device=x.device)
    y = (x.to(torch.float32) * prep.scale - mean) / std
    if prep.channel_order == "BGR":
        y = y.flip(-1)
    return y.permute(0, 3, 1, 2).contiguous()


def augment(x: torch.Tensor, gen: torch.Generator, crop: bool, flip: bool, pad: int = 4) -> torch.Tensor:
    """Random pad-and-crop and horizontal flip on uint8 (B, H, W, C), driven only by `gen`."""
    b, h, w, _ = x.shape
    if crop:
        padded = F.pad(x.permute(0, 3, 1, 2), (pad, pad, pad, pad)).permute(0, 2, 3, 1)
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        rows = (dy[:, None] + torch.arange(h))[:, :, None]
        cols = (dx[:, None] + torch.arange(w))[:, None, :]
        x = padded[torch.arange(b)[:, None, None], rows, cols]
    if flip:
        m = torch.rand(b, generator=gen) < 0.5
        x = torch.where(m[:, None, None, None], x.flip(2), x)
    return x


def epoch_batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    seed: int,
    epoch: int,
    crop: bool,
    flip: bool,
    rank: int = 0,
    world: int = 1,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled, augmented uint8 batches of one epoch; each DDP rank takes its own share of every batch."""
    gen = torch.Generator().manual_seed(seed * 100003 + epoch)
    order = torch.randperm(len(labels), generator=gen)
    per_step = batch_size * world
    for start in range(0, len(order) - per_step + 1, per_step):  # drop the ragged tail: equal steps on all ranks
        idx = order[start + rank * batch_size : start + (rank + 1) * batch_size]
        aug_gen = torch.Generator().manual_seed(seed * 100003 + epoch * 7919 + start + rank)
        yield augment(images[idx], aug_gen, crop, flip), labels[idx]


def steps_per_epoch(n: int, batch_size: int, world: int = 1) -> int:
    return n // (batch_size * world)


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up to `peak`, then cosine decay to zero, as a pure function of the step."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=True)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


class TrainingDiverged(ValueError):
    """The loss became NaN or Inf: the run stops before the step is applied (nothing NaN is saved)."""


def check_finite_loss(loss: torch.Tensor) -> None:
    """Raise TrainingDiverged when `loss` is not finite, on every DDP rank at once: the flag is
    all-reduced, so no rank waits forever in a collective that a stopped rank will never join."""
    bad = (~torch.isfinite(loss.detach())).to(torch.float32).reshape(1)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(bad)
    if bool(bad.item()):
        raise TrainingDiverged(f"the training loss is {float(loss.detach())}")


@dataclass(frozen=True)
class Distillation:
    """Soft targets from a teacher: loss = (1 - weight) * cross-entropy + weight * T^2 * KL at temperature T."""

    teacher: nn.Module
    weight: float
    temperature: float = 4.0


def train_step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    lr: float,
    label_smoothing: float = 0.1,
    distill: Distillation | None = None,
) -> tuple[float, int]:
    """One optimizer step on a normalised batch, optionally distilling from a teacher; returns (loss, correct).
    TrainingDiverged (before the update) when the loss is not finite."""
    soft = None
    if distill is not None and distill.weight:
        with torch.no_grad():
            soft = F.softmax(distill.teacher.eval()(x) / distill.temperature, dim=1)
    for g in opt.param_groups:
        g["lr"] = lr
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    if soft is not None:
        t = distill.temperature
        kd = F.kl_div(F.log_softmax(logits / t, dim=1), soft, reduction="batchmean") * t**2
        loss = (1 - distill.weight) * loss + distill.weight * kd
    check_finite_loss(loss)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach()), int((logits.detach().argmax(1) == y).sum())


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray | torch.Tensor, prep: Preprocessing, batch: int = 500) -> np.ndarray:
    """Logits of a prepared uint8 (N, H, W, 3) array, in eval mode."""
    model.eval()
    x = torch.as_tensor(images)
    dev = model_device(model)
    out = [model(to_input(x[i : i + batch].to(dev), prep)).cpu() for i in range(0, len(x), batch)]
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def model_device(model: nn.Module) -> torch.device:
    """Where the model's weights live (batches are moved there)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray, prep: Preprocessing) -> float:
    if len(labels) == 0:
        return float("nan")
    return float((predict(model, images, prep).argmax(1) == labels).mean())


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])


@dataclass
class EpochLog:
    epoch: int
    lr: float
    train_loss: float
    train_acc: float
    val_acc: float
    seconds: float
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def progress(iterable, total: int, desc: str, enabled: bool = True):
    """tqdm when available and wanted; the bare iterable otherwise."""
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # the runtime extras may lack tqdm; training still works
        return iterable
    # disable=None: no bar when stderr is not a terminal (logs and CI stay readable)
    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True, disable=None)


def run_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    prep: Preprocessing,
    cfg: TrainConfig,
    epoch: int,
    flip_ok: bool,
    step0: int,
    total_steps: int,
    warmup_steps: int,
    rank: int = 0,
    world: int = 1,
    show: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> tuple[float, float, int]:
    """Train one epoch; returns (mean loss, accuracy, steps done)."""
    aug = set(filter(None, cfg.augment.split(",")))
    n_steps = steps_per_epoch(len(labels), cfg.batch_size, world)
    batches = epoch_batches(
        images, labels, cfg.batch_size, cfg.seed, epoch, "crop" in aug, "flip" in aug and flip_ok, rank, world
    )
    loss_sum, correct, seen = 0.0, 0, 0
    bar = progress(batches, n_steps, f"epoch {epoch + 1}/{cfg.epochs}", show)
    dev = model_device(model)
    for i, (xb, yb) in enumerate(bar):
        xb, yb = xb.to(dev), yb.to(dev)
        lr = lr_at(step0 + i, total_steps, warmup_steps, cfg.lr)
        try:
            loss, ok = train_step(model, opt, to_input(xb, prep), yb, lr, cfg.label_smoothing)
        except TrainingDiverged as e:
            raise TrainingDiverged(
                f"training diverged at epoch {epoch + 1}, step {i + 1}: {e} (lr {lr:.3g}); "
                "stopped, this epoch is not saved; lower --lr"
            ) from None
        loss_sum += loss * len(yb)
        correct += ok
        seen += len(yb)
        if hasattr(bar, "set_postfix") and i % 10 == 0:
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", lr=f"{lr:.4f}")
        if on_step:
            on_step(step0 + i)
    return loss_sum / max(1, seen), correct / max(1, seen), n_steps
