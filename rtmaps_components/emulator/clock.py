"""Engine clocks in microseconds from the start of the run: real (monotonic) or simulated.

The simulated clock only moves when the engine advances it to the next event (or a component
calls `rt.wait`), so a run is deterministic and a 10,000-frame soak takes no wall time waiting.
"""

from __future__ import annotations

import time


class RealClock:
    kind = "real"

    def __init__(self) -> None:
        self._t0 = time.perf_counter_ns()

    def now_us(self) -> int:
        return (time.perf_counter_ns() - self._t0) // 1000

    def wait_until(self, t_us: int) -> None:
        delay = (t_us - self.now_us()) / 1e6
        if delay > 0:
            time.sleep(delay)

    def advance_to(self, t_us: int, max_sleep_s: float = 0.05) -> None:
        """Sleep toward `t_us`, at most `max_sleep_s` so the engine can check its limits."""
        delay = (t_us - self.now_us()) / 1e6
        if delay > 0:
            time.sleep(min(delay, max_sleep_s))


class SimClock:
    kind = "sim"

    def __init__(self) -> None:
        self._now = 0

    def now_us(self) -> int:
        return self._now

    def wait_until(self, t_us: int) -> None:
        self._now = max(self._now, int(t_us))

    def advance_to(self, t_us: int, max_sleep_s: float = 0.0) -> None:
        self._now = max(self._now, int(t_us))

    def spend(self, us: int) -> None:
        self._now += max(0, int(us))


def make_clock(kind: str) -> RealClock | SimClock:
    if kind == "real":
        return RealClock()
    if kind == "sim":
        return SimClock()
    raise ValueError(f"clock must be 'real' or 'sim', got {kind!r}")
