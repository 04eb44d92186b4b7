"""The images a pruning run sees: the checkpoint's own data and split, and seeded batches of it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from rtmaps_components.preprocess import Preprocessing

from .. import checkpoint as ckpt_io
from .. import data as data_mod
from ..device import choose_device
from ..train import epoch_batches
from .config import PruneConfig


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

    @property
    def split(self) -> dict:
        """The data and split, as a checkpoint records it (checkpoint.data_split_of reads it back)."""
        return {"spec": self.spec, "seed": self.seed, "val_fraction": self.val_fraction}


def load_data(cfg: PruneConfig, ckpt: dict) -> PruneData:
    """The checkpoint's own data and validation split (same spec, seed and val_fraction as its training)."""
    known = ckpt_io.data_split_of(ckpt)
    spec = cfg.data or known["spec"]
    if not spec:
        raise ValueError(f"{cfg.checkpoint}: the checkpoint names no training data; give --data")
    seed, val_fraction = known["seed"], known["val_fraction"]
    prep = Preprocessing.from_json(ckpt["preprocessing"], cfg.checkpoint)
    ds = data_mod.load(spec, seed, val_fraction)
    if len(ds.class_names) != int(ckpt["num_classes"]):
        raise ValueError(
            f"{cfg.checkpoint}: the model has {ckpt['num_classes']} classes, data {spec!r} has {len(ds.class_names)}"
        )
    return PruneData(
        torch.from_numpy(data_mod.prepare(ds.train, prep)),
        torch.from_numpy(ds.train.labels),
        data_mod.prepare(ds.val, prep),
        ds.val.labels,
        data_mod.prepare(ds.test, prep),
        ds.test.labels,
        ds.flip_ok,
        spec,
        seed,
        val_fraction,
    )


def batches(
    d: PruneData, cfg: PruneConfig, key: int, count: int, augment: bool
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """`count` batches from seeded permutations of the training split; `key` picks the permutation."""
    aug = cfg.augmentations if augment else set()
    bs = min(cfg.batch_size, len(d.train_y))
    dev = choose_device(cfg.device)
    done, rep = 0, 0
    while done < count:
        for xb, yb in epoch_batches(
            d.train_x, d.train_y, bs, cfg.seed, key * 1000 + rep, "crop" in aug, "flip" in aug and d.flip_ok
        ):
            yield xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            done += 1
            if done == count:
                return
        rep += 1


def steps_per_final_epoch(d: PruneData, cfg: PruneConfig) -> int:
    """Batches in one epoch of the final fine-tune."""
    return max(1, len(d.train_y) // min(cfg.batch_size, len(d.train_y)))
