"""Surgery: cutting filters equals zeroing them, counts follow the width table, every index is validated."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tests.fixtures_prune import SMALL, random_plan
from training.model import ARCHS, Widths, build, count_macs, count_params
from training.prune.group import CLASSIFIER, LAYERS, Consumer, consumers, conv, width
from training.prune.surgery import prune, validate_plan, zero_filters


def _model(arch: str, widths: Widths | None = None, seed: int = 0):
    torch.manual_seed(seed)
    m = build(arch, 10, widths).eval()
    with torch.no_grad():  # non-zero biases so that a wrongly kept channel would show up
        for n in LAYERS + (CLASSIFIER,):
            conv(m, n).bias.uniform_(-0.1, 0.2)
    return m


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("seed", [0, 1])
def test_removing_filters_equals_zeroing_their_outputs(arch, seed):
    torch.set_num_threads(1)
    model = _model(arch, seed=seed)
    plan = random_plan(model.widths, seed)
    assert set(plan) == set(LAYERS)  # every coupling is exercised
    small = prune(model, plan)
    zeroed = copy.deepcopy(model)
    zero_filters(zeroed, plan)
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        ref, got, orig = zeroed(x), small(x), model(x)
    assert (orig - ref).abs().max() > 1e-3, "the plan must change the unpruned network's output"
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    for n in LAYERS:
        assert width(small.widths, n) == width(model.widths, n) - len(plan[n]), n


def test_pruning_keeps_the_surviving_weights():
    model = _model("squeezenet1_1", SMALL)
    plan = {"fire2.expand3x3": [0, 5], "fire2.expand1x1": [1], "fire3.squeeze": [2]}
    small = prune(model, plan)
    w_old, w_new = conv(model, "fire3.squeeze").weight, conv(small, "fire3.squeeze").weight
    # fire3.squeeze inputs: expand1x1 (8 -> 7, channel 1 gone), then expand3x3 at offset 8 (channels 0, 5 gone)
    keep_in = [0, 2, 3, 4, 5, 6, 7] + [8 + i for i in (1, 2, 3, 4, 6, 7)]
    keep_out = [0, 1, 3]
    torch.testing.assert_close(w_new, w_old[keep_out][:, keep_in], atol=0, rtol=0)
    assert small is not model and model.widths == SMALL  # the input model is untouched


def test_couplings_are_the_fire_concatenation_offsets():
    w = SMALL
    assert consumers(w, "conv1") == [Consumer("fire2.squeeze", 0)]
    assert consumers(w, "fire4.squeeze") == [Consumer("fire4.expand1x1", 0), Consumer("fire4.expand3x3", 0)]
    assert consumers(w, "fire3.expand1x1") == [Consumer("fire4.squeeze", 0)]  # across v1.1's max-pool
    assert consumers(w, "fire6.expand3x3") == [Consumer("fire7.squeeze", 12)]
    assert consumers(w, "fire9.expand1x1") == [Consumer(CLASSIFIER, 0)]
    assert consumers(w, "fire9.expand3x3") == [Consumer(CLASSIFIER, 16)]
    assert CLASSIFIER not in LAYERS and len(LAYERS) == 25


def _conv_macs(model, size: int) -> int:
    total = 0

    def hook(m, _i, out):
        nonlocal total
        total += (
            out.shape[2]
            * out.shape[3]
            * m.out_channels
            * (m.in_channels // m.groups)
            * m.kernel_size[0]
            * m.kernel_size[1]
        )

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hs:
        h.remove()
    return total


@pytest.mark.parametrize("arch", ARCHS)
def test_pruned_counts_match_the_width_table(arch):
    model = _model(arch)
    small = prune(model, random_plan(model.widths, 7, 0.8))
    n = sum(p.numel() for p in small.parameters())
    assert n == count_params(small.widths, arch, 10) < count_params(model.widths, arch, 10)
    for size in (32, 64):
        assert _conv_macs(small, size) == count_macs(small.widths, arch, 10, size)
    rebuilt = build(arch, 10, Widths.from_dict(small.widths.to_dict()))
    rebuilt.load_state_dict(small.state_dict())  # the width table alone rebuilds the pruned network


@pytest.mark.parametrize(
    "plan, message",
    [
        ({"fire2.squeeze": [4]}, "out of range"),
        ({"fire2.squeeze": [-1]}, "out of range"),
        ({"fire2.squeeze": [True]}, "out of range"),
        ({"fire2.squeeze": [1, 1]}, "more than once"),
        ({"fire10.squeeze": [0]}, "unknown prunable layer"),
        ({CLASSIFIER: [0]}, "unknown prunable layer"),
        ({"fire2.squeeze": [0, 1, 2, 3]}, "minimum width"),
    ],
)
def test_invalid_plans_are_refused_before_cutting(plan, message):
    model = _model("squeezenet1_1", SMALL)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=message):
        prune(model, plan)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_guards_min_width_and_round_to():
    w = SMALL
    with pytest.raises(ValueError, match="minimum width is 3"):
        validate_plan(w, {"conv1": list(range(14))}, min_width=3)
    assert validate_plan(w, {"conv1": list(range(13))}, min_width=3) == {"conv1": list(range(13))}
    with pytest.raises(ValueError, match="round_to=4"):
        validate_plan(w, {"conv1": [0, 1, 2]}, round_to=4)
    assert validate_plan(w, {"conv1": [3, 2, 1, 0], "fire2.squeeze": []}, round_to=4) == {"conv1": [0, 1, 2, 3]}


def test_pruned_model_exports_with_onnx_runtime_parity(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from rtmaps_components.preprocess import Preprocessing
    from training.export import check_parity, export_onnx

    model = _model("squeezenet1_1", SMALL)
    small = prune(model, random_plan(model.widths, 3))
    prep = Preprocessing((32, 32), tuple(str(i) for i in range(10)))
    path = export_onnx(small, prep, tmp_path / "pruned.onnx")
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    assert check_parity(small, path, x, atol=1e-4) <= 1e-4
