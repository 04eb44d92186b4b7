"""The host RTMaps engine: load a diagram, wire it, run Dynamic/Birth/Core/Death, and report.

Scheduling is single-threaded and event-driven. Each component behaves like its own thread
under its reading policy: Sampling components tick every `samplingPeriod` µs, Reactive ones run
on every new sample, Triggered ones on every sample of input 0. Downstream components run
first, so a chain drains before its source produces again. With the simulated clock a
component can be given a service time (`core_cost_us`): it stays busy that long after each
Core, samples queue in its bounded FIFOs, and a full FIFO drops its oldest sample (counted).
A component that raises, or writes a broken frame, is counted and reported; the run goes on.
"""

from __future__ import annotations

import collections
import copy
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import context
from .bridge import PythonBridgeNode, apply_port_property
from .clock import make_clock
from .errors import DiagramError
from .node import Node
from .ports import LATEST_ONLY_READERS, Fifo, type_name, types_compatible
from .rtd import TYPE_INT, TYPE_STRING, Diagram, PortSpec, PropertySpec, load_rtd
from .sdk.rtmaps import reading_policy as RP
from .sdk_loader import sdk_modules
from .stand_ins import STAND_INS

MAX_TRACEBACKS = 3  # per component; later exceptions are counted and summarised
INPUT_ONLY_PORT_PROPERTIES = ("readerType",)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a service manager stopping the run): handled exactly like Ctrl-C."""


def parse_override(text: str) -> tuple[str, str, str]:
    """'Instance.property=value' (or 'Instance.port.property=value') -> (instance, name, value)."""
    if "=" not in text:
        raise DiagramError(f"--set {text!r}: expected Instance.property=value")
    key, value = text.split("=", 1)
    if "." not in key or key.startswith(".") or key.endswith("."):
        raise DiagramError(f"--set {text!r}: expected Instance.property=value")
    inst, name = key.split(".", 1)
    return inst.strip(), name.strip(), value


class DiagramRunner:
    """One run of one diagram on the host."""

    def __init__(
        self,
        diagram: Diagram | str | Path,
        clock: str = "real",
        overrides: Iterable[str] = (),
        core_cost_us: dict[str, int] | None = None,
        save_dir: str | None = None,
        echo: bool = True,
    ) -> None:
        # overrides are applied to a private copy: the caller's Diagram is never changed
        self.diagram = copy.deepcopy(diagram) if isinstance(diagram, Diagram) else load_rtd(diagram)
        self.clock = make_clock(clock)
        self.overrides = list(overrides)
        self.core_cost_us = dict(core_cost_us or {})
        if self.core_cost_us and clock != "sim":
            raise ValueError("core_cost_us (a modelled service time) needs the simulated clock")
        self.save_dir = save_dir
        self.echo = echo
        self.nodes: dict[str, Node] = {}
        self.order: list[Node] = []  # downstream first
        self.console_counts = collections.Counter()
        self.messages: collections.deque = collections.deque(maxlen=300)
        self.source_frames = 0
        self.first_source_write_us: int | None = None
        self.last_source_write_us = 0
        self._wrote: set[str] = set()
        self._echoed = 0
        self.loaded = False

    # ------------------------------------------------------------------ console
    def console(self, level: str, msg: str) -> None:
        """rt.report_info/warning/error and engine messages, tagged with the component."""
        binding = context.binding
        who = binding.name if binding is not None else "engine"
        self.console_counts[level] += 1
        if binding is not None and level == "error":
            binding.errors += 1
        self.messages.append({"t_us": self.clock.now_us(), "level": level, "component": who, "message": msg})
        if self.echo and self._echoed < 200:
            self._echoed += 1
            print(f"[{level}] {who}: {msg}", file=sys.stderr, flush=True)

    def on_write(self, port: Any) -> None:
        self._wrote.add(port.owner)

    def on_misc_dropped(self, port: Any) -> None:
        if port.misc_dropped == 1:
            self.console(
                "warning",
                f"{port.owner}.{port.name}: wrote misc1..3 without MiscFlag in Ioelt.type; "
                f"they do not travel (set out.type |= rt.DataTypes.CTypes.MiscFlag)",
            )

    # ------------------------------------------------------------------ loading
    def _apply_overrides(self) -> None:
        for text in self.overrides:
            inst, name, value = parse_override(text)
            comp = self.diagram.components.get(inst)
            if comp is None:
                raise DiagramError(
                    f"--set {text!r}: the diagram has no component {inst!r} "
                    f"(components: {', '.join(self.diagram.components)})"
                )
            port, _, prop = name.rpartition(".")  # port names may hold dots: the property is the last part
            if port:  # a port property: Instance.port.fifosize=4
                ports = comp.inputs if prop in INPUT_ONLY_PORT_PROPERTIES or port in comp.inputs else comp.outputs
                ports.setdefault(port, PortSpec(port)).properties[prop] = PropertySpec(
                    f"{port}.{prop}", TYPE_INT, value
                )
            else:
                comp.properties[name] = PropertySpec(name, TYPE_STRING, value)

    def load(self) -> None:
        """Instantiate every component, run Dynamic, apply properties and wire connections."""
        if self.loaded:
            return
        with sdk_modules():
            self._load()
        self.loaded = True

    def _load(self) -> None:
        with context.running(self):
            self._apply_overrides()
            name = self.diagram.path.name
            missing = [
                f"{c.model!r} (component {c.instance})"
                for c in self.diagram.components.values()
                if c.model != "PythonBridge" and c.model not in STAND_INS
            ]
            if missing:
                raise DiagramError(
                    f"{name}: model(s) {', '.join(missing)} not emulated on the host; the emulator runs "
                    f"PythonBridge and stand-ins for {', '.join(STAND_INS)}"
                )
            for spec in self.diagram.components.values():
                if spec.model == "PythonBridge":
                    node: Node = PythonBridgeNode(spec.instance, self)
                    node.load(spec, self.diagram)
                else:
                    node = STAND_INS[spec.model](spec.instance, self, spec.model)
                    node.declare_listed_inputs(spec.inputs)
                    for pname, pspec in spec.inputs.items():
                        if pname not in node.inputs:
                            raise DiagramError(f"{name}: {spec.instance}: {spec.model} has no input {pname!r}")
                        for k, p in pspec.properties.items():
                            apply_port_property(
                                node.inputs[pname], k.split(".")[-1], p.text, f"{name}: {spec.instance}.{pname}.{k}"
                            )
                node.check_policy()
                self.nodes[spec.instance] = node
            unknown = sorted(set(self.core_cost_us) - set(self.nodes))
            if unknown:
                raise DiagramError(f"{name}: service time given for unknown component(s) {', '.join(unknown)}")
            self._connect(name)
            for node in self.nodes.values():
                node.freeze_wiring()
            self.order = self._downstream_first()

    def _connect(self, name: str) -> None:
        for c in self.diagram.connections:
            src, dst = self.nodes[c.out_instance], self.nodes[c.in_instance]
            if c.out_port not in src.outputs:
                raise DiagramError(
                    f"{name}: connection {c}: {src.name} has no output {c.out_port!r} "
                    f"(outputs: {', '.join(src.outputs) or 'none'})"
                )
            if c.in_port not in dst.inputs:
                raise DiagramError(
                    f"{name}: connection {c}: {dst.name} has no input {c.in_port!r} "
                    f"(inputs: {', '.join(dst.inputs) or 'none'})"
                )
            out, inp = src.outputs[c.out_port], dst.inputs[c.in_port]
            if inp.connected:
                raise DiagramError(f"{name}: connection {c}: input {dst.name}.{inp.name} is already connected")
            if not types_compatible(out.type, inp.type):
                raise DiagramError(
                    f"{name}: connection {c}: output type {type_name(out.type)} does not fit "
                    f"input type {type_name(inp.type)}"
                )
            inp.fifo = Fifo(out.fifosize, latest_only=inp.reader_type in LATEST_ONLY_READERS)
            inp.connected = True
            out.targets.append(inp)

    def _downstream_first(self) -> list[Node]:
        depth = dict.fromkeys(self.nodes, 0)
        for _ in range(len(self.nodes)):  # longest path from a source (bounded for cycles)
            for c in self.diagram.connections:
                depth[c.in_instance] = max(depth[c.in_instance], min(depth[c.out_instance] + 1, len(self.nodes)))
        names = list(self.nodes)
        return [self.nodes[n] for n in sorted(names, key=lambda n: (-depth[n], names.index(n)))]

    # ------------------------------------------------------------------ running
    def _call(self, node: Node, phase: str, fn: Callable[[], None]) -> bool:
        """Run one callback; exceptions are counted and reported, never propagated."""
        try:
            fn()
            return True
        except SystemExit as e:  # sys.exit() in a component is that component's error, not the emulator's exit
            node.exceptions += 1
            self._engine_msg(
                "error",
                f"{node.name}.{phase} called sys.exit({e.code!r}): counted as that "
                f"component's exception; the run goes on",
            )
            return False
        except Exception as e:  # a component's bug must not take the run down
            node.exceptions += 1
            n = node.exceptions
            if n <= MAX_TRACEBACKS:
                tb = traceback.format_exc(limit=-3).strip()
                self._engine_msg("error", f"{node.name}.{phase} raised {type(e).__name__}: {e}\n{tb}")
            elif n % 100 == 0:
                self._engine_msg(
                    "error", f"{node.name}.{phase}: {n} exceptions so far (latest: {type(e).__name__}: {e})"
                )
            return False

    def _engine_msg(self, level: str, msg: str) -> None:
        with context.in_component(None):
            self.console(level, msg)

    def _core(self, node: Node) -> None:
        now = self.clock.now_us()
        node.take_inputs()
        self._wrote.discard(node.name)
        io0 = sum(o.write_ns for o in node.outputs.values())
        node.inner_core_ns = None
        t0 = time.perf_counter_ns()
        self._call(node, "Core", node.on_core)
        core_ns = time.perf_counter_ns() - t0
        node.core_hist.add(core_ns / 1000)
        # own: the component's Core (without the bridge's glue, when it measured it) less its write()s
        inner = core_ns if node.inner_core_ns is None else node.inner_core_ns
        node.own_hist.add((inner - (sum(o.write_ns for o in node.outputs.values()) - io0)) / 1000)
        node.cores += 1
        if self.clock.kind == "sim":
            node.busy_until = self.clock.now_us() + int(self.core_cost_us.get(node.name, 0))
        if node.policy == RP.SAMPLING:  #: next tick, skipping the ones missed while busy
            node.next_tick += node.sampling_period_us
            late = self.clock.now_us() - node.next_tick
            if late > 0:  # ticks that passed while this or another component ran: the produced rate fell
                node.ticks_missed += late // node.sampling_period_us + (1 if late % node.sampling_period_us else 0)
                node.next_tick = self.clock.now_us()
        if node.name in self._wrote and node.is_source:
            self.source_frames += 1
            self.last_source_write_us = now
            if self.first_source_write_us is None:
                self.first_source_write_us = now
        for hook in self.after_core:
            hook(self, node)

    def source_fps(self) -> float:
        """Frames per second the sources sent, first to last frame (0 with fewer than two)."""
        first = self.first_source_write_us
        if first is None or self.source_frames < 2 or self.last_source_write_us <= first:
            return 0.0
        return (self.source_frames - 1) * 1e6 / (self.last_source_write_us - first)

    def status(self) -> dict:
        return {
            "t_s": self.clock.now_us() / 1e6,
            "frames": self.source_frames,
            "source_fps": self.source_fps(),
            "cores": sum(n.cores for n in self.nodes.values()),
            "dropped": sum(i.fifo.dropped for n in self.nodes.values() for i in n.inputs.values()),
            "exceptions": sum(n.exceptions for n in self.nodes.values()),
            "errors": self.console_counts["error"],
            "warnings": self.console_counts["warning"],
        }

    def run(
        self,
        frames: int | None = None,
        duration_s: float | None = None,
        idle_stop_s: float = 2.0,
        max_wall_s: float | None = None,
        on_status: Callable[[dict], None] | None = None,
        status_every_s: float = 0.5,
        after_core: Iterable[Callable[[DiagramRunner, Node], None]] = (),
    ) -> dict:
        """Load (if needed), Birth, Core until a stop condition, Death; returns the run report."""
        self.after_core = list(after_core)
        wall0 = time.perf_counter()
        with sdk_modules():
            self.load()
            with context.running(self):
                try:
                    reason = self._birth_all()
                    if reason is None:
                        reason = self._loop(
                            frames, duration_s, idle_stop_s, max_wall_s, on_status, status_every_s, wall0
                        )
                except Terminated:
                    reason = "terminated"
                except KeyboardInterrupt:
                    reason = "interrupted"
                finally:  # Death runs whatever stopped the run (Ctrl-C, SIGTERM, a failed Birth)
                    self._death_all()
        return self.report(reason, time.perf_counter() - wall0)

    def _birth_all(self) -> str | None:
        for node in self.order:
            errors = self.console_counts["error"]
            ok = self._call(node, "Birth", node.on_birth)
            node.born = True
            if not ok or self.console_counts["error"] > errors:
                self._engine_msg("error", f"{node.name}: Birth failed; the diagram stops (Death is still called)")
                return "birth_error"
        start = self.clock.now_us()
        for node in self.nodes.values():
            node.next_tick = start
        self.last_source_write_us = start
        return None

    def _death_all(self) -> None:
        for node in self.order:
            if node.born:
                self._call(node, "Death", node.on_death)

    def _loop(
        self,
        frames: int | None,
        duration_s: float | None,
        idle_stop_s: float,
        max_wall_s: float | None,
        on_status: Callable[[dict], None] | None,
        status_every_s: float,
        wall0: float,
    ) -> str:
        end_us = None if duration_s is None else self.clock.now_us() + int(duration_s * 1e6)
        idle_us = int(idle_stop_s * 1e6)
        next_status = wall0 + status_every_s
        stop_reason: str | None = None
        has_sources = any(n.is_source for n in self.nodes.values())
        try:
            while True:
                now = self.clock.now_us()
                if stop_reason is None:
                    if frames is not None and self.source_frames >= frames:
                        stop_reason = "frames"
                    elif end_us is not None and now >= end_us:
                        stop_reason = "duration"
                    elif max_wall_s is not None and time.perf_counter() - wall0 > max_wall_s:
                        stop_reason = "max_wall"
                    elif (
                        idle_us > 0
                        and has_sources
                        and now - self.last_source_write_us >= idle_us
                        and not any(n.has_work() for n in self.nodes.values())
                    ):
                        stop_reason = "idle"
                if on_status is not None and time.perf_counter() >= next_status:
                    on_status(self.status())
                    next_status = time.perf_counter() + status_every_s
                stopping = stop_reason is not None
                node = next((n for n in self.order if n.busy_until <= now and n.wants_core(now, stopping)), None)
                if node is not None:
                    self._core(node)
                    continue
                t_next = self._next_event(stopping)
                if t_next is None or (stopping and not any(n.has_work() for n in self.nodes.values())):
                    return stop_reason or "finished"
                if stopping and max_wall_s is not None and time.perf_counter() - wall0 > max_wall_s:
                    return stop_reason
                self.clock.advance_to(t_next)
        except Terminated:
            return "terminated"
        except KeyboardInterrupt:
            return "interrupted"

    def _next_event(self, stopping: bool) -> int | None:
        now = self.clock.now_us()
        times = [n.busy_until for n in self.nodes.values() if n.has_work() and n.busy_until > now]
        if not stopping:
            times += [n.next_tick for n in self.nodes.values() if n.policy == RP.SAMPLING]
        return min(times) if times else None

    # ------------------------------------------------------------------ report
    def report(self, reason: str, wall_s: float) -> dict:
        rates = {}
        for n in self.nodes.values():  # Sampling components that could not keep their period
            if n.policy == RP.SAMPLING and n.ticks_missed:
                rates[n.name] = {
                    "period_us": n.sampling_period_us,
                    "ticks": n.cores,
                    "ticks_missed": n.ticks_missed,
                    "asked_hz": 1e6 / n.sampling_period_us,
                    "achieved_hz": (1e6 / n.sampling_period_us) * n.cores / (n.cores + n.ticks_missed),
                }
        return {
            "diagram": str(self.diagram.path),
            "clock": self.clock.kind,
            "stop_reason": reason,
            "wall_s": wall_s,
            "engine_time_s": self.clock.now_us() / 1e6,
            "rate_fell": rates,
            **self.status(),
            "components": {n.name: n.stats() for n in self.nodes.values()},
            "console": dict(self.console_counts),
            "messages": list(self.messages),
        }
