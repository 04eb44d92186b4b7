"""Transfer vs scratch with few labels: a pretrained checkpoint fine-tuned on a small target set.

    python -m training.transfer_study --pretrained runs/baseline/best.pt --per-class 10,30,100 --seeds 0,1,2

For each labels-per-class budget and seed, three runs share everything (data subset, epochs, batch,
optimizer, learning-rate schedule, seed) except the start: `scratch` starts from random weights,
`transfer` from the pretrained checkpoint's features with a new classifier (trained alone for
--head-epochs first, then everything is fine-tuned), `probe` from the same but trains only the new
classifier, the pretrained features frozen throughout. Each run is a normal `bluefire train` run (resumable; a finished one is
reused), reported on the target's test split for its best-validation checkpoint.
Writes JSON, a Markdown table and a PNG plot.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rtmaps_components.atomic import atomic_write

# scratch: random start. transfer: pretrained features, new classifier trained alone for --head-epochs, then
# everything. probe: pretrained features frozen for the whole run, only the new classifier trains.
MODES = ("scratch", "transfer", "probe")


def parse_ints(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{name}: expected a comma list of integers, got {text!r}") from None
    if not values or min(values) < 0:
        raise ValueError(f"{name}: expected non-negative integers, got {text!r}")
    return values


def run_config(args: argparse.Namespace, pretrained: dict, mode: str, per_class: int, seed: int, classes: int):
    """The TrainConfig of one run: identical for every mode except `init` and the head-only epochs."""
    from .train import TrainConfig

    h, _ = json.loads(pretrained["preprocessing"])["input_size"]
    return TrainConfig(
        data=args.data,
        arch=pretrained["arch"],
        input_size=int(h),
        epochs=args.epochs,
        head_epochs={"scratch": 0, "transfer": args.head_epochs, "probe": args.epochs}[mode],
        init="" if mode == "scratch" else str(args.pretrained),
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_epochs=args.warmup_epochs,
        weight_decay=args.weight_decay,
        augment=args.augment,
        train_limit=per_class * classes,
        seed=seed,
        threads=args.threads,
        out=str(Path(args.out) / f"{per_class}_per_class" / f"seed{seed}" / mode),
    )


def run_study(args: argparse.Namespace) -> dict[str, Any]:
    """Train every (labels per class, seed, mode) run not yet finished; return all rows and the summary."""
    from . import checkpoint as ckpt_io
    from . import data as data_mod
    from .train_cli import fit

    pretrained = ckpt_io.load(args.pretrained)
    per_class_list = parse_ints(args.per_class, "--per-class")
    seeds = parse_ints(args.seeds, "--seeds")
    rows = []
    for seed in seeds:
        ds = data_mod.load(args.data, seed)
        classes = len(ds.class_names)
        for k in per_class_list:
            for mode in MODES:
                cfg = run_config(args, pretrained, mode, k, seed, classes)
                metrics = Path(cfg.out) / "metrics.json"
                t0 = time.time()
                if metrics.is_file() and json.loads(metrics.read_text()).get("config") == _asdict(cfg):
                    result = json.loads(metrics.read_text())
                else:
                    resume = (Path(cfg.out) / "checkpoint.pt").is_file()
                    print(f"[{mode} {k}/class seed {seed}] training{' (resuming)' if resume else ''}", flush=True)
                    result = fit(cfg, resume=resume, show=False)
                keep, _ = data_mod.stratified_split(
                    ds.train.labels, 1 - min(1.0, cfg.train_limit / len(ds.train)), seed + 1
                )
                counts = np.bincount(ds.train.labels[keep], minlength=classes)
                rows.append(
                    {
                        "mode": mode,
                        "per_class": k,
                        "seed": seed,
                        "train_images": int(len(keep)),
                        "min_per_class": int(counts.min()),
                        "max_per_class": int(counts.max()),
                        "test_acc": result["test_acc"],
                        "best_val_acc": result["best_val_acc"],
                        "final_val_acc": result["history"][-1]["val_acc"],
                        # classes whose ReLU'd output died (0 on all validation images) by the last epoch
                        "dead_classes": result["history"][-1].get("extra", {}).get("dead_classes"),
                        "seconds": round(sum(h["seconds"] for h in result["history"]), 1),
                        "reinitialised": result.get("reinitialised", []),
                        "run": cfg.out,
                    }
                )
                print(
                    f"[{mode} {k}/class seed {seed}] test {result['test_acc']:.4f}  ({time.time() - t0:.0f}s)",
                    flush=True,
                )
    summary = []
    for k in per_class_list:
        entry: dict[str, Any] = {"per_class": k}
        for mode in MODES:
            mine = [r for r in rows if r["per_class"] == k and r["mode"] == mode]
            accs = [r["test_acc"] for r in mine]
            entry[mode] = {
                "mean": float(np.mean(accs)),
                "std": float(np.std(accs)),
                "n": len(accs),
                "dead_classes": int(sum(r["dead_classes"] or 0 for r in mine)),
            }
        entry["gain"] = entry["transfer"]["mean"] - entry["scratch"]["mean"]
        entry["gain_probe"] = entry["probe"]["mean"] - entry["scratch"]["mean"]
        summary.append(entry)
    src_cfg = pretrained.get("config") or {}
    return {
        "pretrained": str(args.pretrained),
        "pretrained_data": src_cfg.get("data"),
        "pretrained_best_val_acc": pretrained.get("best_val_acc"),
        "target": args.data,
        "classes": classes,
        "arch": pretrained["arch"],
        "input_size": json.loads(pretrained["preprocessing"])["input_size"],
        "schedule": {
            "epochs": args.epochs,
            "head_epochs_transfer": args.head_epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "warmup_epochs": args.warmup_epochs,
            "weight_decay": args.weight_decay,
            "augment": args.augment,
            "optimizer": "adamw",
        },
        "rows": rows,
        "summary": summary,
    }


def _asdict(cfg) -> dict:
    from dataclasses import asdict

    return asdict(cfg)


def markdown(study: dict[str, Any]) -> str:
    """The summary as a Markdown table, with the setting it was measured in."""
    s = study["schedule"]
    n = study["summary"][0]["scratch"]["n"] if study["summary"] else 0
    lines = [
        f"Transfer from `{study['pretrained']}` (trained on {study['pretrained_data']}) to {study['target']}, "
        f"{study['arch']} at {study['input_size'][0]}x{study['input_size'][1]}; test accuracy of the "
        f"best-validation checkpoint, mean ± std over {n} seed(s). Every arm: {s['epochs']} epochs, "
        f"batch {s['batch_size']}, AdamW lr {s['lr']}, {s['warmup_epochs']} warm-up epochs, cosine; "
        f"transfer trains only the new classifier for its first {s['head_epochs_transfer']} epoch(s), then "
        "everything; probe trains only the new classifier (pretrained features frozen).",
        "",
        "| labels per class | scratch | transfer | probe | transfer − scratch | probe − scratch "
        "| dead classes (scratch / transfer / probe, all seeds) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in study["summary"]:
        cells = " | ".join(f"{e[m]['mean']:.4f} ± {e[m]['std']:.4f}" for m in MODES)
        dead = " / ".join(str(e[m]["dead_classes"]) for m in MODES)
        lines.append(f"| {e['per_class']} | {cells} | {e['gain']:+.4f} | {e['gain_probe']:+.4f} | {dead} |")
    lines += [
        "",
        "A dead class: its conv10 output (followed by a ReLU, as in torchvision) is 0 on every validation "
        "image at the last epoch: it gets no gradient of its own and its images are always misclassified.",
    ]
    return "\n".join(lines) + "\n"


def plot(study: dict[str, Any], path: Path) -> Path:
    """Test accuracy against labels per class, one line per arm, seeds as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=110)
    ks = [e["per_class"] for e in study["summary"]]
    for mode, color in zip(MODES, ("tab:gray", "tab:blue", "tab:green")):
        ax.errorbar(
            ks,
            [e[mode]["mean"] for e in study["summary"]],
            yerr=[e[mode]["std"] for e in study["summary"]],
            marker="o",
            capsize=3,
            color=color,
            label=mode,
        )
    chance = 1.0 / study["classes"] if study.get("classes") else None
    if chance:
        ax.axhline(chance, color="tab:red", lw=0.8, ls="--", label="chance")
    ax.set_xscale("log")
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("labelled training images per class")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"{study['pretrained_data']} → {study['target']}: transfer, probe, scratch", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training.transfer_study",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--pretrained", required=True, metavar="CKPT", help="bluefire checkpoint to transfer from")
    p.add_argument("--data", default="digits", metavar="SPEC", help="target data set (default: digits)")
    p.add_argument(
        "--per-class",
        default="10,30,100",
        metavar="K,K,..",
        help="labelled training images per class (default: 10,30,100)",
    )
    p.add_argument("--seeds", default="0,1,2", metavar="S,S,..", help="seeds: subset, init, order (default: 0,1,2)")
    p.add_argument("--epochs", type=int, default=30, help="epochs of every run (default: 30)")
    p.add_argument("--head-epochs", type=int, default=2, help="transfer: classifier-only epochs first (default: 2)")
    p.add_argument("--batch-size", type=int, default=32, help="(default: 32; below 10 x the smallest budget)")
    p.add_argument("--lr", type=float, default=3e-4, help="AdamW peak learning rate (default: 3e-4)")
    p.add_argument("--warmup-epochs", type=float, default=3.0, help="linear warm-up epochs (default: 3)")
    p.add_argument("--weight-decay", type=float, default=0.05, help="(default: 0.05)")
    p.add_argument(
        "--augment", default="crop,flip", help="as in bluefire train (default: crop,flip; no flips on digits)"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default: 1)")
    p.add_argument("--out", default="runs/transfer_study", help="folder of the runs (default: runs/transfer_study)")
    p.add_argument(
        "--evidence",
        default="models/evidence",
        metavar="DIR",
        help="where transfer_study.{json,md,png} go (default: models/evidence)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        study = run_study(args)
    except ValueError as e:
        raise SystemExit(f"transfer_study: {e}") from None
    ev = Path(args.evidence)
    ev.mkdir(parents=True, exist_ok=True)
    atomic_write(ev / "transfer_study.json", json.dumps(study, indent=1))
    table = markdown(study)
    (ev / "transfer_study.md").write_text(table)
    plot(study, ev / "transfer_study.png")
    print(table)
    print(f"wrote {ev / 'transfer_study.json'}, {ev / 'transfer_study.md'}, {ev / 'transfer_study.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
