"""Data loaders on files written in the real formats, their corrupted variants, the real sets when present."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures_training import (
    Hostile,
    cifar_batch_bytes,
    py2_pickle,
    write_cifar10,
    write_fashion_mnist,
    write_image_folder,
)
from training import data as data_mod


# ---------------------------------------------------------------- CIFAR-10
def test_cifar10_batches_round_trip(tmp_path):
    written = write_cifar10(tmp_path, n=20)
    ds = data_mod.load(f"cifar10:{tmp_path}", seed=0, val_fraction=0.1)
    assert ds.class_names[0] == "airplane" and ds.color == "rgb" and ds.flip_ok
    assert len(ds.train) + len(ds.val) == 100 and len(ds.test) == 20
    np.testing.assert_array_equal(ds.test.images, written["test_batch"][0])  # planar rows -> HWC, RGB order
    np.testing.assert_array_equal(ds.test.labels, written["test_batch"][1])
    train_pool = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)])
    assert ds.train.images.shape[1:] == (32, 32, 3)
    # every training and validation image is one of the written ones, none twice
    flat = {img.tobytes() for img in train_pool}
    seen = [img.tobytes() for img in np.concatenate([ds.train.images, ds.val.images])]
    assert set(seen) == flat and len(seen) == len(flat)


def test_cifar10_missing_batch_names_the_file(tmp_path):
    write_cifar10(tmp_path, n=4)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(ValueError, match=r"data_batch_3: missing CIFAR-10 batch"):
        data_mod.load(f"cifar10:{tmp_path}")


def test_cifar10_truncated_batch_names_the_file(tmp_path):
    write_cifar10(tmp_path, n=4)
    raw = (tmp_path / "data_batch_2").read_bytes()
    (tmp_path / "data_batch_2").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"data_batch_2: not a readable CIFAR-10 batch"):
        data_mod.load(f"cifar10:{tmp_path}")


def test_cifar10_hostile_pickle_is_refused_and_never_runs(tmp_path):
    write_cifar10(tmp_path, n=4)
    marker = tmp_path / "pwned"
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": Hostile(marker), b"labels": [0]}, protocol=2))
    with pytest.raises(ValueError, match=r"test_batch: .*refusing to load posix.system|test_batch: .*refusing"):
        data_mod.load(f"cifar10:{tmp_path}")
    assert not marker.exists()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop(b"labels"), "b'labels'"),
        (lambda d: d.__setitem__(b"data", d[b"data"][:, :100]), r"uint8 \(N, 3072\)"),
        (lambda d: d.__setitem__(b"labels", d[b"labels"][:-1]), "labels in 0..9"),
        (lambda d: d.__setitem__(b"labels", [12] * len(d[b"labels"])), "labels in 0..9"),
    ],
)
def test_cifar10_malformed_batches(tmp_path, mutate, message):
    write_cifar10(tmp_path, n=4)
    raw, _, _ = cifar_batch_bytes(4, 9)
    d = pickle.loads(raw, encoding="bytes")
    mutate(d)
    (tmp_path / "data_batch_5").write_bytes(py2_pickle(d))
    with pytest.raises(ValueError, match=f"data_batch_5: .*{message}"):
        data_mod.load(f"cifar10:{tmp_path}")


def test_cifar10_needs_a_folder():
    with pytest.raises(ValueError, match="cifar10:DIR"):
        data_mod.load("cifar10")


# ---------------------------------------------------------------- Fashion-MNIST idx files
@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_idx_round_trip(tmp_path, gz):
    arrays = write_fashion_mnist(tmp_path, gz=gz)
    ds = data_mod.load(f"fashion-mnist:{tmp_path}", seed=3, val_fraction=0.2)
    assert ds.color == "gray" and ds.class_names[9] == "Ankle boot"
    np.testing.assert_array_equal(ds.test.images[..., 0], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.test.labels, arrays["t10k-labels-idx1-ubyte"])
    # stratified and seeded: round(6 * 0.2) = 1 image of each class goes to validation
    assert len(ds.val) == 10 and len(ds.train) == 50
    assert np.bincount(ds.val.labels, minlength=10).tolist() == [1] * 10


@pytest.mark.parametrize(
    "name, damage, message",
    [
        ("train-images-idx3-ubyte", lambda b: b[:-5], "header says"),
        ("train-images-idx3-ubyte", lambda b: b[:6], "truncated idx header"),
        ("train-images-idx3-ubyte", lambda b: b"\x00\x00\x0d\x03" + b[4:], "not a uint8 idx file"),
        ("train-labels-idx1-ubyte", lambda b: b[:-1], "header says"),
        ("t10k-images-idx3-ubyte", lambda b: b[:2] + b"\x08\x02" + b[4:], "2 dimensions, expected 3"),
    ],
)
def test_fashion_mnist_corrupt_files_name_the_file(tmp_path, name, damage, message):
    write_fashion_mnist(tmp_path, gz=False)
    path = tmp_path / name
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=f"{name}: .*{message}"):
        data_mod.load(f"fashion-mnist:{tmp_path}")


def test_fashion_mnist_truncated_gzip_names_the_file(tmp_path):
    write_fashion_mnist(tmp_path, gz=True)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: cannot read"):
        data_mod.load(f"fashion-mnist:{tmp_path}")


def test_fashion_mnist_count_and_label_checks(tmp_path):
    from tests.fixtures_training import idx_bytes

    write_fashion_mnist(tmp_path, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(59, np.uint8)))
    with pytest.raises(ValueError, match="60 images but train-labels-idx1-ubyte has 59 labels"):
        data_mod.load(f"fashion-mnist:{tmp_path}")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(60, 11, np.uint8)))
    with pytest.raises(ValueError, match="label 11 outside 0..9"):
        data_mod.load(f"fashion-mnist:{tmp_path}")
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(ValueError, match="missing train-labels-idx1-ubyte"):
        data_mod.load(f"fashion-mnist:{tmp_path}")


@pytest.mark.skipif(
    not Path(data_mod.FASHION_MNIST_DIR, "t10k-labels-idx1-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist():
    ds = data_mod.load("fashion-mnist", seed=0, val_fraction=0.1)
    assert ds.train.images.shape == (54000, 28, 28, 1) and ds.val.images.shape == (6000, 28, 28, 1)
    assert ds.test.images.shape == (10000, 28, 28, 1) and ds.test.images.dtype == np.uint8
    assert np.bincount(ds.test.labels).tolist() == [1000] * 10
    assert np.bincount(ds.val.labels).tolist() == [600] * 10
    assert 60 < ds.test.images.mean() < 90  # real clothing photos on black, not noise (mean ~73)


# ---------------------------------------------------------------- image folders and digits
def test_image_folder_split_by_seed(tmp_path):
    write_image_folder(tmp_path)
    ds = data_mod.load(f"folder:{tmp_path}", seed=0, val_fraction=0.25)
    assert ds.class_names == ("cat", "dog", "eel") and ds.color == "rgb"
    assert len(ds.train) + len(ds.val) + len(ds.test) == 15 and len(ds.test) == 3
    all_x = np.concatenate([ds.train.images, ds.val.images, ds.test.images])
    all_y = np.concatenate([ds.train.labels, ds.val.labels, ds.test.labels])
    assert all(abs(int(x[5, 5, 0]) - (40 + 80 * y)) <= 1 for x, y in zip(all_x, all_y))


def test_image_folder_with_train_test_and_errors(tmp_path):
    write_image_folder(tmp_path / "train")
    write_image_folder(tmp_path / "test", per_class=2)
    ds = data_mod.load(f"folder:{tmp_path}", seed=0, val_fraction=0.2)
    assert len(ds.test) == 6 and len(ds.train) + len(ds.val) == 15
    (tmp_path / "test" / "dog" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png: not a decodable image"):
        data_mod.load(f"folder:{tmp_path}")
    write_image_folder(tmp_path / "bad" / "test", classes=("cow",))
    write_image_folder(tmp_path / "bad" / "train")
    with pytest.raises(ValueError, match=r"classes \['cow'\] are not in the training classes"):
        data_mod.load(f"folder:{tmp_path / 'bad'}")
    with pytest.raises(ValueError, match="not a folder"):
        data_mod.load(f"folder:{tmp_path / 'nothing'}")


def test_digits_splits_are_seeded_disjoint_and_stratified():
    a = data_mod.load("digits", seed=0)
    b = data_mod.load("digits", seed=0)
    c = data_mod.load("digits", seed=1)
    assert len(a.train) + len(a.val) + len(a.test) == 1797
    np.testing.assert_array_equal(a.val.images, b.val.images)
    assert not np.array_equal(a.test.labels, c.test.labels) or not np.array_equal(a.test.images, c.test.images)
    keys = [{x.tobytes() + bytes([y]) for x, y in zip(s.images, s.labels)} for s in (a.train, a.val, a.test)]
    # the digits set holds a few exact duplicate images; the splits are disjoint by index, so allow those
    assert len(keys[0] & keys[2]) < 5 and len(keys[1] & keys[2]) < 5
    assert np.bincount(a.test.labels).min() >= 35 and a.color == "gray" and not a.flip_ok


def test_unknown_spec_lists_the_choices():
    with pytest.raises(ValueError, match=r"fashion-mnist\[:DIR\], cifar10:DIR, folder:DIR or digits"):
        data_mod.load("imagenet")


def test_prepare_matches_the_runtime_preprocessing():
    """Training inputs are exactly what Preprocessing.apply gives the deployed model."""
    import torch

    from training.train import to_input

    ds = data_mod.load("digits", seed=0)
    prep = data_mod.make_preprocessing(ds, 32)
    assert prep.color == "gray" and prep.input_size == (32, 32) and prep.class_names == tuple("0123456789")
    split = ds.test.subset(np.arange(8))
    x = to_input(torch.from_numpy(data_mod.prepare(split, prep)), prep).numpy()
    ref = np.concatenate([prep.apply(img, "GRAY") for img in split.images])
    np.testing.assert_allclose(x, ref, rtol=0, atol=1e-6)
