"""rtmaps.base_component.BaseComponent: declarations, properties, inputs/outputs and writes.

Every call is forwarded to the emulator's binding for this instance, which enforces what RTMaps
enforces (declared names only, sized buffers, typed writes) and names the component in errors.
"""

from __future__ import annotations

from typing import Any

from rtmaps_components.emulator import context as _context


class BaseComponent:
    def __init__(self) -> None:
        binding = _context.binding
        if binding is None:
            raise RuntimeError(
                "BaseComponent: components are created by the RTMaps engine (`bluefire run`), not instantiated directly"
            )
        self._rtmaps_binding = binding
        self.inputs = binding.inputs
        self.outputs = binding.outputs
        self.properties = binding.properties
        self.input_that_answered = -1
        self.current_timestamp = 0
        binding.attach(self)

    # -- declarations (Dynamic) --
    def add_input(self, name: str, io_type: Any) -> None:
        self._rtmaps_binding.declare_input(name, io_type)

    def add_output(self, name: str, io_type: Any, buffer_size: int | None = None) -> None:
        self._rtmaps_binding.declare_output(name, io_type, buffer_size)

    def add_property(self, name: str, default: Any, subtype: Any = None, flags: Any = None) -> None:
        self._rtmaps_binding.declare_property(name, default, subtype, flags)

    def get_property(self, name: str) -> Any:
        return self._rtmaps_binding.properties[name].data

    def force_reading_policy(self, policy: int) -> None:
        self._rtmaps_binding.force_reading_policy(policy)

    # -- run time --
    def write(self, name: str, x: Any) -> None:
        self.outputs[name].write(x)

    # -- callbacks a component overrides --
    def Dynamic(self) -> None:
        pass

    def Birth(self) -> None:
        pass

    def Core(self) -> None:
        pass

    def Death(self) -> None:
        pass
