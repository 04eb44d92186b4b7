"""Per-frame top-1 of the shipped replay diagram, as JSON on stdout (the x86 / aarch64 comparison).

    python -m tests.aarch64.top1 --backend native|onnxruntime [--diagram D.rtd]

(That the network inputs themselves are the same bytes on both ISAs is tests/aarch64/prep_hashes.py's check.)

Runs the diagram through the emulator's Python API (the same Engine `bluefire run` uses), recording the
class index the Classifier writes for each frame (misc1 = frame number) and the accuracy through the
pipeline. Uses whatever `rtmaps_components` is importable: the checkout on x86, the installed wheel
under qemu (tests/aarch64/stage.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from rtmaps_components.emulator import DiagramRunner
from rtmaps_components.emulator.summary import summarize

DIAGRAM = Path(__file__).resolve().parents[2] / "diagrams" / "classify_replay.rtd"


def top1(diagram: Path, backend: str) -> dict:
    frames: dict[int, int] = {}

    def grab(engine, node) -> None:
        if node.name == "Classifier":
            last = node.outputs["class_index"].last
            if last is not None:
                frames[int(last.misc1)] = int(last.data)

    eng = DiagramRunner(diagram, clock="sim", echo=False, overrides=[f"Classifier.backend={backend}"])
    rep = eng.run(after_core=[grab])
    acc = summarize(rep)["accuracy"] or {}
    # the Classifier's birth message names the backend it really loaded ("... on native (1 thread(s)) ...")
    birth = [m["message"] for m in rep["messages"] if m["component"] == "Classifier" and " on " in m["message"]]
    used = birth[0].split(" on ", 1)[1].split()[0] if birth else "?"
    script = str(getattr(eng.nodes.get("Classifier"), "script", "?"))  # the component file that ran
    return {
        "backend": used,
        "component_file": script,
        "where": f"{platform.machine()} python {platform.python_version()}",
        "frames": rep["frames"],
        "exceptions": rep["exceptions"],
        "top1": [frames[i] for i in sorted(frames)],
        "missing": rep["frames"] - len(frames),
        "correct": acc.get("correct"),
        "total": acc.get("total"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("native", "onnxruntime"), required=True)
    ap.add_argument("--diagram", type=Path, default=DIAGRAM)
    a = ap.parse_args(argv)
    json.dump(top1(a.diagram, a.backend), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
