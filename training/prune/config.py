"""`bluefire prune` settings: one dataclass with commented defaults (the comments are the --help) and its checks."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ..device import check_device
from .criteria import CRITERIA, DEFAULT_ALPHA


@dataclass
class PruneConfig:
    """`bluefire prune` settings. Layered: these defaults < --config FILE.json < command-line flags."""

    checkpoint: str = ""  # trained bluefire checkpoint to prune
    criterion: str = "taylor"  # taylor | l2 | combined | weight-l1 | random
    alpha: float = DEFAULT_ALPHA  # combined = alpha * Taylor + (1 - alpha) * L2 (both layer-normalised)
    normalize: bool = True  # per-layer L2 normalisation of the scores before global ranking
    flops_lambda: float = 0.0  # score - lambda * (per-filter cost / largest per-filter cost); 0 = off
    cost: str = "macs"  # what flops_lambda penalises: macs (speed) | params (model size)
    target_params: float = 0.8  # stop once this fraction of the parameters is removed (0 = no such target)
    target_macs: float = 0.0  # stop once this fraction of the MACs is removed (0 = no such target)
    min_val_acc: float = 0.0  # minimum accuracy: an iteration below it is undone and pruning stops (0 = off)
    max_val_drop: float = 0.0  # minimum relative to the unpruned val accuracy, e.g. 0.01 (0 = off)
    filters_per_step: int = 32  # k: filters removed per iteration
    ranking: str = "global"  # global: k lowest over all layers | per-layer: k shared in proportion to width
    rank_batches: int = 16  # N: batches the criterion sees per iteration
    finetune_batches: int = 100  # M: fine-tuning batches after each cut
    final_epochs: int = 3  # fine-tuning epochs after the last cut (cosine to zero)
    lr: float = 5e-4  # AdamW lr during iterative fine-tuning (constant)
    final_lr: float = 5e-4  # peak AdamW lr of the final fine-tune
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    distill: float = 0.0  # weight of distillation from the unpruned model (KL at temperature distill_t); 0 = off
    distill_t: float = 4.0  # distillation temperature
    augment: str = "crop,flip"  # as in training; flips are skipped where the data set forbids them
    batch_size: int = 128
    min_width: int = 1  # guard: no layer keeps fewer filters
    round_to: int = 1  # guard: keep pruned widths multiples of this (4 or 8 for SIMD), 1 = off
    max_iterations: int = 1000
    data: str = ""  # data spec; "" = the checkpoint's own training data and validation split
    seed: int = 0
    threads: int = 0  # torch intra-op threads, 0 = torch's default
    device: str = "auto"  # auto (cuda when available) | cpu | cuda; not part of a run's identity
    out: str = "runs/prune"

    def validate(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name}: must be a finite number, got {value}")
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion: expected one of {', '.join(CRITERIA)}, got {self.criterion!r}")
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
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing: must be in [0, 1), got {self.label_smoothing}")
        for name in ("weight_decay", "flops_lambda"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        bad = set(filter(None, self.augment.split(","))) - {"crop", "flip"}
        if bad:
            raise ValueError(f"augment: unknown item(s) {sorted(bad)}; expected crop, flip")
        check_device(self.device)

    @property
    def augmentations(self) -> set[str]:
        """The augment setting as a set of names."""
        return set(filter(None, self.augment.split(",")))

    def min_accuracy(self, base_val: float) -> float:
        """The validation accuracy an iteration must keep (0 when neither min_val_acc nor max_val_drop is set)."""
        return max(self.min_val_acc, base_val - self.max_val_drop if self.max_val_drop else 0.0)
