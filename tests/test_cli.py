"""The `bluefire` command line: complete help, clear errors, evaluate and export end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures_training import digits_checkpoint_and_onnx
from training.cli import COMMANDS, main
from training.config import field_help as config_help
from training.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_help_lists_every_command():
    p = subprocess.run(
        [sys.executable, "-m", "training.cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    out = " ".join(p.stdout.split())
    for name in ("train", "evaluate", "export"):
        assert f"{name} {COMMANDS[name][1][:30]}" in out, name
    q = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from training.cli import main; main(['--help'])\n"
            "assert 'torch' not in sys.modules, 'bluefire --help imported torch'",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert q.returncode == 0, q.stderr


def test_no_command_and_unknown_command(capsys):
    assert main([]) == 2
    assert "train" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["trian"])
    assert e.value.code == 2 and "unknown command 'trian'" in capsys.readouterr().err


def test_train_help_documents_every_setting(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    helps = config_help(TrainConfig)
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        assert flag in out, flag
        assert f.name in helps, f"{f.name} has no comment in TrainConfig"
        assert " ".join(helps[f.name].split())[:40] in out, f.name
        assert f"(default: {f.default!r})" in out, f.name
    for text in ("--config FILE", "--resume", "torchrun", "checkpoint.pt", "best.pt", "metrics.json"):
        assert text in out


@pytest.mark.parametrize(
    "command, texts",
    [
        (
            "evaluate",
            ("MODEL", "--data SPEC", "--split {test,val}", "--png FILE", "--json FILE", "ONNX Runtime", "confusion"),
        ),
        ("export", ("CKPT", "-o FILE.onnx", "--opset N", "onnx.checker", "1e-4", "dynamic")),
    ],
)
def test_subcommand_help(capsys, command, texts):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for t in texts:
        assert t in out, t


def test_train_errors_are_one_line(tmp_path):
    (tmp_path / "c.json").write_text('{"lrr": 1}')
    with pytest.raises(SystemExit, match=r"bluefire train: .*c.json: unknown config key 'lrr'"):
        main(["train", "--config", str(tmp_path / "c.json")])
    with pytest.raises(SystemExit, match="bluefire train: command line: optimizer: expected 'sgd' or 'adamw'"):
        main(["train", "--optimizer", "lion", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="bluefire train: .*checkpoint.pt: no such checkpoint"):
        main(["train", "--resume", "--data", "digits", "--out", str(tmp_path / "none")])


def test_evaluate_checkpoint_prints_and_writes_png_and_json(tmp_path, capsys):
    ckpt, _ = digits_checkpoint_and_onnx()
    assert main(["evaluate", str(ckpt), "--png", str(tmp_path / "cm.png"), "--json", str(tmp_path / "e.json")]) == 0
    out = capsys.readouterr().out
    r = json.loads((tmp_path / "e.json").read_text())
    assert r["data"] == "digits" and r["split"] == "test" and r["n"] == 359  # the checkpoint's data and seed
    cm = np.asarray(r["confusion"])
    assert cm.shape == (10, 10) and cm.sum() == 359 and cm.sum(1).tolist() == r["support"]
    assert r["top1"] == pytest.approx(np.trace(cm) / 359)
    for i, name in enumerate(r["class_names"]):
        assert r["per_class"][name] == pytest.approx(cm[i, i] / cm[i].sum())
    assert f"top-1 {r['top1']:.4f} on 359 images" in out and "confusion matrix" in out
    assert out.count("\n") > 25
    png = (tmp_path / "cm.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_evaluate_onnx_needs_data_and_matches_checkpoint(tmp_path, capsys):
    ckpt, onnx_path = digits_checkpoint_and_onnx()
    with pytest.raises(SystemExit, match="give --data SPEC"):
        main(["evaluate", str(onnx_path)])
    main(["evaluate", str(onnx_path), "--data", "digits", "--split", "val", "--json", str(tmp_path / "o.json")])
    main(["evaluate", str(ckpt), "--split", "val", "--json", str(tmp_path / "c.json")])
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("o.json", "c.json"))
    assert a["split"] == "val" and a["confusion"] == b["confusion"]
    with pytest.raises(SystemExit, match="missing.onnx: no such model file"):
        main(["evaluate", str(tmp_path / "missing.onnx"), "--data", "digits"])


def test_export_command(tmp_path, capsys):
    ckpt, _ = digits_checkpoint_and_onnx()
    out = tmp_path / "m.onnx"
    assert main(["export", str(ckpt), "-o", str(out), "--parity-images", "16", "--json", str(tmp_path / "x.json")]) == 0
    r = json.loads((tmp_path / "x.json").read_text())
    assert out.is_file() and r["real_images"] == 16 and r["opset"] >= 17
    assert r["max_abs_diff_random"] <= 1e-4 and r["max_abs_diff_real"] <= 1e-4
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="bluefire export: --opset must be 17 or newer"):
        main(["export", str(ckpt), "-o", str(out), "--opset", "11"])
