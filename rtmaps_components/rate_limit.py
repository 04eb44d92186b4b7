"""Rate-limited console messages for components: one report per key per interval, with a count of the rest.

A camera that loses its device, or a classifier fed an unsupported image format, would otherwise
print one warning per frame and bury the console.
"""

from __future__ import annotations

from collections.abc import Callable


class RateLimitedReporter:
    """`report(key, msg, now_us)` calls `sink` at most once per `interval_us` per key."""

    def __init__(self, sink: Callable[[str], None], interval_us: int = 5_000_000) -> None:
        self.sink = sink
        self.interval_us = interval_us
        self._last: dict[str, int] = {}
        self._suppressed: dict[str, int] = {}
        self.total: dict[str, int] = {}

    def report(self, key: str, msg: str, now_us: int) -> bool:
        self.total[key] = self.total.get(key, 0) + 1
        last = self._last.get(key)
        if last is not None and now_us - last < self.interval_us:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        skipped = self._suppressed.pop(key, 0)
        self._last[key] = now_us
        self.sink(msg + (f" ({skipped} similar message(s) suppressed)" if skipped else ""))
        return True
