"""`bluefire` command line: one entry point, one module per subcommand, imported only when used.

Each subcommand module provides `add_arguments(parser)` and `main(args) -> int`. Imports are lazy
so that `bluefire run` works on a vehicle that has the runtime but not torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# name -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("training.train_cli", "train or transfer-learn a SqueezeNet on a data set (resumable)"),
    "evaluate": ("training.evaluate", "top-1, per-class accuracy and confusion matrix of a checkpoint or ONNX model"),
    "export": (
        "training.export_cli",
        "export a checkpoint to ONNX with its preprocessing, checked against ONNX Runtime",
    ),
    "prune": ("training.prune.cli", "Fire-aware filter pruning with iterative fine-tuning (resumable)"),
    "quantize": ("training.quantize", "post-training int8 quantization of an exported model to QDQ ONNX"),
    "bench": ("training.bench", "latency benchmark: native engine vs ONNX Runtime vs torch"),
    "run": ("rtmaps_components.emulator.cli", "run an RTMaps .rtd diagram in the host emulator"),
    "record": (
        "rtmaps_components.record",
        "record an image folder, video file or camera to a raw .y4m clip the camera replays without decoding",
    ),
}


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with `load`, only that subcommand's module is imported."""
    parser = argparse.ArgumentParser(
        prog="bluefire", description="Prune SqueezeNet and run it in real time on the NXP BlueBox 2.0 through RTMaps."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if load is None or load == name:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name = next((a for a in argv if not a.startswith("-")), None)
    if name not in COMMANDS:
        parser = build_parser(load="")  # help lists commands without importing them
        if name is not None:
            parser.error(f"unknown command {name!r}; choose from {', '.join(COMMANDS)}")
        parser.print_help()
        return 0 if argv else 2
    args = build_parser(load=name).parse_args(argv)
    try:
        return int(importlib.import_module(COMMANDS[name][0]).main(args) or 0)
    except BrokenPipeError:  # `bluefire evaluate ... | head`: the reader left; not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
