"""Write diagrams/classify_camera.rtd and diagrams/classify_replay.rtd as RTMaps Studio saves them.

Run `.venv/bin/python -m diagrams.write_diagrams` after changing a component's properties; the .rtd files
are committed so RTMaps Studio on the vehicle needs nothing but them and the component files.
Paths are relative to the diagram (%RTMAPS_DIAGRAMDIR%), so the repository can live anywhere.
"""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
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
    <Property LongName="Engine.shutdownTimeout" Type="1">10000000</Property>
  </EngineProperties>
"""
POLICIES = "5|{}|Synchro|Reactive|Sampling|Triggered by First Input|Periodic Resampling Based on Timestamps"


def prop(long_name: str, type_code: int, value: object, subtype: int | None = None, relative: str | None = None) -> str:
    st = f' SubType="{subtype}"' if subtype is not None else ""
    if type_code in (3, 4):
        body = f"<![CDATA[{value}]]>"
    else:
        body = str(value).lower() if isinstance(value, bool) else str(value)
    if relative is not None:
        body += f"<Relative><![CDATA[{relative}]]></Relative>"
    return f"    <Property LongName={quoteattr(long_name)} Type=\"{type_code}\"{st}>{body}</Property>\n"


def ports(inst: str, inputs: list[str], outputs: list[tuple[str, int]]) -> str:
    s = ""
    for name in inputs:
        s += f'    <Input LongName="{inst}.{name}" Name="{name}">\n'
        s += "  " + prop(f"{inst}.{name}.readerType", 1, 0) + "  " + prop(f"{inst}.{name}.subsampling", 1, 1)
        s += "    </Input>\n"
    for name, fifo in outputs:
        s += f'    <Output LongName="{inst}.{name}" Name="{name}">\n'
        s += ("  " + prop(f"{inst}.{name}.subsampling", 1, 1) + "  " + prop(f"{inst}.{name}.fifosize", 1, fifo)
              + "  " + prop(f"{inst}.{name}.periodic", 0, False))
        s += "    </Output>\n"
    return s


def python_bridge(inst: str, xy: tuple[int, int], script: str, cls: str, policy: int,
                  inputs: list[str], outputs: list[tuple[str, int]], user: list[str], period_us: int = 0) -> str:
    s = f'  <Component InstanceName="{inst}" Model="PythonBridge" Version="4.9.0" x="{xy[0]}" y="{xy[1]}" z="0">\n'
    s += ports(inst, inputs, outputs)
    s += prop(f"{inst}.guard_begin", 0, True, 128)
    s += prop(f"{inst}.deathBehavior", 4, "3|1|WAIT FOR PROCESS INDEFINITELY|KILL PROCESS AFTER TIMEOUT (5sec)|START ANOTHER PROCESS")
    s += prop(f"{inst}.capturePythonPrint", 0, True)
    s += prop(f"{inst}.loadingTimeout", 1, 30000000)
    s += prop(f"{inst}.className", 3, cls)
    s += prop(f"{inst}.pythonExecutable", 3, "", 16)
    s += prop(f"{inst}.pythonFilename", 3, f"/opt/bluefire/rtmaps_components/{script}", 80,
              f"%RTMAPS_DIAGRAMDIR%/../rtmaps_components/{script}")
    s += prop(f"{inst}.readingPolicy", 4, POLICIES.format(policy))
    if policy == 2:
        s += prop(f"{inst}.samplingPeriod", 1, period_us, 1)
    s += prop(f"{inst}.timeout", 1, -1, 1)
    s += prop(f"{inst}.inputsBehavior", 4, "2|0|AllowEmptyInputs|Wait4AllInputs")
    s += "".join(user)
    s += prop(f"{inst}.guard_end", 0, True, 128)
    s += prop(f"{inst}.threaded", 0, True) + prop(f"{inst}.priority", 1, 128) + prop(f"{inst}.autoStart", 0, True)
    return s + "  </Component>\n"


def viewer(inst: str, model: str, xy: tuple[int, int]) -> str:
    s = f'  <Component InstanceName="{inst}" Model="{model}" Version="2.0.8" x="{xy[0]}" y="{xy[1]}" z="0">\n'
    s += ports(inst, ["input"], [])
    s += prop(f"{inst}.title", 3, inst)
    s += prop(f"{inst}.threaded", 0, True) + prop(f"{inst}.priority", 1, 128) + prop(f"{inst}.autoStart", 0, True)
    return s + "  </Component>\n"


def file_prop(inst: str, name: str, rel: str) -> str:
    return prop(f"{inst}.{name}", 3, rel.replace("%RTMAPS_DIAGRAMDIR%", "/opt/bluefire/diagrams"), 80, rel)


def camera(source_rel: str | None, source_text: str, kind: int, loop: bool, period_us: int) -> str:
    user = [file_prop("Camera", "source", source_rel) if source_rel else prop("Camera.source", 3, source_text),
            prop("Camera.source_kind", 4, f"5|{kind}|auto|device|file|folder|stream"),
            prop("Camera.width", 1, 0), prop("Camera.height", 1, 0), prop("Camera.fps", 2, 0.0),
            prop("Camera.loop", 0, loop), prop("Camera.reconnect_min_us", 1, 200000),
            prop("Camera.reconnect_max_us", 1, 5000000), prop("Camera.timeout_ms", 1, 2000)]
    return python_bridge("Camera", (40, 32), "camera_input.py", "CameraInput", 2, [], [("image", 4)], user, period_us)


MODEL = "%RTMAPS_DIAGRAMDIR%/../models/squeezenet1_1_fmnist_pruned.onnx"


def classifier(annotate: bool) -> str:
    user = [file_prop("Classifier", "model_file", MODEL),
            prop("Classifier.backend", 4, "3|0|auto|native|onnxruntime"), prop("Classifier.threads", 1, 1),
            prop("Classifier.top_k", 1, 3), prop("Classifier.annotate", 0, annotate)]
    outs = [("class_index", 16), ("label", 16), ("scores", 16), ("topk", 16)] + ([("annotated", 4)] if annotate else [])
    return python_bridge("Classifier", (240, 32), "classifier.py", "Classifier", 1, ["image"], outs, user)


def latency(deadline_us: int) -> str:
    user = [prop("Latency.deadline_us", 1, deadline_us), prop("Latency.window", 1, 300), prop("Latency.csv_file", 3, "", 80)]
    return python_bridge("Latency", (440, 32), "latency_meter.py", "LatencyMeter", 1, ["in"],
                         [("stats", 16), ("text", 16)], user)


def connections(pairs: list[tuple[str, str]]) -> str:
    return "".join(f'  <Connection Output="{o}" Input="{i}"/>\n' for o, i in pairs)


def camera_diagram() -> str:
    """The vehicle: live camera (an IP camera's MJPEG stream on the BlueBox) at 30 fps."""
    return (HEADER + camera(None, "0", 0, False, 33333) + classifier(True) + latency(33333)
            + viewer("LatencyView", "TextViewer", (640, 32)) + viewer("ImageView", "ImageViewer", (440, 160))
            + connections([("Camera.image", "Classifier.image"), ("Classifier.class_index", "Latency.in"),
                           ("Latency.text", "LatencyView.input"), ("Classifier.annotated", "ImageView.input")])
            + "</RTMapsDiagram>\n")


def replay_diagram() -> str:
    """A recorded, labelled clip (image folder) replayed at 100 fps, with accuracy and latency."""
    acc = python_bridge("Accuracy", (440, 160), "accuracy_meter.py", "AccuracyMeter", 1, ["class_index"],
                        [("accuracy", 16), ("text", 16)],
                        [file_prop("Accuracy", "labels_file", "%RTMAPS_DIAGRAMDIR%/data/fmnist_clip/labels.txt")])
    return (HEADER + camera("%RTMAPS_DIAGRAMDIR%/data/fmnist_clip", "", 3, False, 10000) + classifier(False)
            + latency(100000) + acc + viewer("LatencyView", "TextViewer", (640, 32))
            + viewer("AccuracyView", "TextViewer", (640, 160))
            + connections([("Camera.image", "Classifier.image"), ("Classifier.class_index", "Latency.in"),
                           ("Classifier.class_index", "Accuracy.class_index"), ("Latency.text", "LatencyView.input"),
                           ("Accuracy.text", "AccuracyView.input")])
            + "</RTMapsDiagram>\n")


def main() -> None:
    (HERE / "classify_camera.rtd").write_text(camera_diagram())
    (HERE / "classify_replay.rtd").write_text(replay_diagram())


if __name__ == "__main__":
    main()
