"""Training: config layering and errors, pure schedules, a real digits run, exact resume, transfer, DDP sync."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.fixtures_training import train_digits
from training import checkpoint as ckpt_io
from training.config import config_from
from training.train import TrainConfig, epoch_batches, lr_at
from training.train_cli import weights_digest

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- config
def test_config_layers_defaults_file_flags(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"epochs": 7, "lr": 1, "data": "digits"}))
    cfg = config_from(TrainConfig, str(f), {"epochs": 9, "batch_size": None})
    assert (cfg.epochs, cfg.lr, cfg.data, cfg.batch_size) == (9, 1.0, "digits", TrainConfig.batch_size)
    assert isinstance(cfg.lr, float)


@pytest.mark.parametrize(
    "content, message",
    [
        ({"lrr": 0.1}, "unknown config key 'lrr'"),
        ({"epochs": "3"}, "epochs must be int"),
        ({"epochs": True}, "epochs must be int"),
        ({"lr": "fast"}, "lr must be float"),
        ({"optimizer": "adam"}, "optimizer: expected 'sgd' or 'adamw'"),
        ({"arch": "squeezenet2"}, "arch: expected one of"),
        ({"head_epochs": 5, "epochs": 3}, r"head_epochs: must be in 0..epochs \(3\)"),
        ({"augment": "crop,rotate"}, r"augment: unknown item\(s\) \['rotate'\]"),
        ({"batch_size": 0}, "batch_size: must be >= 1"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_config_errors_name_the_file_and_field(tmp_path, content, message):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message) as e:
        config_from(TrainConfig, str(f), {})
    assert "bad.json" in str(e.value)  # errors say where the bad value came from


def test_flag_errors_say_command_line():
    with pytest.raises(ValueError, match="command line: epochs must be int"):
        config_from(TrainConfig, None, {"epochs": 2.5})


def test_config_unreadable_file(tmp_path):
    (tmp_path / "c.json").write_text("{epochs: 3")
    with pytest.raises(ValueError, match="c.json: cannot read config"):
        config_from(TrainConfig, str(tmp_path / "c.json"), {})


# ---------------------------------------------------------------- pure functions of (seed, epoch, step)
def test_lr_schedule():
    lrs = [lr_at(s, 100, 10, 0.5) for s in range(100)]
    assert lrs[0] == pytest.approx(0.05) and lrs[9] == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 0.001


def test_batches_are_seeded_and_ddp_shards_partition_the_global_batch():
    x = torch.arange(40 * 4 * 4 * 3, dtype=torch.int64).reshape(40, 4, 4, 3).to(torch.uint8)
    y = torch.arange(40)
    one = list(epoch_batches(x, y, 8, seed=3, epoch=2, crop=False, flip=False, world=1))
    again = list(epoch_batches(x, y, 8, seed=3, epoch=2, crop=False, flip=False, world=1))
    other = list(epoch_batches(x, y, 8, seed=3, epoch=3, crop=False, flip=False, world=1))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(one, again))
    assert not all(torch.equal(a[1], b[1]) for a, b in zip(one, other))
    r0 = list(epoch_batches(x, y, 4, seed=3, epoch=2, crop=False, flip=False, rank=0, world=2))
    r1 = list(epoch_batches(x, y, 4, seed=3, epoch=2, crop=False, flip=False, rank=1, world=2))
    assert len(r0) == len(r1) == len(one) == 5
    for (_, a), (_, b), (_, g) in zip(r0, r1, one):
        assert torch.equal(torch.cat([a, b]), g)
    aug1 = list(epoch_batches(x, y, 8, seed=3, epoch=2, crop=True, flip=True))
    aug2 = list(epoch_batches(x, y, 8, seed=3, epoch=2, crop=True, flip=True))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(aug1, aug2))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(aug1, one))


# ---------------------------------------------------------------- real training
def test_short_digits_run_clearly_beats_chance(tmp_path):
    r = train_digits(tmp_path, epochs=DIGITS_EPOCHS, train_limit=0, warmup_epochs=2.0)
    assert r["best_val_acc"] > 0.6, r["history"]
    assert r["test_acc"] > 0.6  # chance is 0.1
    assert r["history"][-1]["extra"]["dead_classes"] == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert len(m["history"]) == DIGITS_EPOCHS and m["test_acc"] == r["test_acc"]
    best = ckpt_io.load(tmp_path / "best.pt")
    assert best["best_val_acc"] == pytest.approx(max(h["val_acc"] for h in r["history"]))
    assert best["preprocessing"] and best["widths"]["conv1"] == 64
    assert best["data"] == {"spec": "digits", "seed": 0, "val_fraction": 0.1}


DIGITS_EPOCHS = 8


def _interrupt_after(monkeypatch, epochs_done: int):
    """Make fit() die (as a kill would) when epoch `epochs_done` + 1 starts, after its checkpoint is on disk."""
    import training.train_cli as tc

    real = tc.run_epoch

    def run_epoch(*a, **kw):
        if a[6] == epochs_done:  # the `epoch` argument
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(tc, "run_epoch", run_epoch)


def test_resume_is_exact(tmp_path, monkeypatch):
    kw = {"epochs": 3, "train_limit": 192, "head_epochs": 1}
    train_digits(tmp_path / "straight", **kw)
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train_digits(tmp_path / "cut", **kw)
    assert ckpt_io.load(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 2
    monkeypatch.undo()
    from training.cli import main

    assert main(["train", "--resume", "--out", str(tmp_path / "cut")]) == 0  # settings come from the checkpoint
    a = ckpt_io.load(tmp_path / "straight" / "checkpoint.pt")
    b = ckpt_io.load(tmp_path / "cut" / "checkpoint.pt")
    assert a["epoch"] == b["epoch"] == 3
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert [h["val_acc"] for h in a["history"]] == [h["val_acc"] for h in b["history"]]


def _resume(out: Path, **overrides):
    return train_digits(out, resume=True, **overrides)


def test_resume_refuses_a_different_config(tmp_path):
    train_digits(tmp_path, epochs=1, train_limit=64)
    with pytest.raises(ValueError, match=r"refusing to resume with a different configuration \(lr: "):
        _resume(tmp_path, epochs=1, train_limit=64, lr=0.1)


def test_batch_larger_than_the_data_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no full batch of 32"):
        train_digits(tmp_path, epochs=1, train_limit=20)


# ---------------------------------------------------------------- transfer learning
def test_init_and_head_epochs(tmp_path):
    src = train_digits(tmp_path / "src", epochs=1, train_limit=64)
    src_ckpt = ckpt_io.load(src["checkpoint"])
    # same classes: everything is kept; one head-only epoch leaves the features untouched
    r = train_digits(tmp_path / "dst", epochs=1, head_epochs=1, train_limit=64, init=src["checkpoint"], seed=5)
    assert r["reinitialised"] == []
    dst = ckpt_io.load(tmp_path / "dst" / "checkpoint.pt")
    for k, v in dst["model"].items():
        same = torch.equal(v, src_ckpt["model"][k])
        assert same == k.startswith("features."), k
    assert dst["history"][0]["extra"]["head_only"] is True


def test_init_with_other_classes_reinitialises_the_head(tmp_path):
    from training.model import build
    from training.train_cli import _init_from_checkpoint

    src = train_digits(tmp_path / "src", epochs=1, train_limit=64)
    ckpt = ckpt_io.load(src["checkpoint"])
    model = build("squeezenet1_1", 10)
    assert _init_from_checkpoint(model, ckpt, "src.pt", tuple("abcdefghij")) == [
        "classifier.1.weight",
        "classifier.1.bias",
    ]
    assert torch.equal(model.features[0].weight, ckpt["model"]["features.0.weight"])
    assert not torch.equal(model.final_conv.weight, ckpt["model"]["classifier.1.weight"])
    with pytest.raises(ValueError, match="src.pt: is squeezenet1_1"):
        _init_from_checkpoint(build("squeezenet1_0", 10), ckpt, "src.pt", tuple("0123456789"))


def test_weights_flag_loads_a_torchvision_state_dict(tmp_path):
    from training.model import squeezenet1_1

    tv = squeezenet1_1(num_classes=1000).state_dict()  # torchvision's keys and shapes (see test_model)
    torch.save(tv, tmp_path / "squeezenet1_1-b8a52dc0.pth")
    r = train_digits(
        tmp_path / "run", epochs=1, head_epochs=1, train_limit=64, weights=str(tmp_path / "squeezenet1_1-b8a52dc0.pth")
    )
    assert r["reinitialised"] == ["classifier.1.bias", "classifier.1.weight"]
    got = ckpt_io.load(tmp_path / "run" / "checkpoint.pt")["model"]
    assert all(torch.equal(got[k], tv[k]) for k in tv if k.startswith("features."))
    assert got["classifier.1.weight"].shape == (10, 512, 1, 1)


# ---------------------------------------------------------------- data parallel
def test_ddp_two_cpu_processes_stay_in_sync(tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [
        torchrun,
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "training.cli",
        "train",
        "--data",
        "digits",
        "--epochs",
        "2",
        "--head-epochs",
        "1",
        "--batch-size",
        "16",
        "--train-limit",
        "160",
        "--lr",
        "0.0003",
        "--threads",
        "1",
        "--out",
        str(tmp_path),
    ]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["world_size"] == 2
    a, b = m["rank_weights_sha256"]
    assert a == b, "the two ranks ended with different weights"
    model, _ = ckpt_io.model_from_checkpoint(ckpt_io.load(tmp_path / "checkpoint.pt"))
    assert weights_digest(model) == a
    # 160 images, 16 per rank and step, 2 ranks: 5 steps per epoch; each rank saw different images
    assert len(m["history"]) == 2 and p.stdout.count("epoch 1/2") == 1  # only rank 0 prints
    assert p.stdout.count('"best_val_acc"') == 1, "every rank printed the final JSON"


def test_checkpoint_names_its_data_split():
    from training.checkpoint import data_split_of

    assert data_split_of({"config": {"data": "digits", "seed": 4, "val_fraction": 0.2}}) == {
        "spec": "digits",
        "seed": 4,
        "val_fraction": 0.2,
    }
    # a derived checkpoint (e.g. pruned) whose config is another tool's: its "data" entry wins
    assert data_split_of(
        {"config": {"data": "", "seed": 0}, "data": {"spec": "fashion-mnist", "seed": 3, "val_fraction": 0.1}}
    ) == {"spec": "fashion-mnist", "seed": 3, "val_fraction": 0.1}
    assert data_split_of({})["spec"] == ""
