"""One checkpoint dict per run, written atomically and loaded without executing code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rtmaps_components.atomic import atomic_path
from rtmaps_components.preprocess import Preprocessing

from .model import SqueezeNet, Widths, build


def save_atomic(obj: dict, path: str | Path) -> None:
    """torch.save to a temp file in the same folder, then rename: a kill never leaves half a file."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def model_checkpoint(
    model: SqueezeNet,
    preprocessing: str,
    data: dict[str, Any],
    config: dict[str, Any],
    *,
    optimizer: dict | None = None,
    epoch: int = 0,
    history: list | None = None,
    best_val_acc: float = float("nan"),
    **extra: Any,
) -> dict[str, Any]:
    """The one model checkpoint dict that train writes, prune writes, and evaluate/export/train --init read.

    `config` is always the training configuration (TrainConfig fields) that produced these weights;
    `data` is {"spec", "seed", "val_fraction"} of the split they were trained and validated on. Tools
    that derive a checkpoint add their own record as an extra key (prune: "pruning", with its config).
    Weights are stored on the CPU, so a checkpoint written on a GPU loads anywhere.
    """
    return {
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "arch": model.arch,
        "num_classes": model.num_classes,
        "widths": model.widths.to_dict(),
        "preprocessing": preprocessing,
        "optimizer": optimizer or {},
        "config": config,
        "epoch": epoch,
        "history": history or [],
        "best_val_acc": best_val_acc,
        "rng": {"torch": torch.get_rng_state()},
        "data": data,
        **extra,
    }


def torch_load_safe(path: str | Path, what: str) -> Any:
    """torch.load with weights_only=True (a file from a stranger cannot run code); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such {what}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, hostile or foreign files raise many different types
        raise ValueError(f"{path}: not a readable {what} ({type(e).__name__}: {e})") from None


def load(path: str | Path) -> dict[str, Any]:
    """Load a bluefire checkpoint safely and check it has what rebuilding the model needs."""
    path = Path(path)
    ckpt = torch_load_safe(path, "checkpoint")
    for key in ("model", "arch", "num_classes", "widths", "preprocessing"):
        if not isinstance(ckpt, dict) or key not in ckpt:
            raise ValueError(f"{path}: not a bluefire checkpoint (missing '{key}')")
    return ckpt


def model_from_checkpoint(ckpt: dict, source: str = "checkpoint") -> tuple[SqueezeNet, Preprocessing]:
    """Rebuild the (possibly pruned) network from its width table and load its weights."""
    widths = Widths.from_dict(ckpt["widths"], f"{source}: widths")
    model = build(ckpt["arch"], int(ckpt["num_classes"]), widths)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise ValueError(f"{source}: weights do not match the width table ({e})") from None
    return model, Preprocessing.from_json(ckpt["preprocessing"], source)


def data_split_of(ckpt: dict) -> dict[str, Any]:
    """The data a checkpoint was trained on: {"spec", "seed", "val_fraction"} (spec "" when unknown).

    Read from the checkpoint's "data" entry (written by `bluefire train`, and by any tool that derives
    a checkpoint from another and passes it on), else from its training config. Evaluating or
    exporting with the same seed and fraction reproduces the same validation and test splits.
    """
    d = ckpt.get("data")
    if isinstance(d, dict) and "spec" in d:
        return {
            "spec": str(d["spec"]),
            "seed": int(d.get("seed", 0)),
            "val_fraction": float(d.get("val_fraction", 0.1)),
        }
    cfg = ckpt.get("config") or {}
    return {
        "spec": str(cfg.get("data") or ""),
        "seed": int(cfg.get("seed", 0)),
        "val_fraction": float(cfg.get("val_fraction", 0.1)),
    }
