"""Read the headline numbers out of an engine report: end-to-end latency, accuracy, losses."""

from __future__ import annotations

import math
from typing import Any

from ..latency_stats import STATS_FIELDS

ACCURACY_FIELDS = ("correct", "total", "accuracy")  # AccuracyMeter's `accuracy` output, in order


def _by_class(report: dict, cls: str) -> dict[str, dict]:
    return {n: c for n, c in report["components"].items() if c.get("class") == cls}


def summarize(report: dict) -> dict:
    """{'latency': {...}, 'accuracy': {...}|None, 'frames', 'dropped', 'exceptions', 'errors', 'stop_reason'}."""
    out: dict[str, Any] = {
        k: report[k]
        for k in ("stop_reason", "frames", "dropped", "exceptions", "errors", "warnings", "wall_s", "engine_time_s")
    }
    latency: dict[str, Any] = {}
    for name, c in _by_class(report, "LatencyMeter").items():
        last = c["outputs"].get("stats", {}).get("last")
        if last:
            latency[name] = dict(zip(STATS_FIELDS, last))
    for name, c in report["components"].items():
        if "latency" in c and c["latency"].get("count"):
            latency[f"{name} (end to end, whole run)"] = c["latency"]
    out["latency"] = latency
    acc = None
    for name, c in _by_class(report, "AccuracyMeter").items():
        last = c["outputs"].get("accuracy", {}).get("last")
        if last:
            acc = {"component": name, **dict(zip(ACCURACY_FIELDS, last))}
    out["accuracy"] = acc
    # a source that kept under 90 % of its asked rate; a few ticks lost to the host's jitter are not news
    out["rate_fell"] = {k: v for k, v in report.get("rate_fell", {}).items() if v["achieved_hz"] < 0.9 * v["asked_hz"]}
    return out


def json_safe(x: Any) -> Any:
    """NaN/inf -> None, recursively, so the report is strict JSON."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def format_summary(s: dict) -> str:
    lines = [
        f"stopped: {s['stop_reason']} after {s['engine_time_s']:.2f} s engine time ({s['wall_s']:.2f} s wall); "
        f"{s['frames']} frame(s) from sources, {s['dropped']} dropped in FIFOs, {s['exceptions']} component "
        f"exception(s), {s['errors']} error(s), {s['warnings']} warning(s)"
    ]
    for name, st in s["latency"].items():
        if "p50_us" in st and "count" in st and "mean_us" in st:
            lines.append(
                f"latency {name}: n={st['count']} p50 {st['p50_us'] / 1e3:.2f} ms p95 {st['p95_us'] / 1e3:.2f} ms "
                f"p99 {st['p99_us'] / 1e3:.2f} ms max {st['max_us'] / 1e3:.2f} ms"
            )
        elif "p50_us" in st:
            lines.append(
                f"latency {name} (rolling window at its last report, {st['count']:.0f} samples by then): "
                f"p50 {st['p50_us'] / 1e3:.2f} ms "
                f"p99 {st['p99_us'] / 1e3:.2f} ms, {st['fps']:.1f} fps, {st['deadline_misses']:.0f} deadline miss(es)"
            )
    for name, r in s.get("rate_fell", {}).items():
        lines.append(
            f"rate fell: {name} produced {r['ticks']} frame(s) at {r['achieved_hz']:.1f} Hz of the "
            f"{r['asked_hz']:.1f} Hz asked ({r['ticks_missed']} tick(s) missed while the diagram was busy: "
            f"frames not produced, not dropped)"
        )
    if s["accuracy"]:
        a = s["accuracy"]
        lines.append(
            f"accuracy through the pipeline: {100 * a['accuracy']:.2f} % ({a['correct']:.0f}/{a['total']:.0f} frames)"
        )
    return "\n".join(lines)
