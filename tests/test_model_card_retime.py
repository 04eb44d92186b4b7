"""`training.model_card --retime`: a card's latency and latency ratios from another benchmark run, nothing else."""

import json
import shutil
from pathlib import Path

import pytest

from training.model_card import main, retime

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("squeezenet1_1_fmnist_baseline", "squeezenet1_1_fmnist_pruned", "squeezenet1_1_fmnist_pruned_int8")


def _bench(path: Path, ms: dict[str, dict[str, float]]) -> Path:
    rows = [
        {"model": f"models/{m}.onnx", "engine": e, "threads": 1, "median_ms": v, "p99_ms": 2 * v, "variant": "x"}
        for m, per in ms.items()
        for e, v in per.items()
    ]
    rows.append({"model": f"models/{NAMES[1]}.onnx", "engine": "native", "threads": 2, "median_ms": 9.0, "p99_ms": 9})
    path.write_text(json.dumps({"cpu": {"model": "Test CPU"}, "rows": rows}))
    return path


@pytest.fixture
def cards(tmp_path):
    for n in NAMES:
        shutil.copy(ROOT / "models" / f"{n}.json", tmp_path / f"{n}.json")
    return tmp_path


def test_retime_replaces_latency_and_ratios_from_one_run(cards, tmp_path):
    before = json.loads((cards / f"{NAMES[1]}.json").read_text())
    bench = _bench(
        tmp_path / "b.json",
        {NAMES[0]: {"native": 0.4, "ort": 0.5}, NAMES[1]: {"native": 0.1, "ort": 0.2}, NAMES[2]: {"native": 0.08}},
    )
    for n in NAMES:  # the baseline first, as models/reproduce.sh does; ratios never read another card
        assert main([str(cards / f"{n}.onnx"), "--bench", str(bench), "--retime"]) == 0
    pruned = json.loads((cards / f"{NAMES[1]}.json").read_text())
    assert pruned["latency_ms"] == {
        "native": {"median_ms": 0.1, "p99_ms": 0.2, "variant": "x"},
        "ort": {"median_ms": 0.2, "p99_ms": 0.4, "variant": "x"},
    }  # torch is not in this run, and the 2-thread row is not a card's
    vb = pruned["vs_baseline"]
    assert vb["native_latency_ratio"] == pytest.approx(0.25) and vb["ort_latency_ratio"] == pytest.approx(0.4)
    assert "torch_latency_ratio" not in vb
    for k in ("test_top1", "params", "macs", "sha256", "pruning"):  # nothing else changes
        assert pruned[k] == before[k]
    assert json.loads((cards / f"{NAMES[2]}.json").read_text())["vs_fp32"]["native_latency_ratio"] == pytest.approx(0.8)
    assert pruned["latency_source"] == {"bench": bench.as_posix(), "cpu": "Test CPU"}
    assert "on Test CPU" in (cards / f"{NAMES[1]}.md").read_text()
    index = json.loads((cards / "index.json").read_text())
    assert {m["name"]: m["latency_ms"]["native"]["median_ms"] for m in index["models"]}[NAMES[0]] == 0.4


def test_retime_refuses_a_run_without_the_model_or_its_reference(cards, tmp_path):
    with pytest.raises(ValueError, match=f"no 1-thread rows for {NAMES[1]}.onnx"):
        retime(cards / f"{NAMES[1]}.onnx", _bench(tmp_path / "a.json", {NAMES[0]: {"native": 0.4}}))
    with pytest.raises(ValueError, match=f"for the baseline {NAMES[0]}"):
        retime(cards / f"{NAMES[1]}.onnx", _bench(tmp_path / "b.json", {NAMES[1]: {"native": 0.1}}))
    with pytest.raises(FileNotFoundError, match="no card to retime"):
        retime(tmp_path / "other.onnx", tmp_path / "b.json")
