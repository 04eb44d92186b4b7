"""Host RTMaps emulator: diagram parsing and refusals, reading policies, FIFOs, fault containment."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from pipeline_fixtures import NS, bridge, write_rtd

from rtmaps_components.emulator import DiagramError, DiagramRunner, load_rtd

SOURCE = """
import rtmaps.core as rt
import rtmaps.reading_policy
import rtmaps.types
from rtmaps.base_component import BaseComponent

class Counter(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
        self.force_reading_policy(rtmaps.reading_policy.SAMPLING)
    def Dynamic(self):
        self.add_output("out", rtmaps.types.INTEGER32)
        self.add_property("mode", "ok")
    def Birth(self):
        self.n = 0
        self.mode = self.properties["mode"].data
    def Core(self):
        self.n += 1
        if (self.mode == "late" and self.n <= 5) or self.mode == "silent" or (self.mode == "five" and self.n > 5):
            return
        if self.mode == "undeclared":
            self.write("nope", 1)
        elif self.mode == "raise" and self.n % 2 == 0:
            raise RuntimeError("boom")
        elif self.mode == "broken_frame" and self.n % 2 == 0:
            img = rtmaps.types.IplImage()
            img.image_data = [1, 2, 3]
            self.outputs["out"].write(img)
            return
        self.outputs["out"].write(self.n)
"""

SINK = """
import rtmaps.core as rt
import rtmaps.types
from rtmaps.base_component import BaseComponent

class Sink(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
    def Dynamic(self):
        self.add_input("a", rtmaps.types.INTEGER32)
        self.add_input("b", rtmaps.types.INTEGER32)
    def Birth(self):
        self.seen = []
    def Core(self):
        a = self.inputs["a"].ioelt.data
        try:
            b = self.inputs["b"].ioelt.data
        except LookupError:
            b = None
        self.seen.append((rt.current_time(), self.input_that_answered, a, b))
"""


def diagram(tmp: Path, body: str, connections: list[tuple[str, str]] = (), name: str = "d.rtd") -> Path:
    (tmp / "source.py").write_text(SOURCE)
    (tmp / "sink.py").write_text(SINK)
    return write_rtd(tmp / name, body, connections)


def run_sink(path: Path, **kw) -> tuple[dict, list]:
    """Run a diagram with a Sink in the simulated clock; returns the report and what the sink saw."""
    eng = DiagramRunner(path, clock="sim", echo=False)
    rep = eng.run(idle_stop_s=0, **kw)
    return rep, eng.nodes["Sink"].obj.seen


def two_sources(tmp: Path, sink_policy: int, period_a: int = 1000, period_b: int = 3000, **kw) -> Path:
    body = (
        bridge("A", "source.py", "Counter", period=period_a, outputs={"out": kw.get("fifo", 16)})
        + bridge("B", "source.py", "Counter", period=period_b)
        + bridge("Sink", "sink.py", "Sink", policy=sink_policy)
    )
    return diagram(tmp, body, [("A.out", "Sink.a"), ("B.out", "Sink.b")])


# ---------------------------------------------------------------- parsing and refusals
def test_rejects_entity_expansion(tmp_path):
    bomb = tmp_path / "bomb.rtd"
    bomb.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        f'<RTMapsDiagram {NS}><Component InstanceName="&lol2;" Model="X"/></RTMapsDiagram>'
    )
    with pytest.raises(DiagramError, match="DTD"):
        load_rtd(bomb)


@pytest.mark.parametrize(
    "text, match",
    [
        ("<RTMapsDiagram><Component", "not well-formed"),
        (f"<Other {NS}/>", "root element"),
        (f'<RTMapsDiagram {NS}><Connection Output="A.x" Input="B.y"/></RTMapsDiagram>', "does not define"),
        (
            f'<RTMapsDiagram {NS}><Component InstanceName="A" Model="PythonBridge"/>'
            f'<Component InstanceName="A" Model="PythonBridge"/></RTMapsDiagram>',
            "two components",
        ),
    ],
)
def test_malformed_diagrams_are_refused(tmp_path, text, match):
    p = tmp_path / "bad.rtd"
    p.write_text(text)
    with pytest.raises(DiagramError, match=match):
        load_rtd(p)


def test_missing_diagram_file(tmp_path):
    with pytest.raises(DiagramError, match="cannot read"):
        load_rtd(tmp_path / "nope.rtd")


@pytest.mark.parametrize(
    "body, conns, match",
    [
        (bridge("A", "missing.py", "Counter"), [], r"A: pythonFilename .*missing.py does not exist"),
        (bridge("A", "source.py", "NoSuchClass"), [], "A: source.py has no class 'NoSuchClass'"),
        (bridge("A", "source.py", "Counter", props={"speed": "3"}), [], "A: unknown property 'speed'"),
        (
            bridge("A", "source.py", "Counter") + bridge("S", "sink.py", "Sink"),
            [("A.nope", "S.a")],
            "A has no output 'nope'",
        ),
        (
            bridge("A", "source.py", "Counter") + bridge("S", "sink.py", "Sink"),
            [("A.out", "S.zz")],
            "S has no input 'zz'",
        ),
        (bridge("S", "sink.py", "Sink", policy=0), [], "S: reading policy 'Synchro' is not emulated"),
        ('<Component InstanceName="P" Model="Player" Version="1" x="0" y="0" z="0"/>', [], "'Player' .*not emulated"),
    ],
)
def test_engine_refuses_what_rtmaps_refuses(tmp_path, body, conns, match):
    with pytest.raises(DiagramError, match=match):
        DiagramRunner(diagram(tmp_path, body, conns), clock="sim", echo=False).load()


def test_type_mismatch_is_refused(tmp_path):
    viewer = '<Component InstanceName="V" Model="ImageViewer" Version="1" x="0" y="0" z="0"/>'
    (tmp_path / "img.py").write_text(SOURCE.replace("rtmaps.types.INTEGER32", "rtmaps.types.IPL_IMAGE"))
    body = bridge("A", "img.py", "Counter") + bridge("S", "sink.py", "Sink") + viewer
    with pytest.raises(DiagramError, match="IPL_IMAGE does not fit input type INTEGER32"):
        DiagramRunner(diagram(tmp_path, body, [("A.out", "S.a")]), clock="sim", echo=False).load()
    # an ANY input (the viewer stand-in) takes it
    DiagramRunner(diagram(tmp_path, body, [("A.out", "V.input")]), clock="sim", echo=False).load()


def test_override_of_unknown_instance_or_property(tmp_path):
    d = diagram(tmp_path, bridge("A", "source.py", "Counter"))
    with pytest.raises(DiagramError, match="no component 'Z'"):
        DiagramRunner(d, clock="sim", overrides=["Z.mode=x"], echo=False).load()
    with pytest.raises(DiagramError, match="unknown property 'nope'"):
        DiagramRunner(d, clock="sim", overrides=["A.nope=1"], echo=False).load()


def test_sdk_is_not_left_importable(tmp_path):
    d = diagram(tmp_path, bridge("A", "source.py", "Counter", period=1000))
    DiagramRunner(d, clock="sim", echo=False).run(frames=3)
    assert "rtmaps" not in sys.modules or not sys.modules["rtmaps"].__name__.startswith("rtmaps_components")


# ---------------------------------------------------------------- reading policies
def test_sampling_period_and_reactive(tmp_path):
    rep, seen = run_sink(two_sources(tmp_path, sink_policy=1), duration_s=0.0095)
    assert rep["components"]["A"]["cores"] == 10  # t = 0, 1, ..., 9 ms
    assert rep["components"]["B"]["cores"] == 4  # t = 0, 3, 6, 9 ms
    assert len(seen) == 14  # reactive: one Core per sample of any input
    assert {s[1] for s in seen} == {0, 1}
    assert [t for t, *_ in seen] == sorted(t for t, *_ in seen)


def test_triggered_by_first_input(tmp_path):
    _, seen = run_sink(two_sources(tmp_path, sink_policy=3), duration_s=0.0095)
    assert len(seen) == 10 and {s[1] for s in seen} == {0}  # only input 0 triggers
    assert [s[2] for s in seen] == list(range(1, 11))
    # input b is read at its last value; A ticks before B at equal times (diagram order), so at
    # t=0 b is still empty and at t=3 ms it still holds B's sample from t=0
    assert [s[3] for s in seen] == [None, 1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_sampling_consumer_reads_latest(tmp_path):
    body = (
        bridge("A", "source.py", "Counter", period=1000)
        + bridge("B", "source.py", "Counter", period=1000)
        + bridge("Sink", "sink.py", "Sink", policy=2, period=4000)
    )
    d = diagram(tmp_path, body, [("A.out", "Sink.a"), ("B.out", "Sink.b")])
    _, seen = run_sink(d, duration_s=0.0125)
    # the first tick (t=0) finds no sample yet (the sink raises, counted); a consumer runs before the
    # sources that tick at the same time, so at t=4 ms it reads A's sample from t=3 ms (the 4th)
    assert [t for t, *_ in seen] == [4000, 8000, 12000]
    assert [s[2] for s in seen] == [4, 8, 12]


WAIT_ALL = {"inputsBehavior": "2|1|AllowEmptyInputs|Wait4AllInputs"}


def test_wait_for_all_inputs_holds_core_until_every_input_has_a_sample(tmp_path):
    body = (
        bridge("A", "source.py", "Counter", period=1000)
        + bridge("B", "source.py", "Counter", period=1000, props={"mode": "late"})
        + bridge("Sink", "sink.py", "Sink", policy=1, props=WAIT_ALL)
    )
    rep, seen = run_sink(diagram(tmp_path, body, [("A.out", "Sink.a"), ("B.out", "Sink.b")]), duration_s=0.0095)
    assert seen and seen[0][0] == 5000 and all(s[3] is not None for s in seen)
    assert rep["components"]["Sink"]["exceptions"] == 0


def test_samples_held_by_wait_for_all_inputs_do_not_keep_an_idle_diagram_alive(tmp_path):
    body = (
        bridge("A", "source.py", "Counter", period=1000, props={"mode": "five"})
        + bridge("B", "source.py", "Counter", period=1000, props={"mode": "silent"})
        + bridge("Sink", "sink.py", "Sink", policy=1, props=WAIT_ALL)
    )
    d = diagram(tmp_path, body, [("A.out", "Sink.a"), ("B.out", "Sink.b")])
    rep = DiagramRunner(d, clock="sim", echo=False).run(idle_stop_s=0.5, max_wall_s=20)
    assert rep["stop_reason"] == "idle" and rep["components"]["Sink"]["cores"] == 0
    assert rep["components"]["Sink"]["inputs"]["a"]["pending"] == 5


def test_slow_consumer_bounded_fifo_counts_drops(tmp_path):
    d = two_sources(tmp_path, sink_policy=3, fifo=4)
    rep = DiagramRunner(d, clock="sim", core_cost_us={"Sink": 10_000}, echo=False).run(frames=1000, idle_stop_s=0)
    a = rep["components"]["Sink"]["inputs"]["a"]
    assert a["fifo_size"] == 4 and a["fifo_high_water"] == 4
    assert rep["components"]["A"]["cores"] >= 660  # --frames counts the frames of all sources (A: 3 of 4)
    assert (
        a["dropped"] > 0.8 * a["received"]
        and a["dropped"] + rep["components"]["Sink"]["cores"] + a["pending"] == a["received"]
    )
    assert rep["dropped"] >= a["dropped"]
    assert rep["stop_reason"] == "frames"


# ---------------------------------------------------------------- faults are contained
@pytest.mark.parametrize(
    "mode, match",
    [("raise", "RuntimeError: boom"), ("undeclared", "no output 'nope'"), ("broken_frame", "broken frame")],
)
def test_component_faults_are_counted_not_fatal(tmp_path, mode, match):
    d = diagram(tmp_path, bridge("A", "source.py", "Counter", period=1000, props={"mode": mode}))
    rep = DiagramRunner(d, clock="sim", echo=False).run(duration_s=0.0495, idle_stop_s=0)
    a = rep["components"]["A"]
    assert a["cores"] == 50 and a["exceptions"] == (50 if mode == "undeclared" else 25)
    assert any(match in m["message"] for m in rep["messages"] if m["level"] == "error")
    assert rep["stop_reason"] in ("duration", "frames")


def test_write_beyond_buffer_is_refused(tmp_path):
    (tmp_path / "vec.py").write_text(
        SOURCE.replace('self.outputs["out"].write(self.n)', 'self.outputs["out"].write([1, 2, 3])')
    )
    d = diagram(tmp_path, bridge("A", "vec.py", "Counter", period=1000))
    rep = DiagramRunner(d, clock="sim", echo=False).run(duration_s=0.0015, idle_stop_s=0)
    assert rep["components"]["A"]["exceptions"] == 2
    assert any("wrote 3 elements into a buffer of 1" in m["message"] for m in rep["messages"])


def test_idle_sources_end_the_run(tmp_path):
    script = SOURCE.replace("self.n += 1", "self.n += 1\n        if self.n > 5: return")
    (tmp_path / "five.py").write_text(script)
    d = diagram(tmp_path, bridge("A", "five.py", "Counter", period=1000))
    rep = DiagramRunner(d, clock="sim", echo=False).run(idle_stop_s=0.5)
    assert rep["stop_reason"] == "idle" and rep["frames"] == 5
    assert rep["engine_time_s"] == pytest.approx(0.504, abs=0.002)


def test_component_source_is_unchanged_rtmaps_code():
    """Component files import only the documented rtmaps modules and our runtime, never the emulator."""
    root = Path(__file__).resolve().parents[1] / "rtmaps_components"
    for name in ("camera_input.py", "classifier.py", "latency_meter.py", "accuracy_meter.py"):
        text = (root / name).read_text()
        assert "def Dynamic(self)" in text and "BaseComponent.__init__(self)" in text, name
        for line in textwrap.dedent(text).splitlines():
            if line.startswith(("import rtmaps.", "from rtmaps.", "import rtmaps ", "from rtmaps ")):
                mod = line.split()[1]
                assert mod in ("rtmaps.core", "rtmaps.types", "rtmaps.reading_policy", "rtmaps.base_component"), line


def test_studio_sections_and_read_only_properties_are_accepted(tmp_path):
    """What RTMaps Studio adds around components (engine/clock sections, read-only and hidden bridge
    properties, the board view) parses and runs."""
    text = diagram(tmp_path, bridge("A", "source.py", "Counter", period=1000)).read_text()
    extra_engine = (
        '<EngineProperties><Property LongName="Engine.startTimespeed" Type="1">1000</Property></EngineProperties>'
        '<ClocksManagement><Property LongName="ClocksManagement.activeClock" Type="4">'
        "<![CDATA[1|0|RTMaps_standard_clock]]></Property></ClocksManagement>"
    )
    extra_comp = (
        '<ReadOnlyProperty LongName="A.pythonPID" Type="1">25680</ReadOnlyProperty>'
        '<Property LongName="A.internalProperties" Type="3" SubType="128"><![CDATA[mode||13||ok]]></Property>'
        '<Property LongName="A.useNuitka" Type="0">false</Property></Component>'
    )
    text = (
        text.replace("<Component ", extra_engine + "<Component ", 1)
        .replace("</Component>", extra_comp, 1)
        .replace(
            "</RTMapsDiagram>",
            '<RTBoardView ID="JavaStudio1.0"><ComponentBox InstanceName="A" '
            'reversed="false"><Description/></ComponentBox></RTBoardView></RTMapsDiagram>',
        )
    )
    p = tmp_path / "studio.rtd"
    p.write_text(text)
    rep = DiagramRunner(p, clock="sim", echo=False).run(frames=5)
    assert rep["frames"] == 5 and rep["exceptions"] == 0


def test_real_clock_paces_sampling_components(tmp_path):
    d = diagram(tmp_path, bridge("A", "source.py", "Counter", period=20_000))
    eng = DiagramRunner(d, clock="real", echo=False)
    rep = eng.run(frames=10, max_wall_s=10)
    assert rep["frames"] == 10 and rep["clock"] == "real"
    assert 0.17 <= rep["engine_time_s"] <= 1.0  # nine 20 ms periods between ten frames, loaded machine
    assert 10 <= eng.source_fps() <= 51


def test_components_load_under_the_bridge_default_class_name(tmp_path):
    from pipeline_fixtures import COMPONENTS

    body = bridge("M", str(COMPONENTS / "latency_meter.py"), "rtmaps_python")
    eng = DiagramRunner(diagram(tmp_path, body), clock="sim", echo=False)
    eng.load()
    assert type(eng.nodes["M"].obj).__name__ == "LatencyMeter"


def test_windows_relative_paths_resolve(tmp_path):
    body = bridge("A", "source.py", "Counter", period=1000).replace(
        "%RTMAPS_DIAGRAMDIR%/source.py", "%RTMAPS_DIAGRAMDIR%\\source.py"
    )
    assert "\\source.py" in body
    eng = DiagramRunner(diagram(tmp_path, body), clock="sim", echo=False)
    eng.load()
    assert Path(eng.nodes["A"].script) == (tmp_path / "source.py").resolve()
