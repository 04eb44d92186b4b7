"""`bluefire train`: train or transfer-learn SqueezeNet, checkpointing every epoch, resumable exactly."""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch

from . import checkpoint as ckpt_io
from . import data as data_mod
from .model import build
from .train import (EpochLog, TrainConfig, accuracy, config_from, make_optimizer, rng_state, run_epoch,
                    set_rng_state, set_seed, steps_per_epoch)
from .weights import load_pretrained


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="JSON file of TrainConfig fields (flags override it)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    for f in fields(TrainConfig):
        kind = type(f.default)
        p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=None,
                       help=f"(default: {f.default!r})")


def main(args: argparse.Namespace) -> int:
    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    try:
        cfg = config_from(TrainConfig, args.config, overrides)
    except ValueError as e:
        raise SystemExit(f"bluefire train: {e}")
    result = fit(cfg, resume=args.resume)
    print(json.dumps({k: result[k] for k in ("best_val_acc", "test_acc", "checkpoint")}, indent=1))
    return 0


def _dist() -> tuple[int, int]:
    """(rank, world) from torchrun's environment; initialises gloo (CPU) or NCCL (GPU) once."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def fit(cfg: TrainConfig, resume: bool = False, show: bool = True) -> dict[str, Any]:
    """Train per `cfg`; writes out/checkpoint.pt (last), out/best.pt (best validation) and out/metrics.json."""
    rank, world = _dist()
    out = Path(cfg.out)
    last_path = out / "checkpoint.pt"
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    set_seed(cfg.seed)
    ds = data_mod.load(cfg.data, cfg.seed, cfg.val_fraction)
    if cfg.train_limit:
        keep, _ = data_mod.stratified_split(ds.train.labels, 1 - min(1.0, cfg.train_limit / len(ds.train)), cfg.seed + 1)
        ds.train = ds.train.subset(keep)
    prep = data_mod.make_preprocessing(ds, cfg.input_size)
    model = build(cfg.arch, len(ds.class_names))
    reinit: list[str] = []
    if cfg.weights:
        reinit = load_pretrained(model, cfg.weights)
    if cfg.init:
        src = ckpt_io.load(cfg.init)
        reinit = _init_from_checkpoint(model, src, cfg.init)
    if reinit and rank == 0:
        print(f"transfer: re-initialised {', '.join(reinit)} for {len(ds.class_names)} classes")
    opt = make_optimizer(model.parameters(), cfg)
    history: list[dict] = []
    start_epoch, best_acc = 0, -1.0
    if resume:
        state = ckpt_io.load(last_path)
        if state.get("config") != asdict(cfg):
            diff = {k: (state.get("config", {}).get(k), v) for k, v in asdict(cfg).items()
                    if state.get("config", {}).get(k) != v}
            raise SystemExit(f"{last_path}: refusing to resume with a different config: {diff} (checkpoint, now)")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        start_epoch, best_acc, history = state["epoch"], state["best_val_acc"], state["history"]
    ddp = model
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(model)
    train_x, train_y = torch.from_numpy(data_mod.prepare(ds.train, prep)), torch.from_numpy(ds.train.labels)
    val_x = data_mod.prepare(ds.val, prep)
    n_steps = steps_per_epoch(len(train_y), cfg.batch_size, world)
    total, warmup = n_steps * cfg.epochs, int(n_steps * cfg.warmup_epochs)
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.time()
        head_only = epoch < cfg.head_epochs
        for name, p in model.named_parameters():
            p.requires_grad_(not head_only or name.startswith("classifier."))
        loss, acc, _ = run_epoch(ddp, opt, train_x, train_y, prep, cfg, epoch, ds.flip_ok, epoch * n_steps,
                                 total, warmup, rank, world, show and rank == 0)
        val_acc = accuracy(model, val_x, ds.val.labels, prep)
        log = EpochLog(epoch + 1, opt.param_groups[0]["lr"], loss, acc, val_acc, time.time() - t0,
                       {"head_only": head_only})
        history.append(log.as_dict())
        if rank == 0:
            print(f"epoch {epoch + 1}/{cfg.epochs}  loss {loss:.4f}  train {acc:.4f}  val {val_acc:.4f}  "
                  f"{log.seconds:.0f}s{'  (head only)' if head_only else ''}", flush=True)
            state = _state(model, prep, cfg, epoch + 1, opt, history, max(best_acc, val_acc))
            if val_acc > best_acc:
                ckpt_io.save_atomic(state, out / "best.pt")
            ckpt_io.save_atomic(state, last_path)
        best_acc = max(best_acc, val_acc)
    for p in model.parameters():
        p.requires_grad_(True)
    result = {"best_val_acc": best_acc, "history": history, "checkpoint": str(out / "best.pt"),
              "config": asdict(cfg), "reinitialised": reinit}
    # The test split is reported for the best-validation model, never used to choose anything.
    best, _ = ckpt_io.model_from_checkpoint(ckpt_io.load(out / "best.pt"))
    result["test_acc"] = accuracy(best, data_mod.prepare(ds.test, prep), ds.test.labels, prep)
    if rank == 0:
        tmp = out / "metrics.json.tmp"
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, out / "metrics.json")
    return result


def _state(model, prep, cfg, epoch, opt, history, best) -> dict[str, Any]:
    return {"model": model.state_dict(), "arch": model.arch, "num_classes": model.num_classes,
            "widths": model.widths.to_dict(), "preprocessing": prep.to_json(), "optimizer": opt.state_dict(),
            "config": asdict(cfg), "epoch": epoch, "history": history, "best_val_acc": best, "rng": rng_state()}


def _init_from_checkpoint(model, src: dict, source: str) -> list[str]:
    """Start from another bluefire checkpoint (same arch and widths); the head is re-initialised if classes differ."""
    if src["arch"] != model.arch or src["widths"] != model.widths.to_dict():
        raise ValueError(f"{source}: is {src['arch']} {src['widths']}, cannot initialise {model.arch} {model.widths.to_dict()}")
    own = model.state_dict()
    reinit = [k for k in ("classifier.1.weight", "classifier.1.bias") if src["model"][k].shape != own[k].shape]
    model.load_state_dict({k: own[k] if k in reinit else v for k, v in src["model"].items()})
    return reinit
