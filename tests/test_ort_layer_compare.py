"""native/tools/ort_layer_compare.py maps every ONNX Runtime node to a native layer or lists it as ORT's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rtmaps_components import _native

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "squeezenet1_1_fmnist_pruned.onnx"
ORT_ONLY_OPS = {"Concat", "ReorderInput", "ReorderOutput", "Reshape", "Flatten"}


@pytest.mark.skipif(not MODEL.is_file(), reason="no shipped fp32 model")
def test_every_native_conv_and_pool_gets_its_ort_nodes(tmp_path) -> None:
    variant = _native.available_variants()[0]
    out = tmp_path / "layers.json"
    subprocess.run(
        [sys.executable, "native/tools/ort_layer_compare.py", str(MODEL), "--variant", variant]
        + ["--runs", "3", "--warmup", "1", "--json", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    rep = json.loads(out.read_text())
    native = [r for r in rep["rows"] if not r["layer"].startswith("(ORT only)")]
    ort_only = [r for r in rep["rows"] if r["layer"].startswith("(ORT only)")]
    convs = [r for r in native if r["kind"].startswith("Conv")]
    assert len(convs) == 26, [r["layer"] for r in convs]  # SqueezeNet 1.1: stem, 8 Fires x 3, classifier
    for r in convs:
        assert r["ort_nodes"] and r["ort_us"] > 0, f"{r['layer']}: no ONNX Runtime node mapped to it"
        assert r["native_us"][variant] > 0
    # The stem's pool is fused into the stem natively, but ORT runs every MaxPool as a node.
    pools = [r for r in native if r["kind"] == "MaxPool"]
    assert pools and all(r["ort_nodes"] for r in pools)
    assert {r["kind"] for r in ort_only} <= ORT_ONLY_OPS, ort_only
    mapped = [n for r in rep["rows"] for n in r["ort_nodes"]]
    assert len(mapped) == len(set(mapped)), "an ORT node counted twice"
    assert rep["end_to_end_us"][variant] > 0 and rep["end_to_end_us"]["ort"] > 0
