"""The arithmetic floor the benchmark reports (training/floor.py) and its place in `bluefire bench`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from training import bench
from training.floor import best_3x3, direct_3x3_taps, floor_macs, floor_ms, layer_floors, winograd_3x3_mults
from training.model import Widths, count_macs

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("side", [1, 2, 3, 4, 7, 13, 15])
def test_direct_taps_match_enumeration(side: int) -> None:
    # Every (output pixel, tap) pair of a 3x3 pad-1 convolution whose input pixel lies inside the map.
    inside = sum(
        1
        for y in range(side)
        for x in range(side)
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if 0 <= y + dy < side and 0 <= x + dx < side
    )
    assert direct_3x3_taps(side) == inside


def test_winograd_counts_and_choice() -> None:
    assert winograd_3x3_mults(15, 4) == 16 * 36  # 4x4 tiles of 4x4 outputs, 6x6 products each
    assert winograd_3x3_mults(7, 2) == 16 * 16
    assert best_3x3(1) == ("direct", 1)  # fire6-9 at 32x32 input: the centre tap alone
    assert best_3x3(2) == ("direct", 16)
    assert best_3x3(3) == ("F(4x4)", 36)  # one tile beats 49 direct taps
    assert best_3x3(7) == ("F(4x4)", 144)
    assert best_3x3(55)[0] == "F(6x6)"


def test_floor_of_squeezenet_1_1_at_64() -> None:
    w = Widths.default("squeezenet1_1")
    layers = layer_floors(w, "squeezenet1_1", 10, 64)
    assert sum(lay.direct_macs for lay in layers) == count_macs(w, "squeezenet1_1", 10, 64)
    by = {lay.name: lay for lay in layers}
    # fire4 runs on 7x7 maps with 32 -> 128 channels: 2x2 F(4x4) tiles, 144 products per pair.
    assert by["fire4.expand3x3"].floor_macs == 144 * 32 * 128
    # 1x1 layers and the strided stem have no cheaper algorithm.
    assert by["fire4.squeeze"].floor_macs == by["fire4.squeeze"].direct_macs
    assert by["conv1"].floor_macs == 64 * 27 * 31 * 31
    total = floor_macs(w, "squeezenet1_1", 10, 64)
    assert total == sum(lay.floor_macs for lay in layers) < count_macs(w, "squeezenet1_1", 10, 64)
    assert floor_ms(total, 100.0) == pytest.approx(2 * total / 100e9 * 1e3)


def test_bench_rows_carry_the_floor(tmp_path: Path) -> None:
    model = REPO / "models" / "squeezenet1_1_fmnist_pruned.onnx"
    rows = bench.bench_case(model, 1, engines=["native", "ort"], warmup=1, runs=3, peak=100.0)
    assert {r["engine"] for r in rows} == {"native", "ort"}
    for r in rows:
        assert 0 < r["floor_macs"] < r["macs"]
        assert r["floor_ms"] == pytest.approx(floor_ms(r["floor_macs"], 100.0))
        ort = next(x for x in rows if x["engine"] == "ort")
        assert 0 < ort["min_ms"] <= ort["median_ms"]
        assert r["floor_vs_ort"] == pytest.approx(r["floor_ms"] / ort["min_ms"])
    table = bench.format_table(rows, 100.0)
    assert table.count("floor squeezenet1_1_fmnist_pruned:") == 1


def test_floor_cli_prices_shipped_model(capsys: pytest.CaptureFixture[str]) -> None:
    from training.floor import main

    assert main([str(REPO / "models" / "squeezenet1_1_fmnist_pruned.onnx"), "--gflops", "4"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"fire4.expand3x3 +F\(4x4\) ", out)  # 7x7 maps at 64x64 input
    total = int(
        next(line for line in out.splitlines() if line.strip().startswith("total")).split()[-1].replace(",", "")
    )
    assert f"{floor_ms(total, 4.0):.2f} ms at 4 GFLOP/s" in out


def test_floor_cli_names_missing_metadata(tmp_path: Path) -> None:
    import onnx

    from training.floor import main

    model = onnx.load(str(REPO / "models" / "squeezenet1_1_fmnist_pruned.onnx"))
    keep = [p for p in model.metadata_props if p.key != "bluefire.widths"]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    bad = tmp_path / "nometa.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(SystemExit, match="nometa.onnx: no 'bluefire.widths' metadata"):
        main([str(bad)])


def test_int8_floor_is_direct_without_padding_taps() -> None:
    from training.floor import int8_floor_macs, int8_floor_ms

    w = Widths.default("squeezenet1_1")
    layers = {lay.name: lay for lay in layer_floors(w, "squeezenet1_1", 10, 64)}
    total = int8_floor_macs(w, "squeezenet1_1", 10, 64)
    # fire4's 7x7 expand3x3: 13^2 = 169 inside taps per channel pair instead of 9 * 49 = 441
    fire4 = layers["fire4.expand3x3"]
    assert fire4.direct_macs == 441 * 32 * 128
    non3x3 = sum(lay.direct_macs for n, lay in layers.items() if not n.endswith("expand3x3"))
    assert total - non3x3 == sum(direct_3x3_taps(s) * f[0] * f[2] for s, f in zip((15, 15, 7, 7, 3, 3, 3, 3), w.fires))
    assert floor_macs(w, "squeezenet1_1", 10, 64) < total < count_macs(w, "squeezenet1_1", 10, 64)
    assert int8_floor_ms(4_000_000, 4.0) == pytest.approx(1.0)


def test_int8_fp32_floor_ratio_and_host_pricing() -> None:
    from training.floor import A53_FP32_GMACS, A53_INT8_GMACS, int8_floor_macs, int8_fp32_floor_ratio

    # twice the MACs at four times the rate: half the time
    assert int8_fp32_floor_ratio(2_000, 1_000, 4.0, 1.0) == pytest.approx(0.5)
    w = Widths.default("squeezenet1_1")
    i8, f32 = int8_floor_macs(w, "squeezenet1_1", 10, 64), floor_macs(w, "squeezenet1_1", 10, 64)
    # on the A53 int8's 2x rate does not pay for Winograd's cut: above the 0.6 target
    assert int8_fp32_floor_ratio(i8, f32, A53_INT8_GMACS, A53_FP32_GMACS) > 0.6
