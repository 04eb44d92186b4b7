"""RTMaps fidelity: diagrams saved as RTMaps saves them, the camera formats RTMaps delivers, and an emulator
that accepts what real public components do (issue 12)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pipeline_fixtures as F
import pytest

from rtmaps_components.emulator import DiagramError, DiagramRunner, load_rtd
from rtmaps_components.preprocess import BAYER_PATTERNS, frame_to_rgb8

NSX = "{http://schemas.intempora.com/RTMaps/2011/RTMapsFiles}"


# ---------------------------------------------------------------- diagrams
def _props(path):
    root = ET.parse(path).getroot()
    return root, {p.get("LongName"): p for p in root.iter(f"{NSX}Property")}


def test_committed_diagrams_are_what_the_generator_writes_from_the_components():
    from diagrams import write_diagrams

    assert write_diagrams.main(["--check"]) == 0, "run python -m diagrams.write_diagrams"


@pytest.mark.parametrize("name", ["classify_camera.rtd", "classify_replay.rtd"])
def test_bridge_cache_matches_the_declared_io(name):
    """internalInputs/internalOutputs name exactly the ports Dynamic declares (Classifier.annotated included when
    annotate is on), every PythonBridge carries the three cache properties, SubType 128."""
    path = F.DIAGRAMS / name
    root, props = _props(path)
    eng = DiagramRunner(path, clock="sim", echo=False)
    eng.load()
    for comp in root.iter(f"{NSX}Component"):
        if comp.get("Model") != "PythonBridge":
            continue
        inst = comp.get("InstanceName")
        cache = {k: props[f"{inst}.{k}"] for k in ("internalInputs", "internalOutputs", "internalProperties")}
        assert all(p.get("SubType") == "128" and p.get("Type") == "3" for p in cache.values())
        node = eng.nodes[inst]
        ins = [e.split(";")[0] for e in (cache["internalInputs"].text or "").split("#") if e]
        outs = [e.split(";")[0] for e in (cache["internalOutputs"].text or "").split("#") if e]
        assert ins == list(node.inputs) and outs == list(node.outputs), inst
        cached_props = [e.split("||")[0] for e in (cache["internalProperties"].text or "").split("#") if e]
        assert cached_props == list(node.properties), inst
        # a Sampling bridge has its period and no timeout, the others a timeout (as real saved diagrams)
        sampling = "|2|" in props[f"{inst}.readingPolicy"].text[:4]
        assert (f"{inst}.samplingPeriod" in props) == sampling and (f"{inst}.timeout" in props) == (not sampling)
    if name == "classify_camera.rtd":
        assert "annotated;18==;0" in props["Classifier.internalOutputs"].text


@pytest.mark.parametrize("name", ["classify_camera.rtd", "classify_replay.rtd"])
def test_diagram_form_follows_real_saved_diagrams(name):
    path = F.DIAGRAMS / name
    text = path.read_text()
    root, props = _props(path)
    assert "/opt/bluefire" not in text  # no invented absolute path: file properties keep only <Relative>
    assert root.find(f"{NSX}ClocksManagement") is not None
    for p in props.values():
        if p.get("SubType") == "80" and p.find(f"{NSX}Relative") is not None:
            assert not (p.text or "").strip(), p.get("LongName")
    # Camera.source is declared a FILE property: saved with SubType 80, <Relative> only when it is a path
    src = props["Camera.source"]
    assert src.get("SubType") == "80"
    assert (src.find(f"{NSX}Relative") is not None) == (name == "classify_replay.rtd")
    for comp in root.iter(f"{NSX}Component"):
        if comp.get("Model") == "ImageViewer":
            assert comp.get("Version") == "7.10.4"
            assert props[f"{comp.get('InstanceName')}.input.readerType"].text == "2"


# ---------------------------------------------------------------- misc flag
MISC_SRC = """
import rtmaps.core as rt
import rtmaps.reading_policy
import rtmaps.types
from rtmaps.base_component import BaseComponent

class MiscSource(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
        self.force_reading_policy(rtmaps.reading_policy.SAMPLING)
    def Dynamic(self):
        self.add_output("out", rtmaps.types.INTEGER32)
        self.add_property("flag", True)
    def Birth(self):
        self.n = 0
    def Core(self):
        self.n += 1
        out = rtmaps.types.Ioelt()
        out.data = self.n
        out.misc1 = 100 + self.n
        if self.properties["flag"].data:
            out.type = rt.DataTypes.CTypes.Integer32 | rt.DataTypes.CTypes.MiscFlag
        self.outputs["out"].write(out)

class MiscSink(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
    def Dynamic(self):
        self.add_input("in", rtmaps.types.INTEGER32)
    def Birth(self):
        self.seen = []
    def Core(self):
        self.seen.append(self.inputs["in"].ioelt.misc1)
"""


@pytest.mark.parametrize("flag", [True, False])
def test_misc_fields_travel_only_with_the_misc_flag(tmp_path, flag):
    (tmp_path / "m.py").write_text(MISC_SRC)
    body = F.bridge("S", "m.py", "MiscSource", period=1000, props={"flag": str(flag).lower()}) + F.bridge(
        "K", "m.py", "MiscSink"
    )
    eng = DiagramRunner(F.write_rtd(tmp_path / "m.rtd", body, [("S.out", "K.in")]), clock="sim", echo=False)
    rep = eng.run(frames=3, idle_stop_s=0, max_wall_s=30)
    seen = eng.nodes["K"].obj.seen
    if flag:
        assert seen == [101, 102, 103]
    else:
        assert seen == [0, 0, 0]
        assert sum("without MiscFlag" in m["message"] for m in rep["messages"]) == 1


def test_shipped_components_set_the_misc_flag():
    for name in ("camera_input.py", "classifier.py", "accuracy_meter.py", "latency_meter.py"):
        text = (F.COMPONENTS / name).read_text()
        assert "MiscFlag" in text or "MISC_FLAG" in text, name


# ---------------------------------------------------------------- camera formats
def _yuv422(bgr, order):
    """Packed 4:2:2 from a BGR frame as a camera sends it: OpenCV's encoder (video-range Y, chroma of pixel
    pairs), the inverse of the conversion the runtime applies."""
    return cv2.cvtColor(bgr, {"YUYV": cv2.COLOR_BGR2YUV_YUYV, "UYVY": cv2.COLOR_BGR2YUV_UYVY}[order])


def convert_from_bgr(bgr, seq):
    """`bgr` as a camera delivering `seq` would send it."""
    if seq in ("UYVY", "YUYV"):
        return _yuv422(bgr, seq)
    if seq == "I420":
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    if seq == "NV12":
        i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
        h, w = bgr.shape[:2]
        u = i420[h : h + h // 4].reshape(-1)
        v = i420[h + h // 4 :].reshape(-1)
        uv = np.stack([u, v], axis=-1).reshape(h // 2, w)
        return np.concatenate([i420[:h], uv])
    if seq == "YUV":
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)
    if seq == "RGBA":
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA)
    if seq == "BGRA":
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    if seq == "MONO16":
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
    raise AssertionError(seq)


def _frames(n=16, size=32):
    """Real digits images, upsized and tinted (R, G, B differ) so that conversions are exercised."""
    _, _, x, _ = F.digits_data()
    g = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR) for im in x[:n]]).astype(np.float32)
    return np.clip(np.stack([g * 0.3 + 20, g * 0.6 + 10, g * 0.9], axis=-1), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seq", ["UYVY", "YUYV", "I420", "NV12", "YUV", "RGBA", "BGRA", "MONO16"])
def test_camera_formats_convert_exactly_and_classify_as_the_bgr_frame(seq):
    from rtmaps_components.backends import load_model

    frames = _frames()
    model = load_model(F.digits_model(), backend="onnxruntime")
    label = "GRAY" if seq == "MONO16" else seq
    for bgr in frames:
        rgb = frame_to_rgb8(convert_from_bgr(bgr, seq), label)
        ref = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if seq == "MONO16":
            np.testing.assert_array_equal(rgb[..., 0], cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        else:
            tol = {"RGBA": 0, "BGRA": 0, "YUV": 3, "UYVY": 16, "YUYV": 16}.get(seq, 40)  # chroma subsampling
            assert np.abs(rgb.astype(int) - ref).max() <= tol, seq
        top = int(model.classify(convert_from_bgr(bgr, seq), label).argmax())
        assert top == int(model.classify(bgr, "BGR").argmax()), seq


@pytest.mark.parametrize("seq", ["I420", "NV12", "UYVY", "YUYV"])
def test_a_gray_models_luma_of_yuv_is_what_the_rgb_conversion_gives(seq):
    """OpenCV writes and reads 4:2:0 and 4:2:2 Y as video range (16-235): the luma-only path must not feed that
    range to a gray model as if it were full range (a 1/200 top-1 change on the shipped clip sent as I420,
    before)."""
    for bgr in _frames(8):
        for frame in (bgr, cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)):
            yuv = convert_from_bgr(frame, seq)
            luma = frame_to_rgb8(yuv, seq, luma_only=True)
            via_rgb = cv2.cvtColor(frame_to_rgb8(yuv, seq), cv2.COLOR_RGB2GRAY)
            assert luma.shape == frame.shape[:2] + (1,) and luma.dtype == np.uint8
            err = np.abs(luma[:, :, 0].astype(int) - via_rgb).max()
            assert err <= (0 if frame is not bgr else 1), (seq, err)  # a colourless frame: exact


def _mosaic(bgr, pattern):
    """The raw sensor image of `bgr` behind a `pattern` colour filter array."""
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    idx = {"R": 0, "G": 1, "B": 2}
    raw = np.empty(bgr.shape[:2], np.uint8)
    for dy in (0, 1):
        for dx in (0, 1):
            raw[dy::2, dx::2] = rgb[dy::2, dx::2, idx[pattern[2 * dy + dx]]]
    return raw


@pytest.mark.parametrize("pattern", BAYER_PATTERNS[1:])
def test_bayer_pattern_demosaics_the_right_layout(pattern):
    smooth = cv2.GaussianBlur(_frames(4, 64)[2], (0, 0), 3)
    raw = _mosaic(smooth, pattern)
    ref = cv2.cvtColor(smooth, cv2.COLOR_BGR2RGB).astype(int)
    errs = {p: np.abs(frame_to_rgb8(raw, "GRAY", p).astype(int) - ref)[4:-4, 4:-4].mean() for p in BAYER_PATTERNS[1:]}
    assert min(errs, key=errs.get) == pattern and errs[pattern] < 3, errs


CAMERA_SRC = """
import numpy as np
import rtmaps.core as rt
import rtmaps.reading_policy
import rtmaps.types
from rtmaps.base_component import BaseComponent

class RawSource(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
        self.force_reading_policy(rtmaps.reading_policy.SAMPLING)
    def Dynamic(self):
        self.add_output("image", rtmaps.types.IPL_IMAGE, 0)
        self.add_property("frames", "")
        self.add_property("seq", "GRAY")
    def Birth(self):
        self.frames = np.load(self.properties["frames"].data)
        self.i = 0
    def Core(self):
        if self.i >= len(self.frames):
            return
        out = rtmaps.types.Ioelt()
        out.data = rtmaps.types.IplImage()
        out.data.image_data = self.frames[self.i]
        out.data.channel_seq = self.properties["seq"].data
        out.ts = rt.current_time()
        out.misc1 = self.i
        out.type = rt.DataTypes.CTypes.MiscFlag
        self.outputs["image"].write(out)
        self.i += 1
"""


def run_classifier(tmp_path, frames, seq, props=None):
    np.save(tmp_path / "frames.npy", frames)
    (tmp_path / "raw.py").write_text(CAMERA_SRC)
    body = F.bridge(
        "Src", "raw.py", "RawSource", period=1000, props={"frames": str(tmp_path / "frames.npy"), "seq": seq}
    ) + F.bridge(
        "Classifier",
        str(F.COMPONENTS / "classifier.py"),
        "Classifier",
        props={"model_file": str(F.digits_model()), "backend": "onnxruntime", **(props or {})},
    )
    eng = DiagramRunner(
        F.write_rtd(tmp_path / "c.rtd", body, [("Src.image", "Classifier.image")]), clock="sim", echo=False
    )
    got = {}

    def grab(engine, node):
        out = node.outputs.get("class_index") if node.name == "Classifier" else None
        if out is not None and out.last is not None:
            got[out.last.misc1] = int(out.last.data)

    rep = eng.run(idle_stop_s=0.05, after_core=[grab])
    return [got.get(i) for i in range(len(frames))], eng, rep


def test_classifier_component_demosaics_with_bayer_pattern(tmp_path):
    from rtmaps_components.backends import load_model

    frames = np.stack([cv2.GaussianBlur(f, (0, 0), 1) for f in _frames(8, 64)])
    model = load_model(F.digits_model(), backend="onnxruntime")
    want = [int(model.classify(f, "BGR").argmax()) for f in frames]
    raw = np.stack([_mosaic(f, "GRBG") for f in frames])
    got, eng, _ = run_classifier(tmp_path, raw, "GRAY", {"bayer_pattern": "GRBG"})
    assert got == want and eng.nodes["Classifier"].obj.refused == 0


def test_classifier_component_takes_yuv_and_mono16(tmp_path):
    from rtmaps_components.backends import load_model

    frames = _frames(6)
    model = load_model(F.digits_model(), backend="onnxruntime")
    want = [int(model.classify(f, "BGR").argmax()) for f in frames]
    for seq, label in (("UYVY", "UYVY"), ("MONO16", "GRAY"), ("I420", "I420")):
        got, _, rep = run_classifier(tmp_path, np.stack([convert_from_bgr(f, seq) for f in frames]), label)
        assert got == want, seq
        assert rep["exceptions"] == 0


def test_unsupported_format_is_refused_once_naming_the_format_and_the_converter(tmp_path):
    frames = np.zeros((5, 16, 16, 4), np.uint8)
    got, eng, rep = run_classifier(tmp_path, frames, "YUVA")
    assert got == [None] * 5 and eng.nodes["Classifier"].obj.refused == 5
    warnings = [m["message"] for m in rep["messages"] if m["level"] == "warning" and "refusing" in m["message"]]
    assert len(warnings) == 1 and "YUVA" in warnings[0] and "AnyColorSpaceConverter" in warnings[0]


# ---------------------------------------------------------------- emulator accepts what real components do
REAL_STYLE = """
import numpy as np
import rtmaps.core as rt
import rtmaps.reading_policy
import rtmaps.types
from rtmaps.base_component import BaseComponent

class Producer(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
        self.force_reading_policy(rtmaps.reading_policy.SAMPLING)
    def Dynamic(self):
        self.add_output("bytes", rtmaps.types.STREAM8, 0)
        self.add_output("img16", rtmaps.types.IPL_IMAGE, 0)
        self.add_output("vec", rtmaps.types.AUTO, 8)
        self.add_property("folder", "", rtmaps.types.PATH, rtmaps.types.MUST_EXIST)
    def Core(self):
        self.write("bytes", b"\\x01\\x02\\x03")
        img = rtmaps.types.IplImage()
        img.image_data = np.full((4, 4), 60000, np.uint16)
        img.channel_seq = "GRAY"
        self.write("img16", img)
        f = rtmaps.types.IplImage()
        f.image_data = np.ones((4, 4, 3), np.float32)
        f.channel_seq = "BGR"
        self.write("img16", f)
        self.write("vec", [1.5, 2.5])

class Consumer(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
    def Dynamic(self):
        self.add_input("bytes", rtmaps.types.STREAM8)
        self.add_input("vec", rtmaps.types.ANY)
    def Birth(self):
        self.got = []
    def Core(self):
        i = self.input_that_answered
        self.got.append(self.inputs[i].ioelt.data)
"""


def test_emulator_accepts_real_component_idioms(tmp_path):
    (tmp_path / "r.py").write_text(REAL_STYLE)
    extra = (
        '<Property LongName="P.logDebug" Type="0">false</Property>'
        '<Property LongName="P.showTracebackInConsole" Type="0">true</Property>'
        '<Property LongName="P.memorySize" Type="1">10000000</Property>'
    )
    body = (
        F.bridge("P", "r.py", "Producer", period=1000, props={"folder": str(tmp_path)}).replace(
            "</Component>", extra + "</Component>"
        )
        + F.bridge("C", "r.py", "Consumer")
        + '<Component InstanceName="V" Model="ImageViewer" Version="7.10.4" x="0" y="0" z="0">'
        '<Input LongName="V.input" Name="input"><Property LongName="V.input.readerType" Type="1">2</Property></Input>'
        '<Input LongName="V.iDrawingObjects" Name="iDrawingObjects"/></Component>'
        + '<Component InstanceName="D" Model="DataViewer" Version="2.0.15" x="0" y="0" z="0">'
        '<Input LongName="D.input_0" Name="input_0"><Property LongName="D.input_0.readerType" Type="1">4</Property>'
        "</Input></Component>"
    )
    d = F.write_rtd(
        tmp_path / "r.rtd",
        body,
        [("P.bytes", "C.bytes"), ("P.vec", "C.vec"), ("P.img16", "V.input"), ("P.vec", "D.input_0")],
    )
    eng = DiagramRunner(d, clock="sim", echo=False)
    rep = eng.run(frames=2, idle_stop_s=0, max_wall_s=30)
    assert rep["exceptions"] == 0 and rep["errors"] == 0, rep["messages"]
    got = eng.nodes["C"].obj.got
    assert any(isinstance(g, np.ndarray) and g.dtype == np.uint8 and g.tolist() == [1, 2, 3] for g in got)
    assert any(isinstance(g, np.ndarray) and g.tolist() == [1.5, 2.5] for g in got)
    assert rep["components"]["V"]["received"] >= 2 and rep["components"]["D"]["received"] >= 1
    # MUST_EXIST: a path that does not exist is refused by name
    with pytest.raises(DiagramError, match="'folder' must name an existing path"):
        DiagramRunner(d, clock="sim", overrides=[f"P.folder={tmp_path / 'nope'}"], echo=False).load()


@pytest.mark.parametrize(
    "where, code, match",
    [
        ("init", "raise ValueError('bad camera')", r"X: Thing.__init__ raised ValueError: bad camera"),
        ("dyn", "raise KeyError('k')", r"X: Thing.Dynamic raised KeyError"),
        ("dyn", "import sys; sys.exit(3)", r"X: Thing.Dynamic called sys.exit\(3\)"),
    ],
)
def test_component_raising_in_init_or_dynamic_is_a_one_line_error(tmp_path, where, code, match):
    init = code if where == "init" else "pass"
    dyn = code if where == "dyn" else "pass"
    (tmp_path / "t.py").write_text(
        "import rtmaps.types\nfrom rtmaps.base_component import BaseComponent\n"
        f"class Thing(BaseComponent):\n    def __init__(self):\n        BaseComponent.__init__(self)\n        {init}\n"
        f"    def Dynamic(self):\n        {dyn}\n"
    )
    with pytest.raises(DiagramError, match=match):
        DiagramRunner(F.write_rtd(tmp_path / "t.rtd", F.bridge("X", "t.py", "Thing")), clock="sim", echo=False).load()


def test_macro_component_is_reported_by_name(tmp_path):
    body = '<MacroComponent InstanceName="Videos_1" Model="Videos_3D_transform" x="0" y="0" z="0"/>' + F.bridge(
        "X", str(F.COMPONENTS / "latency_meter.py"), "LatencyMeter"
    )
    with pytest.raises(DiagramError, match=r"MacroComponent.*Videos_1 \(Videos_3D_transform\).*not supported"):
        load_rtd(F.write_rtd(tmp_path / "m.rtd", body))


def test_triggered_component_without_inputs_is_warned(tmp_path):
    (tmp_path / "t.py").write_text(
        "import rtmaps.types\nfrom rtmaps.base_component import BaseComponent\n"
        "class Thing(BaseComponent):\n    def __init__(self):\n        BaseComponent.__init__(self)\n"
        "    def Dynamic(self):\n        self.add_output('o', rtmaps.types.AUTO)\n"
    )
    eng = DiagramRunner(
        F.write_rtd(tmp_path / "t.rtd", F.bridge("X", "t.py", "Thing", policy=3)), clock="sim", echo=False
    )
    rep = eng.run(duration_s=0.01, idle_stop_s=0)
    assert any("Triggered by First Input' with no input" in m["message"] for m in rep["messages"])


def test_dotted_port_names_parse(tmp_path):
    body = (
        '<Component InstanceName="P" Model="PythonBridge" Version="4.9.0" x="0" y="0" z="0">'
        '<Output LongName="P.recording.output" Name="recording.output">'
        '<Property LongName="P.recording.output.fifosize" Type="1">32</Property></Output></Component>'
    )
    d = load_rtd(F.write_rtd(tmp_path / "p.rtd", body, [("P.recording.output", "P.recording.output")]))
    port = d.components["P"].outputs["recording.output"]
    assert set(port.properties) == {"fifosize"} and port.properties["fifosize"].text == "32"
    assert (d.connections[0].out_instance, d.connections[0].out_port) == ("P", "recording.output")


def test_overrides_do_not_change_the_callers_diagram(tmp_path):
    d = load_rtd(F.REPLAY)
    before = {k: dict(c.properties) for k, c in d.components.items()}
    DiagramRunner(d, clock="sim", overrides=["Camera.loop=true", "Camera.image.fifosize=2"], echo=False).load()
    assert {k: dict(c.properties) for k, c in d.components.items()} == before
    assert (
        "fifosize" not in d.components["Camera"].outputs.get("image", type("P", (), {"properties": {}})).properties
        or d.components["Camera"].outputs["image"].properties["fifosize"].text == "4"
    )


# ---------------------------------------------------------------- one native call on the frame as delivered
@pytest.mark.parametrize("seq", ["BGR", "RGB", "GRAY", "RGBA", "BGRA"])
def test_native_frame_call_matches_python_preprocessing(seq):
    F.native_or_skip()
    from rtmaps_components.backends import load_model

    nat = load_model(F.digits_model(), backend="native")
    bgr = _frames(8, 50)
    for f in bgr:
        frame = {
            "BGR": f,
            "RGB": cv2.cvtColor(f, cv2.COLOR_BGR2RGB),
            "GRAY": cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)[..., None],
            "RGBA": cv2.cvtColor(f, cv2.COLOR_BGR2RGBA),
            "BGRA": cv2.cvtColor(f, cv2.COLOR_BGR2BGRA),
        }[seq]
        one_call = nat.classify_frame(np.ascontiguousarray(frame), seq)
        python = nat.classify(frame, seq)
        # each resized value within one level of OpenCV's: logits agree closely, the class always
        np.testing.assert_allclose(one_call, python, rtol=0.05, atol=0.05 * np.abs(python).max())
        assert int(one_call.argmax()) == int(python.argmax())


def test_a_stale_bridge_cache_is_warned_about(tmp_path):
    text = F.REPLAY.read_text().replace(
        "class_index;0==;0#label;0==;128", "class_index;0==;0#old_port;0==;1#label;0==;128"
    )
    stale = F.DIAGRAMS / "stale_test_copy.rtd"  # beside the original: its relative paths must resolve
    try:
        stale.write_text(text)
        eng = DiagramRunner(stale, clock="sim", echo=False)
        eng.load()
        warned = [m["message"] for m in eng.messages if "internalOutputs cache" in m["message"]]
        assert len(warned) == 1 and "old_port" in warned[0] and "Classifier" in warned[0]
    finally:
        stale.unlink()
    fresh = DiagramRunner(F.REPLAY, clock="sim", echo=False)
    fresh.load()
    assert not [m for m in fresh.messages if "cache" in m["message"]]
