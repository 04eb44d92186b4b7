"""Latency statistics with bounded memory: a rolling window and a whole-run log histogram.

A soak of millions of frames must not grow memory, so the whole-run percentiles come from a
fixed log-spaced histogram (1 % relative resolution) rather than from a list of every sample.
"""

from __future__ import annotations

import bisect
import itertools
import math

# The latency meter's `stats` output vector, in this order (latencies in µs).
STATS_FIELDS = ("p50_us", "p95_us", "p99_us", "max_us", "fps", "deadline_misses", "count")
_BINS_PER_DECADE = 230  # 10 ** (1 / 230) ~ 1.0101: 1 % relative bin width
_DECADES = 10  # 1 us .. 1e10 us (almost three hours)
_log10 = math.log10


class LatencyHistogram:
    """Whole-run distribution of non-negative values (µs) in fixed memory.

    `add` runs once per sample on the frame path (the meter's and the emulator's per-Core timing), so it
    is plain Python on a list: a numpy scalar update costs several times more than the arithmetic."""

    def __init__(self) -> None:
        self.counts = [0] * (_BINS_PER_DECADE * _DECADES + 1)
        self.n = 0
        self.total = 0.0
        self.max = 0.0
        self.min = math.inf

    def add(self, value: float) -> None:
        v = float(value)
        if not v > 0.0:  # negatives (and NaN) count as 0
            v = 0.0
        self.counts[self._bin(v)] += 1
        self.n += 1
        self.total += v
        if v > self.max:
            self.max = v
        if v < self.min:
            self.min = v

    @staticmethod
    def _bin(v: float) -> int:
        if v < 1.0:
            return 0
        return min(int(_log10(v) * _BINS_PER_DECADE) + 1, _BINS_PER_DECADE * _DECADES)

    def percentile(self, q: float) -> float:
        """Value at quantile q in [0, 100]; the bin's upper edge, clamped to the observed max."""
        if self.n == 0:
            return math.nan
        rank = max(1, math.ceil(q / 100.0 * self.n))
        b = bisect.bisect_left(list(itertools.accumulate(self.counts)), rank)
        upper = 1.0 if b == 0 else 10 ** (b / _BINS_PER_DECADE)
        return float(min(upper, self.max))

    def summary(self) -> dict:
        """count, mean, p50, p95, p99, max (µs); NaN-free for JSON when empty."""
        if self.n == 0:
            return {"count": 0}
        return {
            "count": self.n,
            "mean_us": self.total / self.n,
            "p50_us": self.percentile(50),
            "p95_us": self.percentile(95),
            "p99_us": self.percentile(99),
            "max_us": self.max,
        }


class RollingWindow:
    """The last `size` (arrival time, latency) pairs: live percentiles, max and frame rate on every frame.

    A ring of arrivals and latencies plus the window's latencies kept sorted (bisect: one insertion and
    one removal per sample, memmoves in C), so a percentile is an index, not a sort of the window."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window size must be >= 1, got {size}")
        self.size = size
        self._lat = [0.0] * size
        self._arr = [0] * size
        self._sorted: list[float] = []
        self._ranks: dict[tuple[int, tuple[float, ...]], list[int]] = {}  # (length, qs) -> indices
        self.n = 0  # samples ever added

    def add(self, arrival_us: int, latency_us: float) -> None:
        i = self.n % self.size
        lat = float(latency_us)
        if self.n >= self.size:  # the oldest sample leaves the window
            s = self._sorted
            del s[bisect.bisect_left(s, self._lat[i])]
        self._arr[i] = arrival_us
        self._lat[i] = lat
        bisect.insort(self._sorted, lat)
        self.n += 1

    def __len__(self) -> int:
        return min(self.n, self.size)

    def percentiles(self, qs: tuple[float, ...] = (50, 95, 99)) -> list[float]:
        """Nearest-rank percentiles of the window."""
        s = self._sorted
        k = len(s)
        if k == 0:
            return [math.nan] * len(qs)
        ranks = self._ranks.get((k, qs))
        if ranks is None:  # once per window length (a full window keeps one): this runs on every frame
            if len(self._ranks) > 4 * self.size:  # a caller asking for many different qs
                self._ranks.clear()
            ranks = self._ranks[(k, qs)] = [min(k - 1, max(0, math.ceil(q / 100.0 * k) - 1)) for q in qs]
        return [s[r] for r in ranks]

    def max(self) -> float:
        return self._sorted[-1] if self._sorted else math.nan

    def fps(self) -> float:
        """Arrivals per second over the window (0 until two samples span some time)."""
        k = len(self)
        if k < 2:
            return 0.0
        newest = self._arr[(self.n - 1) % self.size]
        oldest = self._arr[self.n % self.size] if self.n > self.size else self._arr[0]
        span = newest - oldest
        return (k - 1) * 1e6 / span if span > 0 else 0.0
