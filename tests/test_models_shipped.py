"""The claims in models/index.json and the README hold for the files actually shipped."""

import hashlib
import json
from pathlib import Path

import onnx
import pytest

from rtmaps_components.model_meta import ModelMeta
from training.model import Widths, count_macs, count_params
from training.model_card import README_BEGIN, README_END, headline

ROOT = Path(__file__).resolve().parents[1]
INDEX = json.loads((ROOT / "models" / "index.json").read_text())


@pytest.mark.parametrize("entry", INDEX["models"], ids=lambda e: e["name"])
def test_index_entry_matches_file(entry):
    path = ROOT / "models" / entry["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], f"{path} changed since its card"
    assert path.stat().st_size == entry["file_bytes"]
    meta = ModelMeta.from_metadata({p.key: p.value for p in onnx.load(str(path)).metadata_props}, str(path))
    widths = Widths.from_dict(meta.widths)
    ncls = meta.preprocessing.num_classes
    assert count_params(widths, meta.arch, ncls) == entry["params"]
    assert count_macs(widths, meta.arch, ncls, meta.preprocessing.input_size[0]) == entry["macs"]
    assert (ROOT / "models" / entry["card"]).is_file()


def test_pruned_model_meets_the_thesis_bar():
    pruned = [e for e in INDEX["models"] if e.get("vs_baseline")]
    assert pruned, "no pruned model in models/index.json"
    for e in pruned:
        vb = e["vs_baseline"]
        assert vb["params_removed"] >= 0.72, f"{e['name']}: only {vb['params_removed']:.1%} of parameters removed"
        assert vb["top1_delta_points"] >= -1.0, f"{e['name']}: top-1 drops {vb['top1_delta_points']:.2f} points"


def test_readme_headline_is_generated_from_index():
    text = (ROOT / "README.md").read_text()
    block = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    assert block == headline(INDEX).strip(), (
        "README headline is stale: run python -m training.model_card --readme README.md"
    )
