"""Shared fixtures of the pruning tests: a small SqueezeNet briefly trained on real digits, as a real checkpoint.

The checkpoint is written in `bluefire train`'s format (model, arch, num_classes, widths,
preprocessing, config, ...) with narrow widths so that every pruning test runs in seconds.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import torch

from training import checkpoint as ckpt_io
from training import data as data_mod
from training.model import Widths, build
from training.prune.group import LAYERS, width
from training.train import TrainConfig, epoch_batches, make_optimizer, to_input, train_step

SMALL = Widths(16, ((4, 8, 8), (4, 8, 8), (8, 16, 16), (8, 16, 16), (8, 12, 12), (8, 12, 12), (8, 16, 16), (8, 16, 16)))
INPUT_SIZE = 32
_CACHE: dict[tuple, Path] = {}
_DIR = Path(tempfile.mkdtemp(prefix="bluefire-prune-tests-"))


def digits_checkpoint(arch: str = "squeezenet1_1", widths: Widths = SMALL, steps: int = 150) -> Path:
    """Path of a checkpoint trained for `steps` AdamW steps on scikit-learn's digits (cached per process)."""
    key = (arch, widths, steps)
    if key in _CACHE:
        return _CACHE[key]
    torch.set_num_threads(1)  # the test machines are small and shared
    torch.manual_seed(0)
    cfg = TrainConfig(data="digits", arch=arch, input_size=INPUT_SIZE, batch_size=64, lr=3e-3, augment="", seed=0)
    ds = data_mod.load(cfg.data, cfg.seed, cfg.val_fraction)
    prep = data_mod.make_preprocessing(ds, INPUT_SIZE)
    model = build(arch, 10, widths)
    opt = make_optimizer(model.parameters(), cfg)
    x, y = torch.from_numpy(data_mod.prepare(ds.train, prep)), torch.from_numpy(ds.train.labels)
    done, epoch = 0, 0
    while done < steps:
        for xb, yb in epoch_batches(x, y, cfg.batch_size, cfg.seed, epoch, False, False):
            train_step(model, opt, to_input(xb, prep), yb, cfg.lr)
            done += 1
            if done == steps:
                break
        epoch += 1
    path = _DIR / f"{arch}-{len(_CACHE)}.pt"
    split = {"spec": cfg.data, "seed": cfg.seed, "val_fraction": cfg.val_fraction}
    ckpt_io.save_atomic(
        ckpt_io.model_checkpoint(
            model, prep.to_json(), split, asdict(cfg), optimizer=opt.state_dict(), epoch=epoch, best_val_acc=0.0
        ),
        path,
    )
    _CACHE[key] = path
    return path


def random_plan(widths: Widths, seed: int, max_fraction: float = 0.6) -> dict[str, list[int]]:
    """A random removal plan that touches every prunable layer (so every coupling) and keeps >= 1 filter each."""
    r = random.Random(seed)
    plan = {}
    for n in LAYERS:
        w = width(widths, n)
        k = r.randint(1, max(1, min(w - 1, int(w * max_fraction))))
        plan[n] = r.sample(range(w), k)
    return plan


def fast_config(ckpt: Path, out: Path, **kw):
    """A PruneConfig small enough for a test: few filters, few batches, one short final epoch."""
    from training.prune.schedule import PruneConfig

    base = PruneConfig(
        checkpoint=str(ckpt),
        out=str(out),
        filters_per_step=12,
        rank_batches=2,
        finetune_batches=3,
        final_epochs=1,
        batch_size=64,
        target_params=0.5,
        threads=1,
    )
    return replace(base, **kw)
