"""rtmaps.core: the clock (µs) and the console, backed by the emulator's running engine."""

from __future__ import annotations

from rtmaps_components.emulator import context as _context


def current_time() -> int:
    """Engine time in microseconds (0 when the diagram started)."""
    return int(_context.require_engine().clock.now_us())


def wait(t_us: int) -> None:
    """Block until absolute engine time `t_us` (µs); returns at once if it has passed."""
    _context.require_engine().clock.wait_until(int(t_us))


def report_info(msg: str) -> None:
    _context.require_engine().console("info", str(msg))


def report_warning(msg: str) -> None:
    _context.require_engine().console("warning", str(msg))


def report_error(msg: str) -> None:
    _context.require_engine().console("error", str(msg))


class DataTypes:
    class CTypes:
        Float32 = 0x0001
        Float64 = 0x0002
        Integer32 = 0x0004
        Integer64 = 0x0008
        FrequencyFlag = 0x0100
        MiscFlag = 0x0200
