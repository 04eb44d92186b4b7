"""`bluefire prune CKPT`: Fire-aware filter pruning with iterative fine-tuning, resumable; `--compare` for ablations."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from ..config import add_config_arguments, config_from, only_free_settings, overrides_of, resume_overrides
from .config import PruneConfig
from .criteria import CRITERIA


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        nargs="?",
        default=None,
        help="trained bluefire checkpoint (e.g. runs/baseline/best.pt); not needed with --resume --out DIR",
    )
    p.add_argument("--config", help="JSON file of PruneConfig fields (flags override it)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run(s) in --out where they stopped; with no other settings given it uses the "
        "run's own, otherwise they must equal them (except --out, --threads, --device)",
    )
    p.add_argument(
        "--compare",
        metavar="C1,C2,...",
        help=f"run several criteria ({','.join(CRITERIA)}) on the same budget into OUT/<criterion> "
        "and write OUT/comparison.{json,md,png}",
    )
    add_config_arguments(p, PruneConfig, skip=("checkpoint",))


def _saved_config(out: Path) -> dict:
    """The settings of the run in `out` (its state.pt), for `--resume --out DIR` alone."""
    from .. import checkpoint as ckpt_io
    from .schedule import STATE_FILE

    path = out / STATE_FILE
    if not path.is_file():
        raise ValueError(f"{path}: no pruning run to resume here (give the checkpoint and settings to start one)")
    return ckpt_io.load(path).get("config") or {}


def main(args: argparse.Namespace) -> int:
    from . import report, schedule

    overrides = overrides_of(args, PruneConfig)
    overrides["checkpoint"] = args.checkpoint
    try:
        if args.resume and not args.compare and args.checkpoint is None and only_free_settings(args, PruneConfig):
            out = Path(overrides["out"] or PruneConfig.out)
            overrides = resume_overrides(args, PruneConfig, _saved_config(out), out)
        cfg = config_from(PruneConfig, args.config, overrides)
        if not cfg.checkpoint:
            raise ValueError("give the checkpoint to prune (bluefire prune CKPT ...)")
        if not args.compare:
            rep = schedule.run(cfg, resume=args.resume)
            print(
                json.dumps(
                    {k: rep["final"][k] for k in ("params", "params_removed", "macs_removed", "val_acc", "test_acc")}
                    | {"model": str(Path(cfg.out) / schedule.MODEL_FILE)},
                    indent=1,
                )
            )
            return 0
        names = [c.strip() for c in args.compare.split(",") if c.strip()]
        bad = [c for c in names if c not in CRITERIA]
        if bad or len(set(names)) != len(names) or not names:
            raise ValueError(f"--compare: expected distinct names from {', '.join(CRITERIA)}, got {args.compare!r}")
        if args.criterion is not None:
            raise ValueError("--compare and --criterion exclude each other")
        from .. import checkpoint as ckpt_io

        runs = {c: replace(cfg, criterion=c, out=str(Path(cfg.out) / c)) for c in names}
        for c in runs.values():
            c.validate()
        src = ckpt_io.load(cfg.checkpoint)
        data = schedule.load_data(cfg, src)  # once: every criterion sees the same images
        reports = {}
        for name, c in runs.items():
            print(f"== {name} -> {c.out}", flush=True)
            reports[name] = schedule.run(c, resume=args.resume, data=data)
        table = report.compare(reports, cfg.out)
        print((Path(cfg.out) / "comparison.md").read_text())
        print(f"ranking by validation accuracy: {', '.join(table['ranking_by_val_acc'])}")
        return 0
    except ValueError as e:
        raise SystemExit(f"bluefire prune: {e}") from None
