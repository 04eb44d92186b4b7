"""RTMaps PythonBridge component: end-to-end latency of the samples reaching it.

latency = `rt.current_time()` - the sample's `ts` (the capture time the camera stamped and every
component passed through). Every sample is counted (rolling window, whole-run histogram, deadline
misses, the optional CSV log `csv_file`); `stats` (FLOAT64, fields in STATS_FIELDS order, over the
rolling window except `misses` and `count` which are whole-run) and `text` (one readable line) are
written on the first sample and then at most once per `report_period_us` (0: on every sample). A
viewer refreshes at display rate, and on the frame path the report (three percentiles, a formatted
line, two writes) cost more than the inference budget allows per frame. A whole-run summary at Death.
"""

import math

import numpy as np
import rtmaps.core as rt
import rtmaps.reading_policy
import rtmaps.types
from rtmaps.base_component import BaseComponent

from rtmaps_components.latency_stats import STATS_FIELDS, LatencyHistogram, RollingWindow

TEXT_BUFFER = 200


class LatencyMeter(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
        self.force_reading_policy(rtmaps.reading_policy.REACTIVE)

    def Dynamic(self):
        self.add_input("in", rtmaps.types.ANY)
        self.add_output("stats", rtmaps.types.FLOAT64, len(STATS_FIELDS))
        self.add_output("text", rtmaps.types.TEXT_ASCII, TEXT_BUFFER)
        self.add_property("deadline_us", 100000)  # a sample later than this is a deadline miss
        self.add_property("window", 300)  # samples in the rolling statistics
        self.add_property("csv_file", "", subtype=rtmaps.types.FILE)  # empty = no log
        self.add_property("report_period_us", 100000)  # stats and text at most this often; 0 = every sample

    def Birth(self):
        self.deadline = int(self.properties["deadline_us"].data)
        self.period = max(0, int(self.properties["report_period_us"].data))
        self.next_report = None  # engine time of the next report; None = report the next sample
        self.window = RollingWindow(max(1, int(self.properties["window"].data)))
        self.hist = LatencyHistogram()
        self.misses = 0
        self.first_us = None
        self.last_us = None
        self.csv = None
        self.deadline_ms = f"{self.deadline / 1e3:g}"
        self.stats_buf = np.zeros(len(STATS_FIELDS), np.float64)
        self.stats_elt = rtmaps.types.Ioelt()
        self.stats_elt.type = rt.DataTypes.CTypes.Float64 | rt.DataTypes.CTypes.MiscFlag
        self.text_elt = rtmaps.types.Ioelt()
        self.text_elt.type = rt.DataTypes.CTypes.MiscFlag
        path = str(self.properties["csv_file"].data)
        if path:
            try:
                self.csv = open(path, "w", buffering=1 << 16)  # noqa: SIM115 (open from Birth to Death)
                self.csv.write("ts_us,arrival_us,latency_us,frame\n")
            except OSError as e:
                rt.report_warning(f"latency meter: cannot write {path} ({e}); no CSV log")

    def Core(self):
        now = rt.current_time()
        elt = self.inputs["in"].ioelt
        ts = int(elt.ts)
        latency = now - ts
        if self.first_us is None:
            self.first_us = now
        self.last_us = now
        window = self.window
        window.add(now, latency)
        self.hist.add(latency)
        if latency > self.deadline:
            self.misses += 1
        if self.csv is not None:
            self.csv.write(f"{ts},{now},{latency},{elt.misc1}\n")
        if self.next_report is not None and now < self.next_report:
            return
        self.next_report = now + self.period if self.period else None
        p50, p95, p99 = window.percentiles()
        wmax, fps = window.max(), window.fps()
        # one Ioelt per output, reused: write() copies the sample, and this runs on every frame
        out = self.stats_elt
        out.data = self.stats_buf
        out.data[:] = (p50, p95, p99, wmax, fps, self.misses, self.hist.n)
        out.ts = ts
        out.misc1 = elt.misc1
        self.outputs["stats"].write(out)
        line = self.text_elt
        line.data = (
            f"latency p50 {p50 / 1e3:.2f} ms  p95 {p95 / 1e3:.2f}  p99 {p99 / 1e3:.2f}  max "
            f"{wmax / 1e3:.2f} | {fps:.1f} fps | {self.misses} over {self.deadline_ms} ms | n={self.hist.n}"
        )[:TEXT_BUFFER]
        line.ts = ts
        line.misc1 = elt.misc1
        self.outputs["text"].write(line)

    def summary_line(self):
        s = self.hist.summary()
        if not s["count"]:
            return "latency meter: no samples"
        span = (self.last_us - self.first_us) / 1e6
        fps = (s["count"] - 1) / span if span > 0 else math.nan
        return (
            f"latency meter: {s['count']} samples, p50 {s['p50_us'] / 1e3:.2f} ms, p95 {s['p95_us'] / 1e3:.2f} ms, "
            f"p99 {s['p99_us'] / 1e3:.2f} ms, max {s['max_us'] / 1e3:.2f} ms, {fps:.1f} fps, "
            f"{self.misses} deadline miss(es) over {self.deadline / 1e3:g} ms"
        )

    def Death(self):
        if self.csv is not None:
            self.csv.close()
            self.csv = None
        rt.report_info(self.summary_line())


# The PythonBridge looks for `rtmaps_python` unless the diagram sets className: both names work.
rtmaps_python = LatencyMeter
