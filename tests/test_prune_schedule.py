"""The prune-and-fine-tune schedule on real digits: every criterion, targets, guards, refusals, resume, reports, CLI."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
import torch

from tests.fixtures_prune import digits_checkpoint, fast_config
from training import checkpoint as ckpt_io
from training.config import config_diff
from training.device import choose_device
from training.model import Widths, count_params
from training.prune import schedule
from training.prune.config import PruneConfig
from training.prune.criteria import CRITERIA
from training.prune.group import LAYERS, width

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def ckpt():
    return digits_checkpoint()


@pytest.fixture(scope="module")
def data(ckpt):
    cfg = fast_config(ckpt, "unused")
    return schedule.load_data(cfg, ckpt_io.load(ckpt))


@pytest.mark.parametrize("criterion", CRITERIA)
def test_every_criterion_reaches_the_target_and_writes_a_usable_checkpoint(ckpt, data, tmp_path, criterion):
    cfg = fast_config(ckpt, tmp_path, criterion=criterion, target_params=0.5)
    rep = schedule.run(cfg, show=False, data=data)
    assert rep["phase"] == "done" and rep["stop_reason"] == "target reached"
    assert 0.5 <= rep["final"]["params_removed"] < 0.5 + 0.05  # the last step stops at the target
    final = ckpt_io.load(tmp_path / schedule.MODEL_FILE)  # bluefire train's checkpoint format
    for key in (
        "model",
        "arch",
        "num_classes",
        "widths",
        "preprocessing",
        "optimizer",
        "config",
        "epoch",
        "history",
        "best_val_acc",
        "rng",
    ):
        assert key in final, key
    assert ckpt_io.data_split_of(final) == {"spec": "digits", "seed": 0, "val_fraction": 0.1}
    # "config" means one thing in every model checkpoint: the training config (the source's); prune's is apart
    assert final["config"] == ckpt_io.load(ckpt)["config"] and final["pruning"]["config"]["criterion"] == criterion
    assert rep["params_removed"] == rep["final"]["params_removed"] and set(rep["depth_share"]) == {
        "early",
        "mid",
        "high",
    }
    model, prep = ckpt_io.model_from_checkpoint(final)
    assert sum(p.numel() for p in model.parameters()) == rep["final"]["params"]
    assert prep.input_size == (32, 32)
    assert rep["final"]["test_acc"] is not None and rep["final"]["val_acc"] is not None


def test_report_contents(ckpt, data, tmp_path):
    rep = schedule.run(fast_config(ckpt, tmp_path, criterion="taylor"), show=False, data=data)
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["final"] == json.loads(json.dumps(rep["final"]))
    base_w, final_w = Widths.from_dict(rep["base"]["widths"]), Widths.from_dict(rep["final"]["widths"])
    assert [l["layer"] for l in rep["layers"]] == list(LAYERS)
    for l in rep["layers"]:
        assert (l["before"], l["after"]) == (width(base_w, l["layer"]), width(final_w, l["layer"]))
    removed = sum(l["removed"] for l in rep["layers"])
    assert removed == sum(h["removed_count"] for h in rep["iteration_log"]) > 0
    assert sum(d["share_of_removed"] for d in rep["depth"].values()) == pytest.approx(1.0)
    assert sum(d["removed"] for d in rep["depth"].values()) == removed
    assert rep["depth"]["early"]["layers"] == ["conv1", "fire2", "fire3"]
    for h in rep["iteration_log"]:
        assert {"params", "macs", "size_bytes", "val_acc", "removed", "widths"} <= set(h)
        assert h["params"] == count_params(Widths.from_dict(h["widths"]), "squeezenet1_1", 10)
        assert h["size_bytes"] == 4 * h["params"]
        assert all(isinstance(i, int) for v in h["removed"].values() for i in v)
    assert rep["curve"][0]["params_removed"] == 0.0 and len(rep["curve"]) == len(rep["iteration_log"]) + 1
    md = (tmp_path / "report.md").read_text()
    assert "Where the removed filters came from" in md and "fire9.expand3x3" in md
    for png in ("accuracy_vs_params.png", "widths.png"):
        assert (tmp_path / png).read_bytes()[:8] == PNG


def test_resume_after_a_kill_ends_with_the_same_model(ckpt, data, tmp_path):
    cfg = fast_config(ckpt, tmp_path / "straight", criterion="combined", final_epochs=2)
    ref = schedule.run(cfg, show=False, data=data)
    ref_model = ckpt_io.load(tmp_path / "straight" / schedule.MODEL_FILE)["model"]
    n_iter = ref["iterations"]
    # killed once in the middle of the pruning and once between the two final epochs
    for stops in ([2], [n_iter + 1]):
        out = tmp_path / f"killed{stops[0]}"
        k = replace(cfg, out=str(out))
        assert schedule.run(k, show=False, data=data, stop_after=stops[0]) == {"stopped": True}
        assert not (out / schedule.MODEL_FILE).exists() and not (out / "report.json").exists()
        assert json.loads((out / "progress.json").read_text())["phase"] in ("prune", "final")
        rep = schedule.run(k, resume=True, show=False, data=data)
        got = ckpt_io.load(out / schedule.MODEL_FILE)["model"]
        assert got.keys() == ref_model.keys()
        assert all(torch.equal(got[key], ref_model[key]) for key in got), stops
        assert [h["val_acc"] for h in rep["iteration_log"]] == [h["val_acc"] for h in ref["iteration_log"]]


def test_resume_refuses_a_different_configuration(ckpt, data, tmp_path):
    cfg = fast_config(ckpt, tmp_path, criterion="l2")
    schedule.run(cfg, show=False, data=data, stop_after=1)
    with pytest.raises(ValueError, match="already exists"):
        schedule.run(cfg, show=False, data=data)
    with pytest.raises(ValueError, match=r"different configuration.*filters_per_step: 12 -> 8.*lr: 0.0005 -> 0.001"):
        schedule.run(replace(cfg, filters_per_step=8, lr=1e-3), resume=True, show=False, data=data)
    # where a run computes is not what it computes: a GPU-started run may finish on the CPU
    assert (
        config_diff(PruneConfig, {**vars(cfg), "device": "cuda", "threads": 16}, {**vars(cfg), "device": "cpu"}) == {}
    )


def test_device_setting_is_checked():
    with pytest.raises(ValueError, match="device: expected auto, cpu or cuda, got 'tpu'"):
        schedule.PruneConfig(checkpoint="x", device="tpu").validate()
    assert choose_device(PruneConfig(device="cpu").device) == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda was asked for"):
            schedule.PruneConfig(checkpoint="x", device="cuda").validate()
        assert choose_device(PruneConfig().device) == torch.device("cpu")


def test_unreachable_targets_are_errors_before_any_work(ckpt, data, tmp_path):
    with pytest.raises(ValueError, match="target_params=0.990 is unreachable"):
        schedule.run(fast_config(ckpt, tmp_path, target_params=0.99, min_width=4), show=False, data=data)
    with pytest.raises(ValueError, match="target_macs=0.950 is unreachable"):
        schedule.run(
            fast_config(ckpt, tmp_path, target_params=0.0, target_macs=0.95, round_to=8), show=False, data=data
        )
    with pytest.raises(ValueError, match="not below the unpruned validation accuracy"):
        schedule.run(fast_config(ckpt, tmp_path, target_params=0.0, min_val_acc=0.999), show=False, data=data)
    with pytest.raises(ValueError, match="no target"):
        schedule.run(fast_config(ckpt, tmp_path, target_params=0.0), show=False, data=data)
    assert not (tmp_path / schedule.STATE_FILE).exists()


def test_minimum_accuracy_undoes_the_iteration_that_crossed_it(ckpt, data, tmp_path):
    base_acc = schedule.run.__globals__["accuracy"](
        ckpt_io.model_from_checkpoint(ckpt_io.load(ckpt))[0],
        data.val_x,
        data.val_y,
        ckpt_io.model_from_checkpoint(ckpt_io.load(ckpt))[1],
    )
    cfg = fast_config(
        ckpt, tmp_path, target_params=0.0, max_val_drop=0.02, filters_per_step=24, finetune_batches=1, final_epochs=0
    )
    rep = schedule.run(cfg, show=False, data=data)
    log = rep["iteration_log"]
    assert log[-1]["reverted"] and log[-1]["val_acc"] < base_acc - 0.02
    assert "fell below the minimum" in rep["stop_reason"]
    kept = [h for h in log if not h["reverted"]]
    expect = kept[-1]["widths"] if kept else rep["base"]["widths"]
    assert rep["final"]["widths"] == expect
    assert rep["final"]["val_acc"] == (kept[-1]["val_acc"] if kept else rep["base"]["val_acc"])  # no final fine-tune
    model, _ = ckpt_io.model_from_checkpoint(ckpt_io.load(tmp_path / schedule.MODEL_FILE))
    assert model.widths.to_dict() == expect


def test_guards_round_to_and_min_width(ckpt, data, tmp_path):
    rep = schedule.run(fast_config(ckpt, tmp_path / "r", round_to=4, target_params=0.6), show=False, data=data)
    assert all(l["after"] % 4 == 0 for l in rep["layers"])
    assert rep["final"]["params_removed"] >= 0.6
    rep = schedule.run(
        fast_config(ckpt, tmp_path / "m", min_width=3, target_params=0.8, filters_per_step=40), show=False, data=data
    )
    assert min(l["after"] for l in rep["layers"]) >= 3
    assert rep["final"]["params_removed"] >= 0.8


def test_per_layer_ranking_spreads_the_cut(ckpt, data, tmp_path):
    rep = schedule.run(
        fast_config(ckpt, tmp_path, ranking="per-layer", criterion="l2", filters_per_step=50, target_params=0.4),
        show=False,
        data=data,
    )
    first = rep["iteration_log"][0]["removed"]
    assert len(first) >= 20  # proportional shares: nearly every layer gives up filters in one step


def test_cli_prune_and_compare(ckpt, tmp_path, capsys):
    from training.cli import main

    common = [
        "--filters-per-step",
        "16",
        "--rank-batches",
        "2",
        "--finetune-batches",
        "2",
        "--final-epochs",
        "1",
        "--batch-size",
        "32",
        "--target-params",
        "0.4",
        "--threads",
        "1",
        "--normalize",
        "true",
    ]
    assert main(["prune", str(ckpt), "--criterion", "weight-l1", "--out", str(tmp_path / "one"), *common]) == 0
    assert (tmp_path / "one" / schedule.MODEL_FILE).exists()
    # the pruned checkpoint is a first-class bluefire model: evaluate finds its data and split by itself
    assert main(["evaluate", str(tmp_path / "one" / schedule.MODEL_FILE), "--split", "val", "--limit", "40"]) == 0
    assert main(["prune", str(ckpt), "--compare", "l2,random", "--out", str(tmp_path / "cmp"), *common]) == 0
    table = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert {r["criterion"] for r in table["rows"]} == {"l2", "random"}
    assert sorted(table["ranking_by_val_acc"]) == ["l2", "random"]
    assert (tmp_path / "cmp" / "comparison.png").read_bytes()[:8] == PNG
    assert "| criterion |" in (tmp_path / "cmp" / "comparison.md").read_text()
    # resuming a finished comparison redoes nothing and rewrites the same table
    assert (
        main(["prune", str(ckpt), "--compare", "l2,random", "--out", str(tmp_path / "cmp"), "--resume", *common]) == 0
    )
    assert json.loads((tmp_path / "cmp" / "comparison.json").read_text())["rows"] == table["rows"]
    with pytest.raises(SystemExit, match="--compare"):
        main(["prune", str(ckpt), "--compare", "l2,oracle", "--out", str(tmp_path / "bad"), *common])
    with pytest.raises(SystemExit, match="criterion"):
        main(["prune", str(ckpt), "--criterion", "magic", "--out", str(tmp_path / "bad"), *common])


def test_distillation_from_the_unpruned_model(ckpt, data, tmp_path):
    plain = schedule.run(fast_config(ckpt, tmp_path / "plain", final_epochs=0), show=False, data=data)
    kd = schedule.run(fast_config(ckpt, tmp_path / "kd", final_epochs=0, distill=0.7), show=False, data=data)
    # the same cuts in the first iteration (same scores), a different fine-tune after it
    assert kd["iteration_log"][0]["removed"] == plain["iteration_log"][0]["removed"]
    assert kd["iteration_log"][0]["train_loss"] != plain["iteration_log"][0]["train_loss"]
    with pytest.raises(ValueError, match="distill"):
        fast_config(ckpt, tmp_path, distill=1.5).validate()


def test_cli_resume_with_only_out_uses_the_runs_own_settings(ckpt, tmp_path, capsys):
    """`bluefire prune --resume --out DIR` works as `train --resume --out DIR` does (issue 15)."""
    from training.cli import main

    out = tmp_path / "run"
    cfg = fast_config(ckpt, out, criterion="l2", final_epochs=1)
    schedule.run(cfg, show=False, stop_after=1)
    assert main(["prune", "--resume", "--out", str(out), "--threads", "1"]) == 0
    assert (out / schedule.MODEL_FILE).exists()
    assert '"params_removed"' in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"nowhere.*state.pt: no pruning run to resume here"):
        main(["prune", "--resume", "--out", str(tmp_path / "nowhere")])
    # other settings with --resume must still equal the run's
    with pytest.raises(SystemExit, match="different configuration.*filters_per_step"):
        main(["prune", str(ckpt), "--resume", "--out", str(out), "--filters-per-step", "5", "--criterion", "l2"])


def test_progress_has_a_total_and_log_lines_an_eta(ckpt, data, tmp_path, capsys, monkeypatch):
    """The overall bar knows its total (iterations + final epochs) and every log line ends with an ETA (issue 15)."""
    bars = []

    class Bar:
        def __init__(self, iterable, total, desc, enabled=True):
            self.iterable, self.total, self.desc, self.n, self.totals = iterable, total, desc, 0, []
            bars.append(self)

        def __iter__(self):
            return iter(self.iterable)

        def update(self, n=1):
            self.n += n
            self.totals.append(self.total)

        def set_postfix(self, **kw):
            pass

        def close(self):
            pass

    monkeypatch.setattr(schedule, "progress", Bar)
    rep = schedule.run(fast_config(ckpt, tmp_path, criterion="l2", final_epochs=2), show=True, data=data)
    overall = next(b for b in bars if b.desc.startswith("prune"))
    assert all(t is not None for t in overall.totals)
    assert overall.n == overall.totals[-1] == rep["iterations"] + 2
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("iter", "final fine-tune"))]
    assert len(lines) == rep["iterations"] + 2
    assert all(re.search(r"ETA (\d+h)?(\d+m)?\d+s$|ETA \d+h\d\dm$", line) for line in lines), lines
    assert lines[-1].endswith("ETA 0s")


def test_eta_and_iteration_estimates():
    cfg = PruneConfig(
        checkpoint="x", filters_per_step=10, target_params=0.5, final_epochs=2, finetune_batches=8, rank_batches=2
    )
    base = {"params": 1000, "macs": 1000}
    from tests.fixtures_prune import SMALL

    # after 2 iterations that removed 20 %: 0.3 more at 0.1 per iteration
    assert schedule.iterations_left(SMALL, base, {"params": 800, "macs": 900}, 2, cfg) == 3
    assert schedule.iterations_left(SMALL, base, {"params": 500, "macs": 900}, 4, cfg) == 0
    state = {"history": [{"seconds": 2.0}, {"seconds": 4.0}], "final_history": [], "final_epoch": 0}
    # 3 iterations x 3 s, then 2 epochs of 50 batches at 3 s / 10 batches
    assert schedule.eta_seconds(state, cfg, 3, 50) == pytest.approx(9 + 2 * 15)
    assert [schedule.format_duration(s) for s in (5, 65, 3725)] == ["5s", "1m05s", "1h02m"]


def test_boolean_flags_have_one_spelling_and_accept_the_old_one(capsys):
    from training.cli import build_parser

    parse = build_parser(load="prune").parse_args
    assert parse(["prune", "--no-normalize"]).normalize is False
    assert parse(["prune", "--normalize"]).normalize is True
    assert parse(["prune"]).normalize is None  # not given: the config file or default decides
    assert parse(["prune", "--normalize", "false"]).normalize is False  # the older spelling still works
    assert "deprecated" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["prune", "--normalize", "maybe"])
