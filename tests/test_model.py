"""SqueezeNet v1.0 / v1.1: torchvision's exact state-dict layout, the published sizes, widths, input limits."""

from __future__ import annotations

import pytest
import torch

from tests.fixtures_training import TORCHVISION_LAYOUTS
from training.model import (
    ARCHS,
    SqueezeNet,
    Widths,
    build,
    count_macs,
    count_params,
    feature_sizes,
    min_input_size,
    squeezenet1_0,
    squeezenet1_1,
)


@pytest.mark.parametrize("arch", ARCHS)
def test_state_dict_is_torchvisions(arch):
    model = {"squeezenet1_0": squeezenet1_0, "squeezenet1_1": squeezenet1_1}[arch](num_classes=1000)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    want = TORCHVISION_LAYOUTS[arch]
    assert list(got) == list(want), "key order differs from torchvision's"
    assert got == want


@pytest.mark.parametrize(
    "arch, params_1000, params_10", [("squeezenet1_0", 1_248_424, 740_554), ("squeezenet1_1", 1_235_496, 727_626)]
)
def test_parameter_counts(arch, params_1000, params_10):
    for classes, want in ((1000, params_1000), (10, params_10)):
        model = build(arch, classes)
        assert sum(p.numel() for p in model.parameters()) == want
        assert count_params(Widths.default(arch), arch, classes) == want


@pytest.mark.parametrize(
    "arch, classes, size, mmacs",
    [
        ("squeezenet1_0", 1000, 224, 818.9),
        ("squeezenet1_1", 1000, 224, 349.2),
        ("squeezenet1_0", 10, 32, 9.1),
        ("squeezenet1_1", 10, 32, 3.0),
    ],
)
def test_macs_match_reference(arch, classes, size, mmacs):
    assert count_macs(Widths.default(arch), arch, classes, size) / 1e6 == pytest.approx(mmacs, abs=0.05)


def test_macs_match_a_hook_count():
    """count_macs agrees with MACs measured from the real conv outputs, on a pruned width table."""
    widths = Widths(
        37,
        (
            (13, 21, 5),
            (16, 64, 64),
            (7, 100, 3),
            (32, 128, 128),
            (48, 1, 192),
            (11, 192, 192),
            (64, 256, 256),
            (5, 6, 7),
        ),
    )
    model = build("squeezenet1_1", 7, widths).eval()
    macs = []

    def hook(m, inp, out):
        macs.append(out.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1])

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, 3, 48, 48))
    assert sum(macs) == count_macs(widths, "squeezenet1_1", 7, 48)
    assert sum(p.numel() for p in model.parameters()) == count_params(widths, "squeezenet1_1", 7)


@pytest.mark.parametrize("arch", ARCHS)
def test_min_input_size_is_exact(arch):
    n = min_input_size(arch)
    model = build(arch, 3).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, n, n)).shape == (2, 3)
    assert 0 in feature_sizes(arch, n - 1).values()
    with pytest.raises(ValueError, match=f"smaller than the {n}x{n} minimum"):
        model(torch.zeros(1, 3, n - 1, n + 5))


def test_bad_inputs_are_clear_errors():
    model = squeezenet1_1(num_classes=4)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="unknown architecture"):
        SqueezeNet("squeezenet2", 10)
    with pytest.raises(ValueError, match="num_classes"):
        squeezenet1_0(num_classes=0)


def test_pruned_model_rebuilds_from_its_width_table():
    widths = Widths(50, tuple((s - 3, e1 - 5, e3 - 7) for s, e1, e3 in Widths.default("squeezenet1_0").fires))
    a = build("squeezenet1_0", 10, widths)
    b = build("squeezenet1_0", 10, widths.to_dict())  # the dict form, as stored in checkpoints
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        assert torch.equal(a.eval()(x), b.eval()(x))
    assert [f.squeeze.out_channels for f in a.fires()] == [w[0] for w in widths.fires]
    assert a.final_conv.in_channels == widths.classifier_in
    assert a.conv1.out_channels == 50


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"conv1": 0, "fires": [[1, 1, 1]] * 8}, "conv1"),
        ({"conv1": 3, "fires": [[1, 1, 1]] * 7}, "8 Fire"),
        ({"conv1": 3, "fires": [[1, 1, 1]] * 7 + [[1, 0, 1]]}, "fire9"),
        ({"conv1": 3, "fires": [[1, 1, 1]] * 8, "x": 1}, "keys"),
    ],
)
def test_width_table_errors_name_the_field(bad, field):
    with pytest.raises(ValueError, match=field):
        Widths.from_dict(bad, "ckpt.pt: widths")


def test_every_class_starts_alive():
    """conv10 feeds a ReLU: with a zero bias some classes output 0 for every image from the start (1x1 maps at 32)."""
    from training.model import HEAD_BIAS_INIT

    for seed in range(3):
        torch.manual_seed(seed)
        model = squeezenet1_1(num_classes=10).eval()
        assert torch.all(model.final_conv.bias == HEAD_BIAS_INIT)
        with torch.no_grad():
            logits = model(torch.rand(16, 3, 32, 32) * 2 - 1)
        assert (logits > 0).any(0).all(), (
            f"seed {seed}: classes {(logits <= 0).all(0).nonzero().flatten().tolist()} start dead"
        )
