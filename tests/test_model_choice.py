"""The fixed rules that chose the shipped input size and prune target (models/choose.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("choose", Path(__file__).parents[1] / "models" / "choose.py")
choose = importlib.util.module_from_spec(spec)
spec.loader.exec_module(choose)


def _size_runs(root: Path, accs: dict[int, float | None]) -> Path:
    for s, acc in accs.items():
        d = root / "size_study" / str(s)
        d.mkdir(parents=True)
        if acc is not None:  # None: an unfinished run (no metrics.json) is not a candidate
            (d / "metrics.json").write_text(json.dumps({"best_val_acc": acc}))
    return root


def test_smallest_size_within_tolerance_of_the_best(tmp_path):
    runs = _size_runs(tmp_path, {32: 0.915, 40: 0.9335, 48: 0.925, 64: 0.936, 96: None})
    assert choose.choose_size(runs, 0.003) == 40  # 0.9335 >= 0.936 - 0.003
    assert choose.choose_size(runs, 0.001) == 64
    got = json.loads((runs / "size_study" / "choice.json").read_text())
    assert got["input_size"] == 64 and set(got["val_acc"]) == {"32", "40", "48", "64"}


def test_size_choice_needs_a_finished_run(tmp_path):
    with pytest.raises(SystemExit, match="no finished size run"):
        choose.choose_size(_size_runs(tmp_path, {32: None}))


def _prune_runs(root: Path, runs: dict[str, tuple[float, float]], base_val: float = 0.936) -> Path:
    for name, (removed, val) in runs.items():
        d = root / "prune_targets" / name
        d.mkdir(parents=True)
        (d / "report.json").write_text(
            json.dumps({"base": {"val_acc": base_val}, "final": {"params_removed": removed, "val_acc": val}})
        )
    (root / "prune_targets" / "0.95").mkdir()  # unfinished: no report.json
    return root


def test_largest_reduction_within_the_drop(tmp_path):
    runs = _prune_runs(tmp_path, {"0.8": (0.80, 0.931), "0.85": (0.85, 0.9238), "0.7": (0.70, 0.934)})
    assert choose.choose_pruned(runs, 0.005).name == "0.8"  # a drop of exactly 0.5 points is allowed
    assert choose.choose_pruned(runs, 0.02).name == "0.85"
    assert choose.choose_pruned(runs, 0.003).name == "0.7"
    with pytest.raises(SystemExit, match="no run within 0.001"):
        choose.choose_pruned(runs, 0.001)
