"""Latency statistics with bounded memory: a rolling window and a whole-run log histogram.

A soak of millions of frames must not grow memory, so the whole-run percentiles come from a
fixed log-spaced histogram (1 % relative resolution) rather than from a list of every sample.
"""

from __future__ import annotations

import math

import numpy as np

# The latency meter's `stats` output vector, in this order (latencies in µs).
STATS_FIELDS = ("p50_us", "p95_us", "p99_us", "max_us", "fps", "deadline_misses", "count")
_BINS_PER_DECADE = 230  # 10 ** (1 / 230) ~ 1.0101: 1 % relative bin width
_DECADES = 10  # 1 us .. 1e10 us (almost three hours)


class LatencyHistogram:
    """Whole-run distribution of non-negative values (µs) in fixed memory."""

    def __init__(self) -> None:
        self.counts = np.zeros(_BINS_PER_DECADE * _DECADES + 1, np.int64)
        self.n = 0
        self.total = 0.0
        self.max = 0.0
        self.min = math.inf

    def add(self, value: float) -> None:
        v = max(float(value), 0.0)
        self.counts[self._bin(v)] += 1
        self.n += 1
        self.total += v
        self.max = max(self.max, v)
        self.min = min(self.min, v)

    @staticmethod
    def _bin(v: float) -> int:
        if v < 1.0:
            return 0
        return min(int(math.log10(v) * _BINS_PER_DECADE) + 1, _BINS_PER_DECADE * _DECADES)

    def percentile(self, q: float) -> float:
        """Value at quantile q in [0, 100]; the bin's upper edge, clamped to the observed max."""
        if self.n == 0:
            return math.nan
        rank = max(1, math.ceil(q / 100.0 * self.n))
        b = int(np.searchsorted(np.cumsum(self.counts), rank))
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
    """The last `size` (arrival time, latency) pairs in fixed arrays: live percentiles and frame rate."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window size must be >= 1, got {size}")
        self.size = size
        self._lat = np.zeros(size, np.float64)
        self._arr = np.zeros(size, np.int64)
        self.n = 0  # samples ever added

    def add(self, arrival_us: int, latency_us: float) -> None:
        i = self.n % self.size
        self._arr[i] = arrival_us
        self._lat[i] = latency_us
        self.n += 1

    def __len__(self) -> int:
        return min(self.n, self.size)

    def percentiles(self, qs: tuple[float, ...] = (50, 95, 99)) -> list[float]:
        """Nearest-rank percentiles of the window (cheap enough to compute on every frame)."""
        k = len(self)
        if k == 0:
            return [math.nan] * len(qs)
        s = np.sort(self._lat[:k])
        return [float(s[min(k - 1, max(0, math.ceil(q / 100.0 * k) - 1))]) for q in qs]

    def max(self) -> float:
        return float(self._lat[: len(self)].max()) if self.n else math.nan

    def fps(self) -> float:
        """Arrivals per second over the window (0 until two samples span some time)."""
        k = len(self)
        if k < 2:
            return 0.0
        newest = self._arr[(self.n - 1) % self.size]
        oldest = self._arr[self.n % self.size] if self.n > self.size else self._arr[0]
        span = newest - oldest
        return (k - 1) * 1e6 / span if span > 0 else 0.0
