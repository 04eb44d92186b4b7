"""The PythonBridge model: load a component file, instantiate its class, apply the diagram's properties.

What real RTMaps refuses is refused here with the component's name: a missing script or class,
a class that is not a BaseComponent, an unknown property, a port the component does not declare.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import time
from pathlib import Path
from typing import Any

from . import context
from .errors import DiagramError
from .node import Node
from .ports import FIFO_READER, NEXT_READER, SAMPLING_READER, parse_count
from .rtd import ComponentSpec, Diagram, PropertySpec
from .sdk.rtmaps import reading_policy as RP

DEFAULT_CLASS = "rtmaps_python"
# PythonBridge properties of its own; the ones without effect on the host are accepted and ignored.
BRIDGE_PROPERTIES = {
    "pythonFilename",
    "className",
    "pythonExecutable",
    "readingPolicy",
    "samplingPeriod",
    "inputsBehavior",
    "timeout",
}
IGNORED_BRIDGE_PROPERTIES = {
    "guard_begin",
    "guard_end",
    "internalInputs",
    "internalOutputs",
    "internalProperties",
    "deathBehavior",
    "capturePythonPrint",
    "useTCPOnly",
    "pythonPID",
    "FileSHMSize",
    "useNuitka",
    "loadingTimeout",
    "alwaysReloadAtStart",
    "threaded",
    "priority",
    "autoStart",
    "useVirtualEnvironment",
    # the 3.x bridge's own (dSPACE smart_tagging, NatGaoXing AMI_Project diagrams)
    "logDebug",
    "showTracebackInConsole",
    "autoReloadSubModules",
    "memorySize",
    "additionalEnvironmentVariables",
    "pythonInstallationFolder",
    "pythonLogDirectory",
}
INPUT_PORT_PROPERTIES = {"readerType", "subsampling"}
OUTPUT_PORT_PROPERTIES = {"fifosize", "subsampling", "periodic"}
_module_ids = itertools.count()


def _enum_selected(prop: PropertySpec, where: str) -> int:
    parts = prop.text.strip().split("|")
    try:
        return int(parts[1] if len(parts) > 1 else parts[0])
    except ValueError:
        raise DiagramError(
            f"{where}: expected an enum 'count|selected|labels' or an index, got {prop.text!r}"
        ) from None


def _int(prop: PropertySpec, where: str) -> int:
    return parse_count(prop.text, where, minimum=-(2**62))


class PythonBridgeNode(Node):
    """A user component run through the emulated PythonBridge."""

    model = "PythonBridge"

    def __init__(self, name: str, engine: Any) -> None:
        super().__init__(name, engine)
        self.obj: Any = None
        self.script = ""
        self.class_name = DEFAULT_CLASS
        self.forced_policy: int | None = None

    # -- called by BaseComponent --
    def attach(self, obj: Any) -> None:
        self.obj = obj

    def force_reading_policy(self, policy: int) -> None:
        self.forced_policy = int(policy)

    # -- loading --
    def load(self, spec: ComponentSpec, diagram: Diagram) -> None:
        where = f"{diagram.path.name}: {self.name}"
        if "pythonFilename" not in spec.properties:
            raise DiagramError(f"{where}: PythonBridge without a 'pythonFilename' property")
        self.script = diagram.resolve(spec.properties["pythonFilename"])
        if "className" in spec.properties:
            self.class_name = spec.properties["className"].text.strip() or DEFAULT_CLASS
        cls = self._load_class(where)
        self._declare(lambda: cls(), where, "__init__")
        if self.obj is None:
            raise DiagramError(f"{where}: {self.class_name}.__init__ must call BaseComponent.__init__(self)")
        self._declare(self.obj.Dynamic, where, "Dynamic")
        self._apply_bridge_properties(spec, where)
        changed = False
        for name, prop in spec.properties.items():
            if name in BRIDGE_PROPERTIES or name in IGNORED_BRIDGE_PROPERTIES:
                continue
            if name not in self.properties:
                raise DiagramError(
                    f"{where}: unknown property {name!r}; {self.class_name} declares "
                    f"{', '.join(self.properties) or 'no properties'}"
                )
            self.set_property(name, prop.text if not prop.relative else diagram.resolve(prop))
            changed = True
        if changed:  # Dynamic may declare I/O from property values: run it again, as RTMaps does
            self._declare(self.obj.Dynamic, where, "Dynamic")
        for prop in self.properties.values():
            if prop.must_exist and str(prop.data) and not Path(str(prop.data)).exists():
                raise DiagramError(
                    f"{where}: property {prop.name!r} must name an existing path, {prop.data!r} does not exist"
                )
        self._apply_port_properties(spec, where)
        self._check_cache(spec, where)

    def _check_cache(self, spec: ComponentSpec, where: str) -> None:
        """Studio knows a bridge's ports from its internalInputs/internalOutputs cache until Python runs: warn when
        the cache the diagram carries names other ports than the component declares (a stale diagram)."""
        for key, declared in (("internalInputs", self.inputs), ("internalOutputs", self.outputs)):
            if key not in spec.properties:
                continue
            cached = [e.split(";", 1)[0] for e in spec.properties[key].text.split("#") if e.strip()]
            if cached != list(declared):
                self.engine.console(
                    "warning",
                    f"{where}: the diagram's {key} cache lists {cached or 'none'}, "
                    f"{self.class_name} declares {list(declared) or 'none'}: re-save the "
                    f"diagram (python -m diagrams.write_diagrams for ours)",
                )

    def _declare(self, fn: Any, where: str, method: str) -> None:
        """Run __init__ or Dynamic: any exception (or sys.exit) is a one-line refusal naming the method."""
        try:
            self.call(fn)
        except DiagramError:
            raise
        except (Exception, SystemExit) as e:
            what = f"called sys.exit({e.code!r})" if isinstance(e, SystemExit) else f"raised {type(e).__name__}: {e}"
            raise DiagramError(f"{where}: {self.class_name}.{method} {what}") from e

    def set_property(self, name: str, text: str) -> None:
        prop = self.properties[name]
        prop.set_from_text(text)

    def _load_class(self, where: str) -> type:
        path = Path(self.script)
        if not path.is_file():
            raise DiagramError(f"{where}: pythonFilename {self.script} does not exist")
        mod_name = f"_bluefire_component_{self.name}_{next(_module_ids)}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise DiagramError(f"{where}: {path} cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.parent))  # as the bridge does: sibling modules import
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as e:
            what = f"called sys.exit({e.code!r})" if isinstance(e, SystemExit) else f"{type(e).__name__}: {e}"
            raise DiagramError(f"{where}: {path} failed to import: {what}") from e
        finally:
            try:
                sys.path.remove(str(path.parent))
            except ValueError:
                pass
        cls = getattr(module, self.class_name, None)
        if not isinstance(cls, type):
            raise DiagramError(f"{where}: {path.name} has no class {self.class_name!r} (property className)")
        from .sdk.rtmaps.base_component import BaseComponent

        if not issubclass(cls, BaseComponent):
            raise DiagramError(f"{where}: {self.class_name} must subclass rtmaps.base_component.BaseComponent")
        return cls

    def _apply_bridge_properties(self, spec: ComponentSpec, where: str) -> None:
        props = spec.properties
        policy = RP.REACTIVE
        if "readingPolicy" in props:
            policy = _enum_selected(props["readingPolicy"], f"{where}.readingPolicy")
        if "samplingPeriod" in props:
            self.sampling_period_us = _int(props["samplingPeriod"], f"{where}.samplingPeriod")
        if "inputsBehavior" in props:
            self.wait_all_inputs = _enum_selected(props["inputsBehavior"], f"{where}.inputsBehavior") == 1
        self.policy = self.forced_policy if self.forced_policy is not None else policy

    def _apply_port_properties(self, spec: ComponentSpec, where: str) -> None:
        for kind, ports, declared, allowed in (
            ("input", spec.inputs, self.inputs, INPUT_PORT_PROPERTIES),
            ("output", spec.outputs, self.outputs, OUTPUT_PORT_PROPERTIES),
        ):
            for pname, pspec in ports.items():
                if pname not in declared:
                    raise DiagramError(
                        f"{where}: the diagram lists {kind} {pname!r}, which {self.class_name} does not "
                        f"declare (declared: {', '.join(declared) or 'none'})"
                    )
                for prop_name, prop in pspec.properties.items():
                    if prop_name not in allowed:
                        raise DiagramError(f"{where}.{pname}: unknown {kind} property {prop_name!r}")
                    apply_port_property(declared[pname], prop_name, prop.text, f"{where}.{pname}.{prop_name}")

    # -- lifecycle --
    def call(self, fn: Any) -> Any:
        with context.in_component(self):
            return fn()

    def on_birth(self) -> None:
        self.call(self.obj.Birth)

    def on_core(self) -> None:
        self.obj.input_that_answered = self.input_that_answered
        self.obj.current_timestamp = self.current_ts()
        with context.in_component(self):
            t0 = time.perf_counter_ns()
            try:
                self.obj.Core()
            finally:  # the component's Core alone, without this glue (RTMaps' bridge is C++)
                self.inner_core_ns = time.perf_counter_ns() - t0

    def on_death(self) -> None:
        self.call(self.obj.Death)

    def summary(self) -> dict:
        return {"script": self.script, "class": self.class_name}


def apply_port_property(port: Any, name: str, text: str, where: str) -> None:
    """Set readerType/subsampling (inputs) or fifosize/subsampling/periodic (outputs) from text."""
    value = text.strip()
    if name == "periodic":
        if value.lower() not in ("true", "false", "1", "0"):
            raise DiagramError(f"{where}: expected true or false, got {text!r}")
        port.periodic = value.lower() in ("true", "1")
        return
    if name == "readerType":
        n = parse_count(value, where, minimum=0)
        if n not in (FIFO_READER, NEXT_READER, SAMPLING_READER):
            raise DiagramError(
                f"{where}: readerType {n} is not emulated (0 = FIFO reader, 2 = next-sample reader, "
                f"4 = sampling reader)"
            )
        port.reader_type = n
        return
    n = parse_count(value, where, minimum=1)
    if name == "fifosize":
        port.fifosize = n
    else:
        port.subsampling = n
