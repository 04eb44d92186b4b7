"""Write diagrams/classify_camera.rtd and diagrams/classify_replay.rtd as RTMaps Studio saves them.

Run `.venv/bin/python -m diagrams.write_diagrams` after changing a component's declarations; the .rtd
files are committed so RTMaps Studio on the vehicle needs nothing but them and the component files
(`--check` compares instead of writing; the tests run it).

One source of truth: the ports, port types, buffer sizes and properties written here are read from
the components themselves (their `Dynamic`, run by the host emulator with the diagram's property
values), including the `internalInputs` / `internalOutputs` / `internalProperties` cache (SubType 128)
that the PythonBridge keeps so that Studio knows a component's I/O before Python has run. The layout
of each element follows real saved diagrams; diagrams/README.md lists the evidence and what differs.
Paths are kept only in their relative form (%RTMAPS_DIAGRAMDIR%), as dSPACE's saved diagram does.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
COMPONENTS_REL = "%RTMAPS_DIAGRAMDIR%/../rtmaps_components"
BRIDGE_VERSION = "4.9.0"
HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<RTMapsDiagram version="4.8.0" EngineVersion="4.13" xmlns="http://schemas.intempora.com/RTMaps/2011/RTMapsFiles" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://schemas.intempora.com/RTMaps/2011/RTMapsFiles http://www.intempora.com/schemas/RTMaps/2011/RTMapsDiagram.xsd">
  <RequiredPackages>
    <File Version="4.9.0"><![CDATA[/opt/rtmaps/packages/rtmaps_python_bridge/rtmaps_python_bridge.pck]]><Relative><![CDATA[%RTMAPS_INSTDIR%/packages/rtmaps_python_bridge/rtmaps_python_bridge.pck]]></Relative></File>
  </RequiredPackages>
  <EngineProperties>
    <Property LongName="Engine.startTimespeed" Type="1">1000</Property>
    <Property LongName="Engine.startTime" Type="1">0</Property>
    <Property LongName="Engine.session" Type="3"><![CDATA[unspecified]]></Property>
    <Property LongName="Engine.recordingAtStart" Type="0">false</Property>
    <Property LongName="Engine.recording" Type="0">false</Property>
    <Property LongName="Engine.sequentialStart" Type="0">false</Property>
    <Property LongName="Engine.shutdownTimeout" Type="1">10000000</Property>
    <Property LongName="Engine.autoDetectStartTime" Type="0">true</Property>
    <Property LongName="Engine.coreFunctionsToSaveInDiag" Type="4"><![CDATA[0|-1]]></Property>
    <Property LongName="Engine.useUTCTimeReference" Type="0">false</Property>
    <Property LongName="Engine.fastForwardThreshold" Type="1">2000</Property>
    <Property LongName="Engine.fastRewindThreshold" Type="1">-2000</Property>
    <Property LongName="Engine.priorityClass" Type="4"><![CDATA[3|0|Shared Time|Preemptive|Auto]]></Property>
    <Property LongName="Engine.posixTimerThread" Type="4"><![CDATA[3|0|Auto|Timer Interval|Real Time Clock]]></Property>
    <Property LongName="Engine.posixRealTimeClockIrqFrequency" Type="4"><![CDATA[4|0|1024|2048|4096|8192]]></Property>
    <Property LongName="Engine.posixPreemptiveSchedulingPolicy" Type="4"><![CDATA[2|0|FIFO|Round Robin]]></Property>
    <Property LongName="Engine.windowsUsePerformanceCounter" Type="0">true</Property>
  </EngineProperties>
  <ClocksManagement>
    <Property LongName="ClocksManagement.activeClock" Type="4"><![CDATA[1|0|RTMaps_standard_clock]]></Property>
  </ClocksManagement>
"""
POLICIES = "5|{}|Synchro|Reactive|Sampling|Triggered by First Input|Periodic Resampling Based on Timestamps"
SAMPLING = 2

# The type codes of the bridge's internalInputs/internalOutputs cache, as seen in public saved diagrams
# next to the components' own declarations: AUTO 0 and ANY 1 (stt_example.rtd, novelty_detection_linux.rtd),
# FLOAT64 11 (test_phone_connection.rtd), STREAM8 12 (stt_example.rtd), IPL_IMAGE 18 and DRAWING_OBJECT 21
# (rtmaps_ikomia_yolopv2.rtd). No public file shows INTEGER32, FLOAT32 or TEXT_ASCII: those ports are cached
# as AUTO (0), which the bridge itself writes for AUTO ports; the component's Dynamic still declares the
# real type when Python runs (diagrams/README.md).
IO_TYPE_CODES = {"AUTO": 0, "ANY": 1, "FLOAT64": 11, "STREAM8": 12, "IPL_IMAGE": 18, "DRAWING_OBJECT": 21}
# internalProperties: name||code||value[||subtype], '#' between properties. bool 23 (0/1), int 8, float 11,
# text 13 with subtype 0, enum 13 with 'count|selected|labels' and subtype 24 (stt_example.rtd,
# test_phone_connection.rtd, rtmaps_ikomia_yolopv2.rtd). A FILE property is text with subtype 80, the
# SubType saved diagrams give file properties [inferred: no public cache holds a FILE property].
PROP_BOOL, PROP_INT, PROP_FLOAT, PROP_TEXT = 23, 8, 11, 13
SUB_TEXT, SUB_ENUM, SUB_FILE = 0, 24, 80


def _number(v: float) -> str:
    return f"{v:.15g}"


def prop(
    long_name: str,
    type_code: int,
    value: object,
    subtype: int | None = None,
    relative: str | None = None,
    tag: str = "Property",
) -> str:
    """One <Property>: Type 0 bool, 1 int, 2 float, 3 text, 4 enum; a file property keeps only its <Relative>."""
    st = f' SubType="{subtype}"' if subtype is not None else ""
    if relative is not None:
        body = f"<Relative><![CDATA[{relative}]]></Relative>"
    elif type_code in (3, 4):
        body = f"<![CDATA[{value}]]>"
    elif isinstance(value, bool):
        body = str(value).lower()
    else:
        body = _number(value) if isinstance(value, float) else str(value)
    return f'    <{tag} LongName={quoteattr(long_name)} Type="{type_code}"{st}>{body}</{tag}>\n'


def input_port(inst: str, name: str, reader_type: int = 0) -> str:
    return (
        f'    <Input LongName="{inst}.{name}" Name="{name}">\n'
        + "  "
        + prop(f"{inst}.{name}.readerType", 1, reader_type)
        + "  "
        + prop(f"{inst}.{name}.subsampling", 1, 1)
        + "    </Input>\n"
    )


def output_port(inst: str, name: str, fifo: int = 16) -> str:
    return (
        f'    <Output LongName="{inst}.{name}" Name="{name}">\n'
        + "  "
        + prop(f"{inst}.{name}.subsampling", 1, 1)
        + "  "
        + prop(f"{inst}.{name}.fifosize", 1, fifo)
        + "  "
        + prop(f"{inst}.{name}.periodic", 0, False)
        + "    </Output>\n"
    )


@dataclass
class Bridge:
    """A PythonBridge instance: its component file, class, reading policy and the values it sets."""

    inst: str
    xy: tuple[int, int]
    script: str
    cls: str
    policy: int
    values: dict[str, Any] = field(default_factory=dict)  # property -> value (a %RTMAPS_DIAGRAMDIR% path for files)
    period_us: int = 0
    fifo: dict[str, int] = field(default_factory=dict)  # output -> fifosize (16 otherwise)

    @property
    def script_rel(self) -> str:
        return f"{COMPONENTS_REL}/{self.script}"


def _value_text(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _skeleton(bridges: list[Bridge]) -> str:
    """Just enough of a diagram for the emulator to load each component and run its Dynamic."""
    body = ""
    for b in bridges:
        body += (
            f'<Component InstanceName="{b.inst}" Model="PythonBridge" Version="{BRIDGE_VERSION}" x="0" y="0" z="0">'
            + prop(f"{b.inst}.pythonFilename", 3, "", 80, b.script_rel)
            + prop(f"{b.inst}.className", 3, b.cls)
            + "".join(
                prop(f"{b.inst}.{k}", 3, _value_text(v))
                for k, v in b.values.items()
                if not str(v).startswith("%RTMAPS_DIAGRAMDIR%")
            )
            + "</Component>\n"
        )
    return HEADER + body + "</RTMapsDiagram>\n"


def declarations(bridges: list[Bridge], name: str) -> dict[str, Any]:
    """Instance -> the emulator's node after `Dynamic` ran with the diagram's values: declared I/O and properties."""
    from rtmaps_components.emulator.engine import DiagramRunner
    from rtmaps_components.emulator.rtd import parse_rtd_text

    engine = DiagramRunner(parse_rtd_text(_skeleton(bridges).encode(), HERE / name), clock="sim", echo=False)
    engine.load()
    return engine.nodes


def _type_name(t: Any) -> str:
    return getattr(t, "name", repr(t))


def _cached_value(b: Bridge, p: Any) -> tuple[int, str, int | None]:
    """(code, value text, subtype or None) of one declared property for internalProperties."""
    if p.kind == "enum":
        return PROP_TEXT, f"{len(p.labels)}|{p.data}|" + "|".join(p.labels), SUB_ENUM
    if p.kind == "bool":
        return PROP_BOOL, "1" if p.data else "0", None
    if p.kind == "int":
        return PROP_INT, str(p.data), None
    if p.kind == "float":
        return PROP_FLOAT, _number(p.data), None
    value = str(b.values.get(p.name, p.data))
    return PROP_TEXT, value, SUB_FILE if p.is_path else SUB_TEXT


def internal_cache(b: Bridge, node: Any) -> tuple[str, str, str]:
    """The bridge's internalInputs, internalOutputs and internalProperties strings for this node."""
    ins = "#".join(f"{n};{IO_TYPE_CODES.get(_type_name(i.type), 0)}==" for n, i in node.inputs.items())
    outs = "#".join(
        f"{n};{IO_TYPE_CODES.get(_type_name(o.type), 0)}==;{o.declared_buffer}" for n, o in node.outputs.items()
    )
    props = []
    for p in node.properties.values():
        code, value, sub = _cached_value(b, p)
        if "#" in value or "||" in value:
            raise ValueError(f"{b.inst}.{p.name}: {value!r} cannot be cached (holds '#' or '||')")
        props.append(f"{p.name}||{code}||{value}" + (f"||{sub}" if sub is not None else ""))
    return ins, outs, "#".join(props)


def user_property(b: Bridge, p: Any) -> str:
    long_name = f"{b.inst}.{p.name}"
    if p.kind == "enum":
        return prop(long_name, 4, f"{len(p.labels)}|{p.data}|" + "|".join(p.labels))
    if p.kind in ("bool", "int", "float"):
        return prop(long_name, {"bool": 0, "int": 1, "float": 2}[p.kind], p.data)
    value = str(b.values.get(p.name, p.data))
    if p.is_path:
        rel = value if value.startswith("%RTMAPS_DIAGRAMDIR%") else None
        return prop(long_name, 3, value, 80, rel)
    return prop(long_name, 3, value)


def python_bridge(b: Bridge, node: Any) -> str:
    s = f'  <Component InstanceName="{b.inst}" Model="PythonBridge" Version="{BRIDGE_VERSION}" x="{b.xy[0]}" y="{b.xy[1]}" z="0">\n'
    s += "".join(input_port(b.inst, n) for n in node.inputs)
    s += "".join(output_port(b.inst, n, b.fifo.get(n, 16)) for n in node.outputs)
    ins, outs, props = internal_cache(b, node)
    i = b.inst
    s += prop(f"{i}.guard_begin", 0, True, 128)
    s += prop(f"{i}.internalInputs", 3, ins, 128) + prop(f"{i}.internalOutputs", 3, outs, 128)
    s += prop(f"{i}.internalProperties", 3, props, 128)
    s += prop(
        f"{i}.deathBehavior",
        4,
        "3|1|WAIT FOR PROCESS INDEFINITELY|KILL PROCESS AFTER TIMEOUT (5sec)|START ANOTHER PROCESS",
    )
    s += prop(f"{i}.capturePythonPrint", 0, True) + prop(f"{i}.useTCPOnly", 0, False)
    s += prop(f"{i}.FileSHMSize", 1, 15000000) + prop(f"{i}.useNuitka", 0, False)
    s += prop(f"{i}.loadingTimeout", 1, 30000000) + prop(f"{i}.alwaysReloadAtStart", 0, False)
    s += prop(f"{i}.className", 3, b.cls) + prop(f"{i}.pythonExecutable", 3, "", 16)
    s += prop(f"{i}.pythonFilename", 3, "", 80, b.script_rel)
    s += prop(f"{i}.readingPolicy", 4, POLICIES.format(b.policy))
    # a Sampling bridge is saved with its period and no timeout (stt_example.rtd, test_phone_connection.rtd)
    s += prop(f"{i}.samplingPeriod", 1, b.period_us, 1) if b.policy == SAMPLING else prop(f"{i}.timeout", 1, -1, 1)
    s += prop(f"{i}.inputsBehavior", 4, "2|0|AllowEmptyInputs|Wait4AllInputs")
    s += "".join(user_property(b, p) for p in node.properties.values())
    s += prop(f"{i}.guard_end", 0, True, 128)
    s += prop(f"{i}.threaded", 0, True) + prop(f"{i}.priority", 1, 128) + prop(f"{i}.autoStart", 0, True)
    return s + "  </Component>\n"


def text_viewer(inst: str, xy: tuple[int, int]) -> str:
    """TextViewer as stt_example.rtd saves it (version 2.0.8, FIFO reader), with the properties we set."""
    s = f'  <Component InstanceName="{inst}" Model="TextViewer" Version="2.0.8" x="{xy[0]}" y="{xy[1]}" z="0">\n'
    s += input_port(inst, "input", 0)
    s += prop(f"{inst}.title", 3, inst)
    s += prop(f"{inst}.threaded", 0, True) + prop(f"{inst}.priority", 1, 128) + prop(f"{inst}.autoStart", 0, True)
    return s + "  </Component>\n"


def image_viewer(inst: str, xy: tuple[int, int]) -> str:
    """ImageViewer as the Linux dSPACE diagram saves it (7.10.4; every real ImageViewer input has readerType 2)."""
    s = f'  <Component InstanceName="{inst}" Model="ImageViewer" Version="7.10.4" x="{xy[0]}" y="{xy[1]}" z="0">\n'
    s += input_port(inst, "input", 2) + input_port(inst, "iDrawingObjects", 2)
    s += output_port(inst, "mouseClick") + output_port(inst, "keyPress")
    s += prop(f"{inst}.title", 3, inst) + prop(f"{inst}.autoResize", 0, True)
    s += prop(f"{inst}.threaded", 0, True) + prop(f"{inst}.priority", 1, 0) + prop(f"{inst}.autoStart", 0, True)
    return s + "  </Component>\n"


def connections(pairs: list[tuple[str, str]]) -> str:
    return "".join(f'  <Connection Output="{o}" Input="{i}"/>\n' for o, i in pairs)


MODEL = "%RTMAPS_DIAGRAMDIR%/../models/squeezenet1_1_fmnist_pruned.onnx"


def _classifier(annotate: bool) -> Bridge:
    return Bridge(
        "Classifier",
        (240, 32),
        "classifier.py",
        "Classifier",
        1,
        {"model_file": MODEL, "threads": 1, "top_k": 3, "annotate": annotate},
        fifo={"annotated": 4},
    )


def _camera(source: str, period_us: int) -> Bridge:
    return Bridge(
        "Camera",
        (40, 32),
        "camera_input.py",
        "CameraInput",
        SAMPLING,
        {"source": source},
        period_us=period_us,
        fifo={"image": 4},
    )


def _latency(deadline_us: int) -> Bridge:
    return Bridge("Latency", (440, 32), "latency_meter.py", "LatencyMeter", 1, {"deadline_us": deadline_us})


def camera_diagram() -> str:
    """The vehicle: live camera (device 0; an IP camera's MJPEG URL on the BlueBox) at 30 fps."""
    bridges = [
        _camera("0", 33333),
        _classifier(True),
        _latency(33333),
    ]
    nodes = declarations(bridges, "classify_camera.rtd")
    return (
        HEADER
        + "".join(python_bridge(b, nodes[b.inst]) for b in bridges)
        + text_viewer("LatencyView", (640, 32))
        + image_viewer("ImageView", (440, 160))
        + connections(
            [
                ("Camera.image", "Classifier.image"),
                ("Classifier.class_index", "Latency.in"),
                ("Latency.text", "LatencyView.input"),
                ("Classifier.annotated", "ImageView.input"),
            ]
        )
        + "</RTMapsDiagram>\n"
    )


def replay_diagram() -> str:
    """A recorded, labelled clip (image folder) replayed at 100 fps, with accuracy and latency."""
    bridges = [
        _camera("%RTMAPS_DIAGRAMDIR%/data/fmnist_clip", 10000),
        _classifier(False),
        _latency(100000),
        Bridge(
            "Accuracy",
            (440, 160),
            "accuracy_meter.py",
            "AccuracyMeter",
            1,
            {"labels_file": "%RTMAPS_DIAGRAMDIR%/data/fmnist_clip/labels.txt"},
        ),
    ]
    nodes = declarations(bridges, "classify_replay.rtd")
    return (
        HEADER
        + "".join(python_bridge(b, nodes[b.inst]) for b in bridges)
        + text_viewer("LatencyView", (640, 32))
        + text_viewer("AccuracyView", (640, 160))
        + connections(
            [
                ("Camera.image", "Classifier.image"),
                ("Classifier.class_index", "Latency.in"),
                ("Classifier.class_index", "Accuracy.class_index"),
                ("Latency.text", "LatencyView.input"),
                ("Accuracy.text", "AccuracyView.input"),
            ]
        )
        + "</RTMapsDiagram>\n"
    )


DIAGRAMS = {"classify_camera.rtd": camera_diagram, "classify_replay.rtd": replay_diagram}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = ap.parse_args(argv)
    stale = []
    for name, make in DIAGRAMS.items():
        text = make()
        path = HERE / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run `python -m diagrams.write_diagrams`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
