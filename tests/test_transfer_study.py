"""The transfer-vs-scratch study runs end to end on a tiny pretrained checkpoint and reuses finished runs."""

from __future__ import annotations

import json

from tests.fixtures_training import write_fashion_mnist
from training.train import TrainConfig
from training.train_cli import fit
from training.transfer_study import main


def test_transfer_study_end_to_end(tmp_path, capsys):
    write_fashion_mnist(tmp_path / "fm", n_train=80, n_test=20)
    pre = fit(
        TrainConfig(
            data=f"fashion-mnist:{tmp_path / 'fm'}", epochs=1, batch_size=16, threads=1, out=str(tmp_path / "pre")
        ),
        show=False,
    )
    argv = [
        "--pretrained",
        pre["checkpoint"],
        "--per-class",
        "2,4",
        "--seeds",
        "0",
        "--epochs",
        "2",
        "--head-epochs",
        "1",
        "--batch-size",
        "8",
        "--out",
        str(tmp_path / "runs"),
        "--evidence",
        str(tmp_path / "ev"),
    ]
    assert main(argv) == 0
    study = json.loads((tmp_path / "ev" / "transfer_study.json").read_text())
    rows = {(r["mode"], r["per_class"]): r for r in study["rows"]}
    assert set(rows) == {(m, k) for m in ("scratch", "transfer", "probe") for k in (2, 4)}
    assert rows[("transfer", 2)]["reinitialised"] == ["classifier.1.weight", "classifier.1.bias"]  # other classes
    assert rows[("scratch", 2)]["reinitialised"] == []
    assert rows[("probe", 4)]["reinitialised"] == rows[("transfer", 2)]["reinitialised"]
    assert rows[("scratch", 4)]["train_images"] == rows[("transfer", 4)]["train_images"] == 40
    assert rows[("transfer", 2)]["min_per_class"] == 2 == rows[("transfer", 2)]["max_per_class"]
    assert all(0.0 <= r["test_acc"] <= 1.0 for r in rows.values())
    t = json.loads((tmp_path / "runs" / "2_per_class" / "seed0" / "transfer" / "metrics.json").read_text())
    s = json.loads((tmp_path / "runs" / "2_per_class" / "seed0" / "scratch" / "metrics.json").read_text())
    differing = {k for k in t["config"] if t["config"][k] != s["config"][k]}
    assert differing == {"init", "head_epochs", "out"}, differing  # same schedule, only the start differs
    p = json.loads((tmp_path / "runs" / "2_per_class" / "seed0" / "probe" / "metrics.json").read_text())
    assert p["config"]["head_epochs"] == p["config"]["epochs"] == 2 and all(
        h["extra"]["head_only"] for h in p["history"]
    )
    md = (tmp_path / "ev" / "transfer_study.md").read_text()
    assert "| labels per class | scratch | transfer | probe |" in md and md.count("\n| ") == 3
    assert all(isinstance(r["dead_classes"], int) for r in rows.values())
    assert (tmp_path / "ev" / "transfer_study.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(argv) == 0  # finished runs are reused, not retrained
    assert "training" not in capsys.readouterr().out
    again = json.loads((tmp_path / "ev" / "transfer_study.json").read_text())
    assert [r["test_acc"] for r in again["rows"]] == [r["test_acc"] for r in study["rows"]]
