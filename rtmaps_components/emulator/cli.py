"""`bluefire run DIAGRAM.rtd`: run an RTMaps diagram on the host with the emulator (no torch needed)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from ..output_paths import check_output_path
from .engine import DiagramRunner, Terminated
from .errors import DiagramError
from .summary import format_summary, json_safe, summarize


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("diagram", type=Path, help="the .rtd file")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="Instance.property=value",
        help="override a property (repeatable); ports too: Instance.port.fifosize=4",
    )
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of engine time")
    stop.add_argument("--frames", type=int, metavar="N", help="stop after N frames from the source components")
    p.add_argument(
        "--idle-stop",
        type=float,
        default=2.0,
        metavar="S",
        help="stop when sources have sent nothing for S seconds and every FIFO is empty (0 = never)",
    )
    p.add_argument(
        "--clock",
        choices=("real", "sim"),
        default="real",
        help="real time, or a simulated clock that jumps to the next event (deterministic, fast)",
    )
    p.add_argument(
        "--cost",
        action="append",
        default=[],
        metavar="Instance=US",
        help="with --clock sim: model a component's service time per Core in µs (what-if: a slower CPU)",
    )
    p.add_argument("--report", type=Path, metavar="FILE.json", help="write the full run report as JSON")
    p.add_argument("--save-frames", metavar="DIR", help="ImageViewer stand-ins save what they receive as PNG here")
    p.add_argument("--quiet", action="store_true", help="no live status line, no component console echo")


def _status_printer(quiet: bool):
    tty = sys.stderr.isatty()

    def show(st: dict) -> None:
        if quiet:
            return
        line = (
            f"t={st['t_s']:7.2f}s frames={st['frames']:6d} dropped={st['dropped']} "
            f"exceptions={st['exceptions']} errors={st['errors']} warnings={st['warnings']}"
        )
        print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    return show


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the run lasts, SIGTERM (how a service manager stops it) stops it like Ctrl-C: Death, summary, report."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    prev = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, prev)


def _check_args(args: argparse.Namespace) -> str | None:
    """The first bad flag as a one-line message, before any work."""
    if args.frames is not None and args.frames < 1:
        return "--frames must be >= 1"
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        return f"--duration must be a finite number of seconds > 0, got {args.duration}"
    if not (math.isfinite(args.idle_stop) and args.idle_stop >= 0):
        return f"--idle-stop must be a finite number of seconds >= 0, got {args.idle_stop}"
    return None


def main(args: argparse.Namespace) -> int:
    bad = _check_args(args)
    if bad:
        print(f"error: {bad}", file=sys.stderr)
        return 2
    try:
        check_output_path(args.report, "--report")  # before the run, not after it
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        costs = {}
        for text in args.cost:
            name, _, us = text.partition("=")
            if not name or not us.strip().isdigit():
                raise DiagramError(f"--cost {text!r}: expected Instance=microseconds")
            costs[name] = int(us)
        if costs and args.clock != "sim":
            raise DiagramError("--cost models service times on the simulated clock: add --clock sim")
        engine = DiagramRunner(
            args.diagram,
            clock=args.clock,
            overrides=args.overrides,
            core_cost_us=costs,
            save_dir=args.save_frames,
            echo=not args.quiet,
        )
        with sigterm_as_interrupt():
            report = engine.run(
                frames=args.frames,
                duration_s=args.duration,
                idle_stop_s=args.idle_stop,
                on_status=_status_printer(args.quiet),
                status_every_s=0.5 if sys.stderr.isatty() else 5.0,
            )
    except DiagramError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if sys.stderr.isatty() and not args.quiet:
        print(file=sys.stderr)
    summary = summarize(report)
    if args.quiet:  # errors are echoed live otherwise; never hide why a run stopped
        for m in [m for m in report["messages"] if m["level"] == "error"][:5]:
            print(f"[error] {m['component']}: {m['message']}", file=sys.stderr)
    print(format_summary(summary))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(json_safe({"summary": summary, **report}), indent=1))
        print(f"report: {args.report}")
    # a failed Birth, or any component exception (raised, sys.exit, broken write), is a failed run
    return 1 if report["stop_reason"] == "birth_error" or report["exceptions"] else 0
