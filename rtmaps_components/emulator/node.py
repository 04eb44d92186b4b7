"""One emulated component instance: its ports, properties, reading policy and run counters.

Subclasses are the PythonBridge (a user's Python file) and host stand-ins for RTMaps' own
models; the engine only sees this interface.
"""

from __future__ import annotations

from typing import Any

from ..latency_stats import LatencyHistogram
from .errors import DiagramError
from .ports import InputPort, OutputPort, Property
from .sdk.rtmaps import reading_policy as RP

POLICY_NAMES = {
    RP.SYNCHRO: "Synchro",
    RP.REACTIVE: "Reactive",
    RP.SAMPLING: "Sampling",
    RP.TRIGGERED: "Triggered by First Input",
    RP.PERIODIC_RESAMPLING: "Periodic Resampling",
}
SUPPORTED_POLICIES = (RP.REACTIVE, RP.SAMPLING, RP.TRIGGERED)


class PortLookupError(KeyError):
    """KeyError (what RTMaps components catch) with a readable message naming component and port."""

    def __str__(self) -> str:
        return str(self.args[0])


class PortMap(dict):
    """name -> port or property; ports may also be indexed by declaration order (`self.outputs[0]`)."""

    def __init__(self, owner: str, kind: str) -> None:
        super().__init__()
        self.owner, self.kind = owner, kind

    # A name is found by dict's own lookup (components index ports on every Core); only a miss, i.e. an
    # index by declaration order or an unknown name, comes here.
    def __missing__(self, key: Any) -> Any:
        if isinstance(key, int) and not isinstance(key, bool) and self.kind != "property":
            values = list(self.values())
            if 0 <= key < len(values):
                return values[key]
        raise PortLookupError(f"{self.owner}: no {self.kind} {key!r} (declared: {', '.join(self) or 'none'})")


class Node:
    """Base of every emulated component."""

    model = "?"

    def __init__(self, name: str, engine: Any) -> None:
        self.name = name
        self.engine = engine
        self.inputs = PortMap(name, "input")
        self.outputs = PortMap(name, "output")
        self.properties = PortMap(name, "property")
        self.policy = RP.REACTIVE
        self.sampling_period_us = 1_000_000
        self.wait_all_inputs = False
        self.busy_until = 0
        self.next_tick = 0
        self.alive = True
        self.born = False
        self.cores = 0
        self.ticks_missed = 0  # Sampling ticks that passed while the component (or the host) was busy
        self.exceptions = 0
        self.errors = 0
        self.core_hist = LatencyHistogram()
        self.own_hist = LatencyHistogram()  # Core time minus the time spent in the emulator's write()
        self.inner_core_ns: int | None = None  # set by a node that times its component's Core itself
        self.input_that_answered = -1
        self._is_source: bool | None = None

    # -- declarations --
    def declare_input(self, name: str, io_type: Any) -> None:
        if name in self.inputs:
            return
        self.inputs[name] = InputPort(self.name, name, io_type, len(self.inputs))

    def declare_output(self, name: str, io_type: Any, buffer_size: int | None = None) -> None:
        if name in self.outputs:
            return
        port = OutputPort(self.name, name, io_type, buffer_size, self.engine.clock.now_us, self.engine.on_write)
        port.on_misc_dropped = self.engine.on_misc_dropped
        self.outputs[name] = port

    def declare_property(self, name: str, default: Any, subtype: Any = None, flags: Any = None) -> None:
        if name not in self.properties:
            self.properties[name] = Property(self.name, name, default, subtype, flags)

    # -- scheduling --
    @property
    def is_source(self) -> bool:
        """No connected input (cached once the engine has wired the diagram)."""
        if self._is_source is None:
            return not any(i.connected for i in self.inputs.values())
        return self._is_source

    def freeze_wiring(self) -> None:
        self._is_source = not any(i.connected for i in self.inputs.values())

    def check_policy(self) -> None:
        if self.policy not in SUPPORTED_POLICIES:
            name = POLICY_NAMES.get(self.policy, repr(self.policy))
            raise DiagramError(
                f"{self.name}: reading policy {name!r} is not emulated "
                f"(the emulator runs Reactive, Sampling and Triggered by First Input)"
            )
        if self.policy == RP.SAMPLING and self.sampling_period_us < 1:
            raise DiagramError(f"{self.name}: samplingPeriod must be >= 1 µs, got {self.sampling_period_us}")
        if self.policy == RP.TRIGGERED and not self.inputs:
            self.engine.console(
                "warning", f"{self.name}: reading policy 'Triggered by First Input' with no input: Core will never run"
            )

    def pending(self) -> bool:
        """Whether queued samples will trigger a Core by themselves (Sampling waits for its tick)."""
        if self.policy == RP.REACTIVE:
            return any(i.fifo.items for i in self.inputs.values())
        if self.policy == RP.TRIGGERED:
            first = next(iter(self.inputs.values()), None)
            return first is not None and bool(first.fifo.items)
        return False

    def has_work(self) -> bool:
        """Queued samples that will run Core (not ones held back by Wait4AllInputs forever)."""
        return self.pending() and (not self.wait_all_inputs or self._inputs_filled())

    def _inputs_filled(self) -> bool:
        return all(i.current is not None or len(i.fifo) for i in self.inputs.values() if i.connected)

    def wants_core(self, now: int, sources_stopped: bool) -> bool:
        """Whether the reading policy calls Core at `now` (the engine checks busy/alive first)."""
        if self.wait_all_inputs and not self._inputs_filled():
            return False
        if self.policy == RP.SAMPLING:
            return self.next_tick <= now and not (sources_stopped and self.is_source)
        return self.pending()

    def take_inputs(self) -> None:
        """Move samples from FIFOs to what `inputs[...].ioelt` returns in this Core, per policy."""
        ins = list(self.inputs.values())
        self.input_that_answered = -1
        if self.policy == RP.REACTIVE:
            waiting = [i for i in ins if len(i.fifo)]
            if waiting:
                first = min(waiting, key=lambda i: (i.fifo.items[0].ts, i.index))
                first.current = first.fifo.pop()
                self.input_that_answered = first.index
                if self.wait_all_inputs:  # every input must hold a sample when Core runs
                    for i in waiting:
                        if i.current is None:
                            i.current = i.fifo.pop()
            return
        for k, i in enumerate(ins):
            if not len(i.fifo):
                continue
            if self.policy == RP.TRIGGERED and k == 0:
                i.current = i.fifo.pop()
                self.input_that_answered = 0
            else:
                i.current = i.fifo.pop_latest()

    def current_ts(self) -> int:
        ins = list(self.inputs.values())
        if 0 <= self.input_that_answered < len(ins):
            return int(ins[self.input_that_answered].current.ts)
        return int(self.engine.clock.now_us())

    # -- lifecycle, overridden --
    def on_birth(self) -> None:
        pass

    def on_core(self) -> None:
        pass

    def on_death(self) -> None:
        pass

    def summary(self) -> dict:
        return {}

    def stats(self) -> dict:
        return {
            "model": self.model,
            "policy": POLICY_NAMES.get(self.policy, str(self.policy)),
            "cores": self.cores,
            "ticks_missed": self.ticks_missed,
            "exceptions": self.exceptions,
            "errors": self.errors,
            "core_time": self.core_hist.summary(),
            "own_time": self.own_hist.summary(),
            "inputs": {n: i.stats() for n, i in self.inputs.items()},
            "outputs": {n: o.stats() for n, o in self.outputs.items()},
            **self.summary(),
        }
