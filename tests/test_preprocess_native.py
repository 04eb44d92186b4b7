"""The native preprocessing on its own (`_native.Preprocessor`) and `LoadedModel.classify_frame` on the
ONNX Runtime backend, which feeds its session through it: refusals, the normalisation bit-identical to
numpy's, the tolerance against `Preprocessing.apply`, and classify_frame == run(native preprocessing).
Torch-free once the test networks exist (run under qemu by tests/aarch64/stage.py)."""

from __future__ import annotations

import dataclasses
import platform

import cv2
import numpy as np
import pytest

from rtmaps_components import _native
from rtmaps_components.backends import load_model, native_engine, native_preprocessing_fields, native_preprocessor
from rtmaps_components.preprocess import Preprocessing
from tests import native_fixtures as fx

CONTRACTS = {
    "rgb": Preprocessing(
        input_size=(16, 24), class_names=("a",), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
    ),
    "gray_bgr": Preprocessing(
        input_size=(16, 24), class_names=("a",), color="gray", channel_order="BGR", mean=(0.3, 0.4, 0.5)
    ),
    "gray1": Preprocessing(
        input_size=(16, 24), class_names=("a",), color="gray", channels=1, mean=(0.2858,), std=(0.3388,)
    ),
}


@pytest.fixture(scope="module")
def prep_nets(tmp_path_factory) -> dict:
    return fx.prep_networks(tmp_path_factory.mktemp("prepnative"))


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_normalisation_is_numpys_bit_for_bit(name) -> None:
    # A frame at the input size is not resized: every uint8 value 0..255 in every channel position, through
    # the native table, must be exactly numpy's float32 (v * scale - mean) / std (no FMA contraction).
    p = CONTRACTS[name]
    h, w = p.input_size
    # every value in every channel; R = G = B so a gray contract's luma is the value itself (exact)
    img = np.repeat(((np.arange(h * w) * 7) % 256).astype(np.uint8).reshape(h, w, 1), 3, axis=2)
    assert len(np.unique(img)) == 256
    got = native_preprocessor(p).run(img)
    want = p.apply(img)
    assert got.dtype == np.float32 and got.shape == want.shape == (1, p.channels, h, w)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=f"{name}: not bit-identical")


@pytest.mark.parametrize("name", sorted(CONTRACTS))
@pytest.mark.parametrize("shape", [(16, 24), (32, 48), (5, 7), (100, 30), (17, 200)])
@pytest.mark.parametrize("seq", ["RGB", "BGR", "GRAY", "RGBA", "BGRA"])
def test_within_one_level_of_preprocessing_apply(name, shape, seq) -> None:
    p = CONTRACTS[name]
    planes = {"GRAY": 1, "RGBA": 4, "BGRA": 4}.get(seq, 3)
    img = np.random.default_rng(sum(shape) + planes).integers(0, 256, (*shape, planes), dtype=np.uint8)
    got = native_preprocessor(p).run(img, seq)
    want = p.apply(img, seq)
    # The documented tolerance (tests/test_native.py): each resized uint8 value within 1 of OpenCV's x86
    # INTER_LINEAR -> 1 * scale / std. OpenCV's aarch64 wheel is itself up to one level off its x86 one
    # (tests/aarch64/ORT_ON_ARMV8.0.md), so against it (the qemu stage) the bound is two levels.
    levels = 1 if platform.machine() in ("x86_64", "AMD64") else 2
    step = p.scale / min(p.std)
    assert np.abs(got - want).max() <= levels * step * 1.001 + 1e-6, f"{name} {shape} {seq}"
    if shape == p.input_size and (p.color == "rgb" or seq == "GRAY"):  # no resize (and no luma of colour): exact
        np.testing.assert_array_equal(got, want)


def test_same_code_as_engine_run_image(prep_nets) -> None:
    for key, path in prep_nets.items():
        eng, meta = native_engine(path)
        pre = native_preprocessor(meta.preprocessing)
        for shape in ((96, 96), (50, 70), (192, 192)):
            img = np.random.default_rng(shape[0]).integers(0, 256, (*shape, 3), dtype=np.uint8)
            np.testing.assert_array_equal(pre.run(img, "BGR"), eng.preprocess(img, "BGR"), err_msg=str(key))


def test_out_is_filled_and_returned() -> None:
    p = CONTRACTS["rgb"]
    pre = native_preprocessor(p)
    assert pre.shape == (1, 3, 16, 24)
    img = np.random.default_rng(1).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    out = np.full(pre.shape, np.nan, np.float32)
    assert pre.run(img, "RGB", out=out) is out
    np.testing.assert_array_equal(out, pre.run(img))


def test_refusals() -> None:
    pre = native_preprocessor(CONTRACTS["rgb"])
    rgb = np.zeros((8, 8, 3), np.uint8)
    bad = {
        "float32": (rgb.astype(np.float32), "RGB", r"uint8 C-contiguous \(H, W, 3\) RGB array, got dtype float32"),
        "uint16": (rgb.astype(np.uint16), "RGB", "got dtype uint16"),
        "two planes": (np.zeros((8, 8, 2), np.uint8), "RGB", r"shape \(8, 8, 2\)"),
        "gray as rgb": (np.zeros((8, 8), np.uint8), "RGB", r"shape \(8, 8\)"),
        "rgb as gray": (rgb, "GRAY", r"\(H, W, 1\) GRAY array \(or \(H, W\)\), got dtype uint8 shape \(8, 8, 3\)"),
        "1-d": (np.zeros(8, np.uint8), "GRAY", r"shape \(8,\)"),
        "4-d": (np.zeros((1, 8, 8, 3), np.uint8), "RGB", r"shape \(1, 8, 8, 3\)"),
        "empty": (np.zeros((0, 8, 3), np.uint8), "RGB", r"shape \(0, 8, 3\)"),
        "non-contiguous": (np.zeros((8, 16, 3), np.uint8)[:, ::2], "RGB", "not C-contiguous"),
        "fortran": (np.asfortranarray(np.zeros((8, 8, 3), np.uint8)), "RGB", "not C-contiguous"),
        "yuv": (np.zeros((8, 8, 2), np.uint8), "YUYV", "takes channel_seq RGB, BGR, GRAY, RGBA or BGRA, got 'YUYV'"),
    }
    for what, (img, seq, match) in bad.items():
        with pytest.raises(ValueError, match=match):
            pre.run(img, seq)
            pytest.fail(f"{what} accepted")
    with pytest.raises(TypeError):
        pre.run([[1, 2, 3]], "RGB")
    outs = {
        "float64": np.zeros((1, 3, 16, 24), np.float64),
        "shape": np.zeros((1, 3, 24, 16), np.float32),
        "batch": np.zeros((2, 3, 16, 24), np.float32),
        "non-contiguous": np.zeros((1, 3, 16, 48), np.float32)[..., ::2],
    }
    for what, out in outs.items():
        with pytest.raises(ValueError, match=r"out must be a writeable float32 C-contiguous \(1, 3, 16, 24\) array"):
            pre.run(rgb, "RGB", out=out)
            pytest.fail(f"out {what} accepted")
    ro = np.zeros((1, 3, 16, 24), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        pre.run(rgb, "RGB", out=ro)
    with pytest.raises(TypeError, match="out must be a numpy array, got list"):
        pre.run(rgb, "RGB", out=[0.0])
    shared = np.zeros((1, 3, 16, 24), np.float32)
    with pytest.raises(ValueError, match="shares memory"):
        pre.run(shared.view(np.uint8).reshape(32, 48, 3), "RGB", out=shared)


def test_bad_contracts_are_refused() -> None:
    good = native_preprocessing_fields(CONTRACTS["rgb"])
    for change, match in (
        ({"resize": "area"}, "resize must be 'bilinear'"),
        ({"height": 0}, r"height and width must be 1..4096, got 0x24"),
        ({"width": 5000}, r"height and width must be 1..4096"),
        ({"channels": 2, "mean": [0, 0], "std": [1, 1]}, "channels must be 1 or 3"),
        ({"mean": [0.0]}, "with that many mean and std values"),
        ({"color": "hsv"}, "color must be 'rgb' or 'gray', got 'hsv'"),
        ({"channels": 1, "mean": [0.0], "std": [1.0]}, "channels 1 needs color 'gray'"),
        ({"channel_order": "GBR"}, "channel_order must be 'RGB' or 'BGR', got 'GBR'"),
        ({"scale": float("nan")}, "scale must be finite and > 0"),
        ({"scale": 0.0}, "scale must be finite and > 0"),
        ({"std": [1.0, 0.0, 1.0]}, "std finite and > 0"),
        ({"mean": [0.0, float("inf"), 0.0]}, "mean must be finite"),
    ):
        with pytest.raises(ValueError, match=match):
            _native.Preprocessor(**{**good, **change})
    # not bilinear: no native preprocessor, Preprocessing.apply is the path
    assert native_preprocessor(dataclasses.replace(CONTRACTS["rgb"], resize="area")) is None


def _frames(planes: int, n: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(planes)
    return [rng.integers(0, 256, (70 + 9 * i, 50 + 13 * i, planes), dtype=np.uint8) for i in range(n)]


@pytest.mark.parametrize("key", [("rgb", "RGB"), ("gray", "BGR"), ("gray1", "BGR")])
def test_ort_classify_frame_is_run_of_native_preprocessing(prep_nets, key) -> None:
    m = load_model(prep_nets[key], backend="onnxruntime")
    pre = native_preprocessor(m.prep)
    for seq, planes in (("BGR", 3), ("RGB", 3), ("GRAY", 1), ("RGBA", 4), ("BGRA", 4)):
        for img in _frames(planes):
            np.testing.assert_array_equal(m.classify_frame(img, seq), m.run(pre.run(img, seq))[0], err_msg=seq)
    # non-contiguous frames are made contiguous first; 2-D gray is (H, W, 1)
    img = _frames(3)[0]
    np.testing.assert_array_equal(m.classify_frame(img[:, ::2], "BGR"), m.classify_frame(img[:, ::2].copy(), "BGR"))
    gray = _frames(1)[0]
    np.testing.assert_array_equal(m.classify_frame(gray[:, :, 0], "GRAY"), m.classify_frame(gray, "GRAY"))
    # YUV / Bayer / 16-bit: OpenCV converts, the native code resizes and normalises
    luma = m.prep.color == "gray"
    from rtmaps_components.preprocess import frame_to_rgb8

    yuyv = np.random.default_rng(5).integers(0, 256, (60, 80, 2), dtype=np.uint8)
    conv = frame_to_rgb8(yuyv, "YUYV", luma_only=luma)
    want = m.run(pre.run(conv, "GRAY" if conv.shape[2] == 1 else "RGB"))[0]
    np.testing.assert_array_equal(m.classify_frame(yuyv, "YUYV"), want)
    mosaic = np.random.default_rng(6).integers(0, 256, (60, 80), dtype=np.uint8)
    rgb = cv2.cvtColor(mosaic, cv2.COLOR_BayerBG2RGB)
    np.testing.assert_array_equal(m.classify_frame(mosaic, "GRAY", "RGGB"), m.run(pre.run(rgb, "RGB"))[0])
    mono16 = np.random.default_rng(7).integers(0, 65536, (60, 80), dtype=np.uint16)
    m8 = ((mono16.astype(np.uint32) + 128) // 257).astype(np.uint8)
    np.testing.assert_array_equal(m.classify_frame(mono16, "GRAY"), m.run(pre.run(m8, "GRAY"))[0])
    # a bad frame is OpenCV's clear refusal, as before
    with pytest.raises(ValueError, match=r"a BGR image must have shape \(H, W, 3\)"):
        m.classify_frame(np.zeros((8, 8, 2), np.uint8), "BGR")


def test_both_backends_feed_the_same_input(prep_nets) -> None:
    # The native backend's one call and ONNX Runtime's session see the same tensor; their logits agree
    # to the engines' float tolerance.
    for key, path in prep_nets.items():
        ort_, nat = (load_model(path, backend=b) for b in ("onnxruntime", "native"))
        for img in _frames(3, 2):
            x = native_preprocessor(ort_.prep).run(img, "BGR")
            np.testing.assert_array_equal(x, nat._impl.preprocess(img, "BGR"))
            np.testing.assert_allclose(
                nat.classify_frame(img, "BGR"), ort_.classify_frame(img, "BGR"), atol=1e-3, err_msg=str(key)
            )


def test_without_the_native_module_ort_uses_preprocessing_apply(prep_nets, monkeypatch) -> None:
    from rtmaps_components import backends

    m = load_model(prep_nets[("rgb", "RGB")], backend="onnxruntime")
    monkeypatch.setattr(backends, "native_status", lambda: (False, "not built (test)"))
    opencv_only = load_model(prep_nets[("rgb", "RGB")], backend="onnxruntime")
    assert opencv_only._prep_native is None and m._prep_native is not None
    for img in _frames(3, 2):
        np.testing.assert_array_equal(opencv_only.classify_frame(img, "BGR"), m.classify(img, "BGR"))
    mosaic = np.random.default_rng(6).integers(0, 256, (60, 80), dtype=np.uint8)
    np.testing.assert_array_equal(
        opencv_only.classify_frame(mosaic, "GRAY", "RGGB"), m.run(m.prep.apply(mosaic, "GRAY", "RGGB"))[0]
    )
