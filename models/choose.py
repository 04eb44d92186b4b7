"""The two choices behind the shipped models, made by fixed rules on validation accuracy only.

    python models/choose.py size RUNS [TOL]        -> prints the input size; writes RUNS/size_study/choice.json
    python models/choose.py pruned RUNS [MAX_DROP] -> prints the chosen prune folder; writes RUNS/prune_targets/choice.json

size:   the smallest input whose best validation accuracy is within TOL (default 0.003) of the best size's:
        a larger input costs MACs on the car, so it must earn its keep.
pruned: the largest parameter reduction whose final validation accuracy is at most MAX_DROP (default
        0.005, half the issue's 1-point budget, a margin for the validation/test gap) below the baseline's.
The test split is never read here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EPS = 1e-9  # accuracies are ratios of counts: compare with a little slack for float rounding


def choose_size(runs: Path, tol: float = 0.003) -> int:
    root = runs / "size_study"
    done = {
        int(d.name): json.loads((d / "metrics.json").read_text())
        for d in root.iterdir()
        if d.name.isdigit() and (d / "metrics.json").is_file()
    }
    if not done:
        raise SystemExit(f"{root}: no finished size run (metrics.json) to choose from")
    best = max(m["best_val_acc"] for m in done.values())
    size = min(s for s, m in done.items() if m["best_val_acc"] >= best - tol - EPS)
    choice = {
        "input_size": size,
        "rule": f"smallest input within {tol:g} of the best validation accuracy",
        "val_acc": {str(s): m["best_val_acc"] for s, m in sorted(done.items())},
    }
    (root / "choice.json").write_text(json.dumps(choice, indent=1) + "\n")
    return size


def choose_pruned(runs: Path, max_drop: float = 0.005) -> Path:
    root = runs / "prune_targets"
    reps = {
        d: json.loads((d / "report.json").read_text()) for d in sorted(root.iterdir()) if (d / "report.json").is_file()
    }
    if not reps:
        raise SystemExit(f"{root}: no finished prune run (report.json) to choose from")
    ok = {d: r for d, r in reps.items() if r["base"]["val_acc"] - r["final"]["val_acc"] <= max_drop + EPS}
    if not ok:
        raise SystemExit(f"{root}: no run within {max_drop} of the baseline's validation accuracy")
    best = max(ok, key=lambda d: ok[d]["final"]["params_removed"])
    choice = {
        "chosen": best.name,
        "rule": f"largest parameter reduction with validation drop <= {max_drop:g}",
        "runs": {
            d.name: {
                "params_removed": r["final"]["params_removed"],
                "val_acc": r["final"]["val_acc"],
                "base_val_acc": r["base"]["val_acc"],
            }
            for d, r in reps.items()
        },
    }
    (root / "choice.json").write_text(json.dumps(choice, indent=1) + "\n")
    return best


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("size", "pruned"):
        raise SystemExit(__doc__)
    runs = Path(argv[1])
    if argv[0] == "size":
        print(choose_size(runs, *(float(a) for a in argv[2:3])))
    else:
        print(choose_pruned(runs, *(float(a) for a in argv[2:3])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
