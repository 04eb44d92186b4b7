"""Summarise the input-size study: accuracy of each size's full run against what that size costs.

    python -m training.size_study runs/size_study --out models/evidence/input_size_study

Reads <dir>/<size>/metrics.json and <dir>/choice.json (models/choose.py), measures here what one training
epoch costs at each size (timed AdamW steps on random batches, after warm-up, so the figure is this
machine's and not the machine that ran the study), and writes OUT.json, OUT.md and OUT.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .model import Widths, build, count_macs, feature_sizes


def seconds_per_epoch(size: int, threads: int, train_images: int = 54000, batch: int = 128, steps: int = 12) -> float:
    """Median seconds of one training step at this size, times the steps of one epoch."""
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    model = build("squeezenet1_1", 10)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.randn(batch, 3, size, size), torch.randint(0, 10, (batch,))
    times = []
    for i in range(steps + 3):
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 3:  # warm-up steps are not timed
            times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * (train_images // batch)


def summarise(root: Path, threads: int) -> dict[str, Any]:
    choice_path = root / "choice.json"
    if not choice_path.is_file():
        raise SystemExit(f"{choice_path}: missing; run `python models/choose.py size runs` first")
    choice = json.loads(choice_path.read_text())
    rows = []
    for d in sorted((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
        f = d / "metrics.json"
        if not f.is_file():
            continue
        m = json.loads(f.read_text())
        s = int(d.name)
        rows.append(
            {
                "input_size": s,
                "epochs": len(m["history"]),
                "best_val_acc": m["best_val_acc"],
                "macs": count_macs(Widths.default("squeezenet1_1"), "squeezenet1_1", 10, s),
                "fire9_map": feature_sizes("squeezenet1_1", s)["fire9"],
                "cpu_seconds_per_epoch_here": seconds_per_epoch(s, threads),
                "study_seconds_per_epoch": sum(h["seconds"] for h in m["history"]) / len(m["history"]),
            }
        )
        print(
            f"size {s}: val {m['best_val_acc']:.4f}, {rows[-1]['cpu_seconds_per_epoch_here']:.0f} s/epoch here",
            flush=True,
        )
    return {"rule": choice["rule"], "chosen": choice["input_size"], "threads": threads, "rows": rows}


def markdown(study: dict[str, Any]) -> str:
    lines = [
        "# Input-size study",
        "",
        f"One full SqueezeNet 1.1 baseline per input size (same recipe and seed), Fashion-MNIST upscaled. "
        f"Rule, fixed before the runs: {study['rule']}. **Chosen: {study['chosen']}×{study['chosen']}.**",
        "",
        f"| input | epochs | best val top-1 | MMACs/image | fire6-9 map | train s/epoch here ({study['threads']} threads) |",
        "|---|---|---|---|---|---|",
    ]
    for r in study["rows"]:
        lines.append(
            f"| {r['input_size']}×{r['input_size']} | {r['epochs']} | {100 * r['best_val_acc']:.2f} % | "
            f"{r['macs'] / 1e6:.1f} | {r['fire9_map']}×{r['fire9_map']} | {r['cpu_seconds_per_epoch_here']:.0f} |"
        )
    lines += [
        "",
        "Validation accuracy only; the test split is never used for this choice. "
        "`python -m training.size_study runs/size_study` regenerates this file.",
        "",
    ]
    return "\n".join(lines)


def plot(study: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    xs = [r["macs"] / 1e6 for r in study["rows"]]
    ys = [100 * r["best_val_acc"] for r in study["rows"]]
    ax.plot(xs, ys, "o-")
    for r, x, y in zip(study["rows"], xs, ys):
        ax.annotate(
            f"{r['input_size']}²" + (" (chosen)" if r["input_size"] == study["chosen"] else ""),
            (x, y),
            textcoords="offset points",
            xytext=(5, -12),
        )
    ax.set_xlabel("MMACs per image")
    ax.set_ylabel("best validation top-1 (%)")
    ax.set_title("SqueezeNet 1.1 on Fashion-MNIST: input size")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="folder of the size runs (runs/size_study)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for the cost measurement (default 2)")
    ap.add_argument("--out", type=Path, default=Path("models/evidence/input_size_study"), help="output stem")
    a = ap.parse_args(argv)
    study = summarise(a.root, a.threads)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps(study, indent=1) + "\n")
    a.out.with_suffix(".md").write_text(markdown(study))
    plot(study, a.out.with_suffix(".png"))
    print(markdown(study))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
