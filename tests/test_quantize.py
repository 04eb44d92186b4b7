"""`bluefire quantize`: a QDQ int8 file that ONNX Runtime runs, with per-channel weights and calibration recorded."""

import json
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from rtmaps_components.model_meta import ModelMeta
from tests.native_fixtures import network
from training.data import load
from training.evaluate import preprocess_batch
from training.quantize import QUANT_KEY, QuantizeConfig, act_params, choose_upper, quantize, weight_params


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    d = tmp_path_factory.mktemp("quant")
    src = network(d / "net.onnx", "squeezenet1_1", 32, 10, pruned=True, seed=3, color="gray", planes=1)
    dst = d / "net_int8.onnx"
    record = quantize(
        src,
        dst,
        QuantizeConfig(data="digits", calib_images=64, samples_per_image=256, methods=("minmax", "mse")),
        log=lambda *_: None,
    )
    return src, dst, record


def test_file_is_qdq_with_per_channel_int8_weights(quantized):
    src, dst, record = quantized
    m = onnx.load(str(dst))
    ops = Counter(n.op_type for n in m.graph.node)
    assert ops["Conv"] == 26 and ops["QuantizeLinear"] > 26 and ops["DequantizeLinear"] > 3 * 26
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    f32 = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(src)).graph.initializer}
    for n in m.graph.node:
        if n.op_type == "DequantizeLinear" and n.input[0].endswith("weight_quantized"):
            q, s, z = (inits[i] for i in n.input)
            w = f32[n.input[0][: -len("_quantized")]]
            assert q.dtype == np.int8 and s.shape == (len(w),) and not z.any()
            assert {a.name: a.i for a in n.attribute}.get("axis") == 0
            assert np.abs(q).max() == 127 or not w.any()
            err = np.abs(q * s.reshape(-1, 1, 1, 1) - w) / s.reshape(-1, 1, 1, 1)
            assert err.max() <= 0.5 + 1e-4, f"{n.input[0]}: a weight is {err.max()} steps from its float value"


def test_metadata_kept_and_calibration_recorded(quantized):
    src, dst, record = quantized
    a = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
    b = {p.key: p.value for p in onnx.load(str(dst)).metadata_props}
    assert {k: b[k] for k in a} == a  # preprocessing, widths, arch untouched
    q = json.loads(b[QUANT_KEY])
    assert q["method"] in ("minmax", "mse") and set(q["candidates_val_top1"]) == {"minmax", "mse"}
    assert q["val_top1"] == max(q["candidates_val_top1"].values())
    assert q["calibration"]["split"] == "train" and q["calibration"]["images"] == 64


def test_ort_runs_it_close_to_float(quantized):
    src, dst, _ = quantized
    meta = ModelMeta.from_metadata({p.key: p.value for p in onnx.load(str(src)).metadata_props})
    x = preprocess_batch(meta.preprocessing, load("digits").val.images[:64], "GRAY")
    f = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    q = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    assert q.shape == f.shape
    assert np.abs(q - f).max() <= 0.1 * np.abs(f).max()


def test_refusals(quantized, tmp_path):
    src, dst, _ = quantized
    cfg = QuantizeConfig(data="digits", calib_images=8, methods=("minmax",))
    with pytest.raises(ValueError, match="already quantized"):
        quantize(dst, tmp_path / "x.onnx", cfg)
    with pytest.raises(ValueError, match="no such ONNX file"):
        quantize(tmp_path / "missing.onnx", tmp_path / "x.onnx", cfg)
    with pytest.raises(ValueError, match="unknown calibration method 'kl'"):
        quantize(src, tmp_path / "x.onnx", QuantizeConfig(data="digits", methods=("kl",)))
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(ValueError, match="bad.onnx"):
        quantize(tmp_path / "bad.onnx", tmp_path / "x.onnx", cfg)


def test_parameters():
    scale, zp = act_params(-0.8436, 2.108)
    assert 0 < zp < 255 and abs(-0.8436 - (0 - zp) * scale) <= scale  # both ends covered, 0 exact
    assert act_params(0.0, 6.0) == (pytest.approx(6.0 / 255, rel=1e-6), 0)
    w = np.array([[[[0.5, -1.0]]], [[[0.0, 0.0]]]], np.float32)
    q, s = weight_params(w)
    assert q.tolist() == [[[[64, -127]]], [[[0, 0]]]] and s[0] == pytest.approx(1 / 127)
    v = np.concatenate([np.zeros(1000), np.linspace(0, 1, 10000), [50.0]]).astype(np.float32)
    st = {"min": 0.0, "max": 50.0, "samples": v}
    assert choose_upper(st, "minmax") == 50.0
    assert choose_upper(st, "mse") < 50.0  # one outlier should not set the scale
    assert choose_upper(st, "percentile-99.99") < 50.0


def test_native_engine_runs_the_int8_file_like_onnx_runtime(quantized):
    """Every native variant gives the same bytes (integer kernels), and ONNX Runtime's: the engine
    requantizes as MLAS does (float product, round to even), so the logits differ only by the float
    average's summation order (an ulp), and the top-1 wherever it is not a tie."""
    from rtmaps_components import _native
    from rtmaps_components.backends import load_model

    src, dst, _ = quantized
    meta = ModelMeta.from_metadata({p.key: p.value for p in onnx.load(str(src)).metadata_props})
    x = preprocess_batch(meta.preprocessing, load("digits").test.images[:200], "GRAY")
    o = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    m = onnx.load(str(dst))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    mean = next(n for n in m.graph.node if n.op_type == "ReduceMean")
    step = float(inits[next(n for n in m.graph.node if n.output[0] == mean.input[0]).input[1]])
    outs = {}
    for v in _native.available_variants():
        eng = _native.Engine(str(dst), threads=1, variant=v)
        outs[v] = eng.run(x)
        assert np.array_equal(outs[v], _native.Engine(str(dst), threads=4, variant=v).run(x)), f"{v}: 1 vs 4 threads"
    ref = outs["ref"]
    for v, r in outs.items():
        assert np.array_equal(r, ref), f"{v} differs from the reference on the int8 model"
    assert np.abs(ref - o).max() <= 1e-5 * max(1.0, np.abs(o).max()), (
        f"native vs ONNX Runtime: {np.abs(ref - o).max() / step:.2g} quantization steps apart"
    )
    top2 = np.sort(o, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-4
    assert clear.mean() > 0.9 and (ref.argmax(1) == o.argmax(1))[clear].all()
    # the classifier component loads the int8 file on both backends
    for backend in ("native", "onnxruntime"):
        lm = load_model(str(dst), backend=backend)
        assert lm.run(x[:2]).shape == (2, 10)


def test_int8_check_runs_on_a_shipped_file():
    """`python -m training.int8_check` (models/reproduce.sh step 7) on a few test images: it must keep
    working as the runtime's loaders move (it once imported a helper that no longer existed)."""
    from pathlib import Path

    from pipeline_fixtures import native_or_skip

    native_or_skip()
    from training.int8_check import check

    r = check(Path(__file__).resolve().parents[1] / "models" / "squeezenet1_1_fmnist_pruned_int8.onnx", limit=40)
    assert r["images"] == 40 and r["variants"]
    for v in r["variants"].values():
        assert v["top1_differs_beyond_ties"] == 0 and v["max_steps"] < 1e-3
