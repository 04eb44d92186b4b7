"""ONNX export: onnx.checker, metadata, dynamic batch, ONNX Runtime == torch, evaluate_onnx == torch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rtmaps_components.model_meta import INPUT_NAME, ModelMeta
from tests.fixtures_training import digits_checkpoint_and_onnx
from training import checkpoint as ckpt_io
from training.export import check_parity, export_onnx
from training.model import Widths, build


def test_export_is_valid_onnx_with_metadata_and_dynamic_batch():
    import onnx
    import onnxruntime as ort

    ckpt_path, onnx_path = digits_checkpoint_and_onnx()
    proto = onnx.load(str(onnx_path))
    onnx.checker.check_model(proto, full_check=True)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    ckpt = ckpt_io.load(ckpt_path)
    meta = ModelMeta.from_metadata({p.key: p.value for p in proto.metadata_props}, str(onnx_path))
    _, prep = ckpt_io.model_from_checkpoint(ckpt)
    assert (meta.arch, meta.widths, meta.preprocessing) == (ckpt["arch"], ckpt["widths"], prep)
    assert meta.preprocessing.mean == prep.mean and meta.preprocessing.color == "gray"
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    dim0 = sess.get_inputs()[0].shape[0]
    assert isinstance(dim0, str), f"batch axis is fixed to {dim0}"
    for b in (1, 3, 17):
        assert sess.run(None, {INPUT_NAME: np.zeros((b, 3, 32, 32), np.float32)})[0].shape == (b, 10)


def test_parity_random_and_real_images():
    from training.export_cli import real_inputs

    ckpt_path, onnx_path = digits_checkpoint_and_onnx()
    ckpt = ckpt_io.load(ckpt_path)
    model, prep = ckpt_io.model_from_checkpoint(ckpt)
    rng = np.random.default_rng(1)
    assert check_parity(model, onnx_path, rng.standard_normal((5, 3, 32, 32)).astype(np.float32)) <= 1e-4
    real = real_inputs(ckpt, prep, None, 40)
    assert real.shape == (40, 3, 32, 32) and real.std() > 0.1
    assert check_parity(model, onnx_path, real) <= 1e-4
    with pytest.raises(AssertionError, match="ONNX Runtime differs from torch"):
        with torch.no_grad():
            model.final_conv.bias += 1.0  # a model that no longer matches the file
        check_parity(model, onnx_path, real)


def test_pruned_widths_export_with_parity(tmp_path):
    from rtmaps_components.preprocess import Preprocessing

    widths = Widths(
        13, ((5, 7, 3), (16, 1, 64), (3, 13, 37), (32, 128, 1), (7, 24, 8), (1, 1, 1), (64, 5, 250), (9, 4, 3))
    )
    torch.manual_seed(0)
    model = build("squeezenet1_0", 3, widths)
    for p in model.parameters():  # weights away from zero so that dead ReLUs do not hide differences
        torch.nn.init.normal_(p, 0.0, 0.2)
    prep = Preprocessing((40, 36), ("a", "b", "c"))
    path = export_onnx(model, prep, tmp_path / "pruned.onnx")
    x = np.random.default_rng(0).standard_normal((4, 3, 40, 36)).astype(np.float32)
    with torch.no_grad():
        assert np.abs(model.eval()(torch.from_numpy(x)).numpy()).max() > 0.01
    assert check_parity(model, path, x) <= 1e-4


def test_export_errors(tmp_path):
    from training.export_cli import export_checked

    ckpt_path, _ = digits_checkpoint_and_onnx()
    with pytest.raises(ValueError, match="opset must be 17 or newer"):
        export_checked(ckpt_path, tmp_path / "m.onnx", opset=13)
    with pytest.raises(ValueError, match=r"m.pt: the output file must end in .onnx"):
        export_checked(ckpt_path, tmp_path / "m.pt")
    with pytest.raises(ValueError, match="nothing.pt: no such checkpoint"):
        export_checked(tmp_path / "nothing.pt", tmp_path / "m.onnx")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.pt: not a readable checkpoint"):
        export_checked(tmp_path / "junk.pt", tmp_path / "m.onnx")
    ckpt = ckpt_io.load(ckpt_path)
    ckpt["widths"]["fires"][0][0] = 15  # the table no longer matches the weights
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad.pt: weights do not match the width table"):
        export_checked(tmp_path / "bad.pt", tmp_path / "m.onnx")


def test_evaluate_onnx_agrees_with_torch():
    """The runtime path (raw images -> Preprocessing from the file's metadata -> ONNX Runtime) scores as torch."""
    from training import data as data_mod
    from training.evaluate import evaluate_checkpoint, evaluate_onnx

    ckpt_path, onnx_path = digits_checkpoint_and_onnx()
    ds = data_mod.load("digits", seed=0)
    a = evaluate_onnx(onnx_path, ds.test.images, ds.test.labels, "GRAY")
    b = evaluate_checkpoint(ckpt_io.load(ckpt_path), ds.test.images, ds.test.labels, "GRAY")
    assert a["n"] == b["n"] == len(ds.test)
    assert a["confusion"] == b["confusion"] and a["top1"] == b["top1"]
    assert np.trace(np.asarray(a["confusion"])) == round(a["top1"] * a["n"])
    # colour frames of gray digits: the model's metadata says gray, so BGR input scores the same
    bgr = np.repeat(ds.test.images, 3, axis=-1)
    assert evaluate_onnx(onnx_path, bgr, ds.test.labels, "BGR")["confusion"] == a["confusion"]
    json.dumps(a)  # plain JSON types


@pytest.mark.parametrize("order", ["RGB", "BGR"])
def test_gray_stem_folds_to_one_plane_exactly(tmp_path, order):
    """A gray model exported with one input plane computes what the trained three-plane model does,
    even when its three planes are normalised differently (ImageNet statistics on a gray camera)."""
    from rtmaps_components.preprocess import Preprocessing
    from training.export import fold_gray_stem

    torch.manual_seed(3)
    model = build("squeezenet1_1", 4, None).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, 0.0, 0.1)
    prep = Preprocessing(
        (48, 48),
        ("a", "b", "c", "d"),
        color="gray",
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        channel_order=order,
    )
    path = export_onnx(model, prep, tmp_path / "one.onnx", planes=1)
    meta = ModelMeta.from_metadata({p.key: p.value for p in __import__("onnx").load(str(path)).metadata_props})
    assert (meta.preprocessing.channels, meta.preprocessing.mean, meta.preprocessing.std) == (1, (0.485,), (0.229,))
    images = np.random.default_rng(0).integers(0, 256, (6, 48, 48, 3), dtype=np.uint8)
    x3 = np.concatenate([prep.apply(im) for im in images])  # what the trained model sees
    x1 = np.concatenate([meta.preprocessing.apply(im) for im in images])
    assert x1.shape == (6, 1, 48, 48)
    with torch.no_grad():
        assert np.abs(model(torch.from_numpy(x3)).numpy()).max() > 0.1  # not a dead network
    assert check_parity(model, path, x3, onnx_inputs=x1) <= 1e-4
    folded, _ = fold_gray_stem(model, prep)
    assert folded.conv1.in_channels == 1 and model.conv1.in_channels == 3  # the original is untouched
    with pytest.raises(ValueError, match="only a 3-plane gray model"):
        fold_gray_stem(model, Preprocessing((48, 48), ("a", "b", "c", "d")))


def test_export_cli_planes(tmp_path):
    from training.export_cli import export_checked

    ckpt_path, _ = digits_checkpoint_and_onnx()  # a gray model (digits)
    auto = export_checked(ckpt_path, tmp_path / "auto.onnx", parity_images=16)
    three = export_checked(ckpt_path, tmp_path / "three.onnx", parity_images=16, planes="3")
    assert (auto["planes"], three["planes"]) == (1, 3)
    assert auto["max_abs_diff_real"] <= 1e-4 and auto["max_abs_diff_random"] <= 1e-4
    import onnxruntime as ort

    shapes = [
        ort.InferenceSession(str(tmp_path / f), providers=["CPUExecutionProvider"]).get_inputs()[0].shape[1]
        for f in ("auto.onnx", "three.onnx")
    ]
    assert shapes == [1, 3]
