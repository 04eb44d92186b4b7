"""Reports of pruning runs: report.json + report.md per run, PNG plots, and the criteria comparison.

Depth bands (group.DEPTH_BANDS): early = conv1, fire2-3; mid = fire4-5; high = fire6-9. They follow
the Fire width tiers (squeeze 16 | 32 | 48-64) and v1.1's spatial stages between max-pools. Because
the high band holds most filters, the report gives both the share of all removed filters per band
and the fraction of each band's own filters that went, so "most pruned kernels are mid- and
high-level" can be told apart from "high-level layers are simply the biggest".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rtmaps_components.atomic import atomic_write

from ..model import Widths
from .group import DEPTH_BANDS, LAYERS, depth_band, width


def summarise(state: dict[str, Any]) -> dict[str, Any]:
    """The report dict of a run state (works on unfinished runs too)."""
    base = state["base"]
    b_w, f_w = Widths.from_dict(base["widths"]), Widths.from_dict(state["widths"])
    kept = [h for h in state["history"] if not h["reverted"]]
    last = kept[-1] if kept else {**base, "val_acc": base["val_acc"]}
    final_val = state["final_history"][-1]["val_acc"] if state.get("final_history") else None
    if final_val is None and state["phase"] == "done":  # no final fine-tune: the last kept model is final
        final_val = kept[-1]["val_acc"] if kept else base["val_acc"]
    layers = []
    for n in LAYERS:
        before, after = width(b_w, n), width(f_w, n)
        layers.append(
            {
                "layer": n,
                "band": depth_band(n),
                "before": before,
                "after": after,
                "removed": before - after,
                "fraction_removed": (before - after) / before,
            }
        )
    removed_total = sum(l["removed"] for l in layers)
    depth = {}
    for band in DEPTH_BANDS:
        rows = [l for l in layers if l["band"] == band]
        before, removed = sum(l["before"] for l in rows), sum(l["removed"] for l in rows)
        depth[band] = {
            "layers": list(DEPTH_BANDS[band]),
            "filters_before": before,
            "removed": removed,
            "share_of_removed": removed / removed_total if removed_total else 0.0,
            "fraction_of_band_removed": removed / before,
        }
    curve = [{"iteration": 0, "params_removed": 0.0, "macs_removed": 0.0, "val_acc": base["val_acc"]}]
    curve += [
        {
            "iteration": h["iteration"],
            "params_removed": 1 - h["params"] / base["params"],
            "macs_removed": 1 - h["macs"] / base["macs"],
            "val_acc": h["val_acc"],
        }
        for h in kept
    ]
    final = {
        "params": last["params"],
        "macs": last["macs"],
        "size_bytes": last["size_bytes"],
        "params_removed": 1 - last["params"] / base["params"],
        "macs_removed": 1 - last["macs"] / base["macs"],
        "val_acc_before_final_finetune": last["val_acc"],
        "val_acc": final_val,
        "test_acc": state.get("test_acc"),
        "widths": state["widths"],
    }
    cfg = state["config"]
    return {
        "criterion": cfg["criterion"],
        "phase": state["phase"],
        "stop_reason": state["stop_reason"],
        "iterations": state["iteration"],
        "config": cfg,
        # flat summary keys (read by training/model_card.py)
        "iterations_done": state["iteration"],
        "params_removed": final["params_removed"],
        "macs_removed": final["macs_removed"],
        "depth_share": {b: v["share_of_removed"] for b, v in depth.items()},
        "base": {k: base.get(k) for k in ("params", "macs", "size_bytes", "val_acc", "test_acc", "widths")},
        "final": final,
        "layers": layers,
        "depth": depth,
        "curve": curve,
        "iteration_log": [{k: v for k, v in h.items() if k != "widths_before"} for h in state["history"]],
        "final_finetune": state.get("final_history", []),
        "seconds": sum(h["seconds"] for h in state["history"])
        + sum(h["seconds"] for h in state.get("final_history", [])),
    }


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


def markdown(rep: dict[str, Any]) -> str:
    """A short human summary of one run."""
    b, f = rep["base"], rep["final"]
    status = {
        "prune": "still pruning",
        "final": f"in the final fine-tune ({rep['stop_reason']})",
        "done": f"done ({rep['stop_reason']})",
    }[rep["phase"]]
    lines = [
        f"# Pruning run: {rep['criterion']}",
        "",
        f"Status: {status}; {rep['iterations']} iterations, {_duration(rep['seconds'])} of work.",
        "",
        "| | unpruned | pruned |",
        "|---|---|---|",
        f"| parameters | {b['params']:,} | {f['params']:,} (−{_pct(f['params_removed'])}) |",
        f"| MACs | {b['macs']:,} | {f['macs']:,} (−{_pct(f['macs_removed'])}) |",
        f"| fp32 weights | {b['size_bytes'] / 1024:.0f} KiB | {f['size_bytes'] / 1024:.0f} KiB |",
        f"| val accuracy | {_pct(b['val_acc'])} | {_pct(f['val_acc'])} (before final fine-tune {_pct(f['val_acc_before_final_finetune'])}) |",
        f"| test accuracy | {_pct(b.get('test_acc'))} | {_pct(f['test_acc'])} |",
        "",
        "## Where the removed filters came from",
        "",
        "| band | layers | filters before | removed | share of removed | fraction of band |",
        "|---|---|---|---|---|---|",
    ]
    for band, d in rep["depth"].items():
        lines.append(
            f"| {band} | {', '.join(d['layers'])} | {d['filters_before']} | {d['removed']} | "
            f"{_pct(d['share_of_removed'])} | {_pct(d['fraction_of_band_removed'])} |"
        )
    lines += ["", "## Widths per layer", "", "| layer | before | after |", "|---|---|---|"]
    lines += [f"| {l['layer']} | {l['before']} | {l['after']} |" for l in rep["layers"]]
    return "\n".join(lines) + "\n"


def _plots(rep: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [100 * c["params_removed"] for c in rep["curve"]]
    ax.plot(xs, [100 * c["val_acc"] for c in rep["curve"]], marker=".", label="after each cut + fine-tune")
    if rep["final"]["val_acc"] is not None:
        ax.plot(
            [100 * rep["final"]["params_removed"]],
            [100 * rep["final"]["val_acc"]],
            "r*",
            ms=12,
            label="after final fine-tune",
        )
    ax.set_xlabel("parameters removed (%)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(f"{rep['criterion']}: accuracy vs pruning")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_params.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 4))
    names = [
        l["layer"].replace("fire", "f").replace("squeeze", "s").replace("expand1x1", "e1").replace("expand3x3", "e3")
        for l in rep["layers"]
    ]
    idx = range(len(names))
    ax.bar([i - 0.2 for i in idx], [l["before"] for l in rep["layers"]], 0.4, label="before", color="#bbbbbb")
    ax.bar([i + 0.2 for i in idx], [l["after"] for l in rep["layers"]], 0.4, label="after", color="#d62728")
    ax.set_xticks(list(idx), names, rotation=70, fontsize=8)
    ax.set_ylabel("filters")
    ax.set_title(f"{rep['criterion']}: widths per layer")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "widths.png", dpi=110)
    plt.close(fig)


def write(out: str | Path, state: dict[str, Any], plots: bool = True, name: str = "report") -> dict[str, Any]:
    """Write NAME.json and NAME.md (and the PNGs) for a run; returns the report dict.

    A running schedule writes progress.* after every iteration; report.* exist only for finished runs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = summarise(state)
    atomic_write(out / f"{name}.json", json.dumps(rep, indent=1))
    atomic_write(out / f"{name}.md", markdown(rep))
    if plots:
        _plots(rep, out)
    return rep


def compare(reports: dict[str, dict[str, Any]], out: str | Path) -> dict[str, Any]:
    """One table (JSON + Markdown) and one overlay plot for runs of several criteria on the same budget."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, r in reports.items():
        f = r["final"]
        rows.append(
            {
                "criterion": name,
                "params": f["params"],
                "params_removed": f["params_removed"],
                "macs_removed": f["macs_removed"],
                "val_acc_before_final": f["val_acc_before_final_finetune"],
                "val_acc": f["val_acc"],
                "test_acc": f["test_acc"],
                "iterations": r["iterations"],
                "minutes": r["seconds"] / 60,
                "share_removed": {b: d["share_of_removed"] for b, d in r["depth"].items()},
            }
        )
    base = next(iter(reports.values()))["base"] if reports else {}
    ranked = sorted(rows, key=lambda row: -(row["val_acc"] if row["val_acc"] is not None else -1))
    table = {"base": base, "rows": rows, "ranking_by_val_acc": [r["criterion"] for r in ranked]}
    atomic_write(out / "comparison.json", json.dumps(table, indent=1))
    lines = [
        "# Criteria comparison (same checkpoint, budget, seed and data)",
        "",
        f"Unpruned: {base.get('params', 0):,} parameters, val {_pct(base.get('val_acc'))}, test {_pct(base.get('test_acc'))}.",
        "Ranked by validation accuracy after the final fine-tune (test accuracy is reported, never used to choose).",
        "",
        "| criterion | params removed | MACs removed | val before final FT | val | test | removed early/mid/high | iterations | min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in ranked:
        s = r["share_removed"]
        lines.append(
            f"| {r['criterion']} | {_pct(r['params_removed'])} | {_pct(r['macs_removed'])} | "
            f"{_pct(r['val_acc_before_final'])} | {_pct(r['val_acc'])} | {_pct(r['test_acc'])} | "
            f"{100 * s['early']:.0f}/{100 * s['mid']:.0f}/{100 * s['high']:.0f} % | {r['iterations']} | {r['minutes']:.1f} |"
        )
    atomic_write(out / "comparison.md", "\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, r in reports.items():
        (line,) = ax.plot(
            [100 * c["params_removed"] for c in r["curve"]],
            [100 * c["val_acc"] for c in r["curve"]],
            marker=".",
            label=name,
        )
        if r["final"]["val_acc"] is not None:
            ax.plot(
                [100 * r["final"]["params_removed"]], [100 * r["final"]["val_acc"]], "*", ms=11, color=line.get_color()
            )
    ax.set_xlabel("parameters removed (%)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("criteria: accuracy vs pruning (* = after final fine-tune)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "comparison.png", dpi=110)
    plt.close(fig)
    return table
