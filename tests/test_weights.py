"""torchvision SqueezeNet state dicts (.pth) for transfer learning: loaded safely, mismatches listed."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch

from tests.fixtures_training import TORCHVISION_LAYOUTS, Hostile
from training.model import Widths, build
from training.weights import load_pretrained


def torchvision_state_dict(arch: str, seed: int = 0) -> OrderedDict:
    """A state dict exactly in torchvision's format: an OrderedDict of float32 tensors, its keys in its order."""
    g = torch.Generator().manual_seed(seed)
    return OrderedDict((k, torch.randn(shape, generator=g)) for k, shape in TORCHVISION_LAYOUTS[arch].items())


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("arch", ["squeezenet1_0", "squeezenet1_1"])
def test_same_classes_loads_everything(tmp_path, arch, legacy):
    sd = torchvision_state_dict(arch)
    path = tmp_path / f"{arch}.pth"
    # torchvision's published files predate the zip format: check both serialisations
    torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
    model = build(arch, 1000)
    assert load_pretrained(model, path) == []
    assert all(torch.equal(model.state_dict()[k], v) for k, v in sd.items())


def test_other_class_count_reinitialises_only_the_head(tmp_path):
    sd = torchvision_state_dict("squeezenet1_1")
    torch.save(sd, tmp_path / "w.pth")
    model = build("squeezenet1_1", 10)
    assert load_pretrained(model, tmp_path / "w.pth") == ["classifier.1.bias", "classifier.1.weight"]
    own = model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in sd.items() if not k.startswith("classifier."))
    assert own["classifier.1.weight"].shape == (10, 512, 1, 1)


def test_wrong_version_lists_every_mismatch(tmp_path):
    torch.save(torchvision_state_dict("squeezenet1_0"), tmp_path / "v10.pth")
    with pytest.raises(ValueError) as e:
        load_pretrained(build("squeezenet1_1", 1000), tmp_path / "v10.pth")
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / 'v10.pth'}: does not fit squeezenet1_1")
    for line in (
        "missing: features.6.squeeze.weight",
        "missing: features.11.expand3x3.bias",
        "unexpected: features.5.squeeze.weight",
        "unexpected: features.8.expand1x1.bias",
        "shape: features.0.weight is (96, 3, 7, 7) in the file, (64, 3, 3, 3) in the model",
    ):
        assert line in msg


def test_pruned_model_rejects_full_weights(tmp_path):
    torch.save(torchvision_state_dict("squeezenet1_1"), tmp_path / "w.pth")
    w = Widths.default("squeezenet1_1")
    pruned = Widths(w.conv1, ((15, 64, 64),) + w.fires[1:])
    with pytest.raises(
        ValueError, match=r"shape: features.3.squeeze.weight is \(16, 64, 1, 1\) in the file, \(15, 64, 1, 1\)"
    ):
        load_pretrained(build("squeezenet1_1", 10, pruned), tmp_path / "w.pth")


def test_wrapped_state_dict_is_accepted(tmp_path):
    torch.save({"state_dict": torchvision_state_dict("squeezenet1_1")}, tmp_path / "w.pth")
    assert load_pretrained(build("squeezenet1_1", 1000), tmp_path / "w.pth") == []


def test_hostile_file_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"features.0.weight": Hostile(marker)}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="evil.pth: not a readable weights file"):
        load_pretrained(build("squeezenet1_1", 10), tmp_path / "evil.pth")
    assert not marker.exists()


def test_not_a_state_dict(tmp_path):
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="list.pth: expected a state dict of tensors"):
        load_pretrained(build("squeezenet1_1", 10), tmp_path / "list.pth")
    (tmp_path / "junk.pth").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="junk.pth: not a readable weights file"):
        load_pretrained(build("squeezenet1_1", 10), tmp_path / "junk.pth")
    with pytest.raises(ValueError, match="nope.pth: no such weights file"):
        load_pretrained(build("squeezenet1_1", 10), tmp_path / "nope.pth")
