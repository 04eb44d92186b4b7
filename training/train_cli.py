"""`bluefire train`: train or transfer-learn SqueezeNet, checkpointing every epoch, resumable exactly."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from rtmaps_components.atomic import atomic_write
from rtmaps_components.preprocess import Preprocessing

from . import checkpoint as ckpt_io
from . import data as data_mod
from .config import (
    add_config_arguments,
    config_from,
    only_free_settings,
    overrides_of,
    refuse_changed_settings,
    resume_overrides,
)
from .device import choose_device
from .model import build
from .train import (
    EpochLog,
    TrainConfig,
    accuracy,
    make_optimizer,
    predict,
    rng_state,
    run_epoch,
    set_rng_state,
    set_seed,
    steps_per_epoch,
)
from .weights import load_pretrained


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = (
        "Train or transfer-learn SqueezeNet. Settings are layered: defaults < --config FILE.json < flags.\n"
        "Writes OUT/checkpoint.pt every epoch (atomically), OUT/best.pt (best validation accuracy) and\n"
        "OUT/metrics.json (history, best validation and test accuracy). The test split is only reported.\n"
        "Data-parallel: run the same command under `torchrun --nproc-per-node N` (gloo on CPU, NCCL on GPU);\n"
        "--batch-size is per process."
    )
    p.epilog = (
        "examples:\n"
        "  bluefire train --data fashion-mnist --epochs 30 --out runs/baseline\n"
        "  bluefire train --data digits --init runs/baseline/best.pt --head-epochs 2 --out runs/digits\n"
        "  bluefire train --data cifar10:~/cifar-10-batches-py --weights squeezenet1_1-b8a52dc0.pth --input-size 64\n"
        "  bluefire train --out runs/baseline --resume        # the run's own settings, from its checkpoint"
    )
    p.add_argument(
        "--config", metavar="FILE", help="JSON object of the settings below (underscored names); flags override it"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from OUT/checkpoint.pt; with no other settings given it uses the "
        "checkpoint's, otherwise they must equal them (except --threads)",
    )
    add_config_arguments(p, TrainConfig)


def main(args: argparse.Namespace) -> int:
    overrides = overrides_of(args, TrainConfig)
    try:
        if args.resume and only_free_settings(args, TrainConfig):
            # `--resume --out DIR` alone: the run's own settings, from its checkpoint
            out = Path(overrides["out"] or TrainConfig.out)
            overrides = resume_overrides(
                args, TrainConfig, ckpt_io.load(out / "checkpoint.pt").get("config") or {}, out
            )
        cfg = config_from(TrainConfig, args.config, overrides)
        result = fit(cfg, resume=args.resume)
    except ValueError as e:
        raise SystemExit(f"bluefire train: {e}") from None
    finally:
        rank = _rank()
        _shutdown()
    if rank == 0:  # under torchrun every rank returns the result; one JSON is printed
        print(json.dumps({k: result[k] for k in ("best_val_acc", "test_acc", "checkpoint")}, indent=1))
    return 0


def _rank() -> int:
    """This process's DDP rank (0 without DDP)."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _dist() -> tuple[int, int]:
    """(rank, world) from torchrun's environment; initialises gloo (CPU) or NCCL (GPU) once."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def fit(cfg: TrainConfig, resume: bool = False, show: bool = True) -> dict[str, Any]:
    """Train per `cfg`; writes out/checkpoint.pt (last), out/best.pt (best validation) and out/metrics.json."""
    rank, world = _dist()
    # One GPU per process when there are GPUs (torchrun's LOCAL_RANK picks it); the CPU otherwise.
    device = choose_device("auto", int(os.environ.get("LOCAL_RANK", "0")))
    out = Path(cfg.out)
    last_path = out / "checkpoint.pt"
    if not resume:  # as prune does: a finished (or interrupted) run is never silently overwritten
        found = [n for n in ("checkpoint.pt", "best.pt", "metrics.json") if (out / n).exists()]
        if found:
            raise ValueError(
                f"{out}: a training run already exists here ({', '.join(found)}); pass --resume to "
                "continue it or choose another --out"
            )
    if cfg.weights and cfg.init:
        raise ValueError("give --weights (a torchvision state dict) or --init (a bluefire checkpoint), not both")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    set_seed(cfg.seed)
    state = ckpt_io.load(last_path) if resume else None
    if state is not None:
        refuse_changed_settings(TrainConfig, state.get("config") or {}, asdict(cfg), last_path)
    src = ckpt_io.load(cfg.init) if cfg.init else None
    ds = data_mod.load(cfg.data, cfg.seed, cfg.val_fraction)
    if cfg.train_limit:
        keep, _ = data_mod.stratified_split(
            ds.train.labels, 1 - min(1.0, cfg.train_limit / len(ds.train)), cfg.seed + 1
        )
        ds.train = ds.train.subset(keep)
    n_steps = steps_per_epoch(len(ds.train), cfg.batch_size, world)
    if n_steps == 0:
        raise ValueError(
            f"{cfg.data}: {len(ds.train)} training images make no full batch of {cfg.batch_size} x "
            f"{world} process(es); lower --batch-size"
        )
    prep = data_mod.make_preprocessing(ds, cfg.input_size)
    # A pruned network keeps its widths: they come from the checkpoint we resume or start from.
    widths = (state or src or {}).get("widths")
    if src is not None and src["arch"] != cfg.arch:
        raise ValueError(f"{cfg.init}: is {src['arch']}, the run asks for --arch {cfg.arch}")
    model = build(cfg.arch, len(ds.class_names), widths)
    reinit: list[str] = []
    if cfg.weights:
        reinit = load_pretrained(model, cfg.weights)
    if src is not None:
        reinit = _init_from_checkpoint(model, src, cfg.init, ds.class_names)
    if reinit and rank == 0 and state is None:
        print(f"transfer: re-initialised {', '.join(reinit)} for {len(ds.class_names)} classes", flush=True)
    if rank > 0:  # DDP copies rank 0's weights; dropout masks should differ between ranks
        torch.manual_seed(cfg.seed + 1000003 * rank)
    model.to(device)  # before the optimizer: its state (loaded below) follows the parameters' device
    opt = make_optimizer(model.parameters(), cfg)
    history: list[dict] = []
    start_epoch, best_acc = 0, -1.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        ranks = state.get("rng_ranks")
        set_rng_state(ranks[rank] if isinstance(ranks, list) and len(ranks) == world else state["rng"])
        start_epoch, best_acc, history = state["epoch"], state["best_val_acc"], state["history"]
    train_x, train_y = torch.from_numpy(data_mod.prepare(ds.train, prep)), torch.from_numpy(ds.train.labels)
    val_x = data_mod.prepare(ds.val, prep)
    total, warmup = n_steps * cfg.epochs, int(n_steps * cfg.warmup_epochs)
    ddp, ddp_phase = model, None
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.time()
        head_only = epoch < cfg.head_epochs
        for name, p in model.named_parameters():
            p.requires_grad_(not head_only or name.startswith("classifier."))
        if world > 1 and ddp_phase != head_only:
            # DDP fixes the set of trainable parameters when it is built: rebuild it when the phase changes
            ddp, ddp_phase = (
                torch.nn.parallel.DistributedDataParallel(
                    model, device_ids=[device.index] if device.type == "cuda" else None
                ),
                head_only,
            )
        loss, acc, _ = run_epoch(
            ddp,
            opt,
            train_x,
            train_y,
            prep,
            cfg,
            epoch,
            ds.flip_ok,
            epoch * n_steps,
            total,
            warmup,
            rank,
            world,
            show and rank == 0,
        )
        val_logits = predict(model, val_x, prep)
        val_acc = float((val_logits.argmax(1) == ds.val.labels).mean()) if len(ds.val) else float("nan")
        # conv10 feeds a ReLU (torchvision's head): a class whose output is 0 on every validation image is
        # "dead", gets no gradient of its own and revives only if the features below shift (model.HEAD_BIAS_INIT).
        dead = int((val_logits <= 0).all(0).sum()) if len(ds.val) else 0
        log = EpochLog(
            epoch + 1,
            opt.param_groups[0]["lr"],
            loss,
            acc,
            val_acc,
            time.time() - t0,
            {"head_only": head_only, "dead_classes": dead},
        )
        history.append(log.as_dict())
        improved = val_acc > best_acc or not (out / "best.pt").is_file()
        best_acc = max(best_acc, val_acc)
        rngs = _gather(world, rng_state())  # each rank's dropout stream, for an exact DDP resume
        if rank == 0:
            print(
                f"epoch {epoch + 1}/{cfg.epochs}  loss {loss:.4f}  train {acc:.4f}  val {val_acc:.4f}  "
                f"{log.seconds:.0f}s{'  (head only)' if head_only else ''}"
                f"{f'  ({dead} dead classes: output 0 on all validation images)' if dead else ''}",
                flush=True,
            )
            state = _state(model, prep, cfg, epoch + 1, opt, history, best_acc)
            state["rng_ranks"] = rngs
            if improved:
                ckpt_io.save_atomic(state, out / "best.pt")
            ckpt_io.save_atomic(state, last_path)
        _barrier(world)
    for p in model.parameters():
        p.requires_grad_(True)
    result = {
        "best_val_acc": best_acc,
        "history": history,
        "checkpoint": str(out / "best.pt"),
        "config": asdict(cfg),
        "reinitialised": reinit,
        "world_size": world,
        "device": (
            torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
        ),  # where the epoch seconds were spent
        # one digest per rank: DDP replicas that stayed in sync end with identical weights
        "rank_weights_sha256": _gather(world, weights_digest(model)),
    }
    # The test split is reported for the best-validation model, never used to choose anything.
    best, _ = ckpt_io.model_from_checkpoint(ckpt_io.load(out / "best.pt"), str(out / "best.pt"))
    result["test_acc"] = accuracy(best, data_mod.prepare(ds.test, prep), ds.test.labels, prep)
    if rank == 0:
        atomic_write(out / "metrics.json", json.dumps(result, indent=1))
    return result


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 over the state dict's names and raw tensor bytes: equal digests mean bit-identical weights."""
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _gather(world: int, obj: Any) -> list:
    """`obj` from every rank, in rank order (a one-element list without DDP)."""
    if world <= 1:
        return [obj]
    import torch.distributed as dist

    out: list = [None] * world
    dist.all_gather_object(out, obj)
    return out


def _shutdown() -> None:
    """Leave the DDP process group cleanly (torchrun runs)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def _state(model, prep, cfg, epoch, opt, history, best) -> dict[str, Any]:
    return ckpt_io.model_checkpoint(
        model,
        prep.to_json(),
        {"spec": cfg.data, "seed": cfg.seed, "val_fraction": cfg.val_fraction},
        asdict(cfg),
        optimizer=opt.state_dict(),
        epoch=epoch,
        history=history,
        best_val_acc=best,
    )


def _init_from_checkpoint(model, src: dict, source: str, class_names: tuple[str, ...]) -> list[str]:
    """Start from another bluefire checkpoint (same arch and widths).

    The classifier is re-initialised when the classes differ, in number or in name: a head trained on
    other classes is no better a start than a fresh one, and a worse one when its outputs have died.
    """
    if src["arch"] != model.arch or src["widths"] != model.widths.to_dict():
        raise ValueError(
            f"{source}: is {src['arch']} {src['widths']}, cannot initialise {model.arch} {model.widths.to_dict()}"
        )
    own = model.state_dict()
    src_classes = tuple(Preprocessing.from_json(src["preprocessing"], source).class_names)
    head = ("classifier.1.weight", "classifier.1.bias")
    same = src_classes == tuple(class_names) and all(src["model"][k].shape == own[k].shape for k in head)
    reinit = [] if same else list(head)
    missing = sorted(set(own) - set(src["model"]))
    if missing:
        raise ValueError(f"{source}: lacks {', '.join(missing)}")
    model.load_state_dict({k: own[k] if k in reinit else v for k, v in src["model"].items()})
    return reinit
