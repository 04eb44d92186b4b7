"""`bluefire prune CKPT`: Fire-aware filter pruning with iterative fine-tuning, resumable; `--compare` for ablations."""
from __future__ import annotations

import argparse
import json
from dataclasses import fields, replace
from pathlib import Path

from .criteria import CRITERIA
from .schedule import PruneConfig


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _field_comments() -> dict[str, str]:
    """The `# ...` comment after each PruneConfig field: one source of truth for defaults and --help."""
    import inspect
    import re

    out = {}
    for line in inspect.getsource(PruneConfig).splitlines():
        m = re.match(r"\s+(\w+): [^=]+=.*?#\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).replace("%", "%%")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", nargs="?", default=None, help="trained bluefire checkpoint (e.g. runs/baseline/best.pt)")
    p.add_argument("--config", help="JSON file of PruneConfig fields (flags override it)")
    p.add_argument("--resume", action="store_true", help="continue the run(s) in --out where they stopped")
    p.add_argument("--compare", metavar="C1,C2,...",
                   help=f"run several criteria ({','.join(CRITERIA)}) on the same budget into OUT/<criterion> "
                        "and write OUT/comparison.{json,md,png}")
    comments = _field_comments()
    for f in fields(PruneConfig):
        if f.name == "checkpoint":
            continue
        kind = _bool if isinstance(f.default, bool) else type(f.default)
        p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=None,
                       help=f"{comments.get(f.name, '')} (default: {f.default!r})".strip())


def main(args: argparse.Namespace) -> int:
    from ..train import config_from
    from . import report, schedule

    overrides = {f.name: getattr(args, f.name, None) for f in fields(PruneConfig)}
    overrides["checkpoint"] = args.checkpoint
    try:
        cfg = config_from(PruneConfig, args.config, overrides)
        if not cfg.checkpoint:
            raise ValueError("give the checkpoint to prune (bluefire prune CKPT ...)")
        if not args.compare:
            rep = schedule.run(cfg, resume=args.resume)
            print(json.dumps({k: rep["final"][k] for k in ("params", "params_removed", "macs_removed", "val_acc", "test_acc")}
                             | {"model": str(Path(cfg.out) / schedule.MODEL_FILE)}, indent=1))
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
        raise SystemExit(f"bluefire prune: {e}")
