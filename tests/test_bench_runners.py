"""The runtime's timing building blocks (shared by bench, native/tools and tests) and the atomic writer."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rtmaps_components.atomic import atomic_path, atomic_write, remove_stale_temps
from rtmaps_components.bench_runners import (
    Runner,
    cpu_info,
    elementwise_min,
    interleaved,
    running_threads,
    time_runners,
    timed,
    timing_stats,
    wait_until_quiet,
)

REPO = Path(__file__).resolve().parent.parent


def test_interleaved_rotates_the_order_and_warms_up():
    calls: list[str] = []
    fns = {n: (lambda n=n: calls.append(n) or n) for n in "abc"}
    out = interleaved(fns, rounds=3, warmup=2)
    assert calls[:6] == list("aabbcc")  # warm-up first, each name on its own
    assert calls[6:] == list("abcbcacab")  # every position taken by every runner
    assert out == {n: [n] * 3 for n in "abc"}


def test_interleaved_runs_before_ahead_of_every_call_untimed():
    calls: list[str] = []
    fns = {n: (lambda n=n: calls.append(n)) for n in "ab"}
    interleaved(fns, rounds=2, warmup=1, before=lambda n: calls.append(n.upper()))
    assert calls == list("ab") + list("AaBbBbAa")  # not before warm-up calls; before each timed one


def test_wait_until_quiet_outlasts_a_running_thread():
    """A thread busy in C (sha256 of 128 MB, the GIL released) is seen running, and the wait lasts
    until it is done; a quiet process returns at once."""
    if running_threads() is None:
        pytest.skip("no /proc/self/task")
    data = bytes(128 << 20)
    one = min(timed(lambda: hashlib.sha256(data).digest())() for _ in range(2))
    t = threading.Thread(target=lambda: hashlib.sha256(data).digest())
    t.start()
    deadline = time.perf_counter() + 5
    while not running_threads() and time.perf_counter() < deadline:
        pass
    started = time.perf_counter()
    waited = wait_until_quiet(limit_s=30)
    t.join()
    assert waited >= 0.5 * one, (waited, one)  # it was already hashing when the wait began
    assert time.perf_counter() - started < 30
    assert wait_until_quiet() < 0.05 and running_threads() == 0


def test_time_runners_and_stats():
    seen = []
    runners = [Runner("fake", "v1", lambda x: seen.append(x.shape)), Runner("fake", "v2", lambda x: None)]
    times = time_runners(runners, np.zeros((1, 3, 2, 2), np.float32), runs=5, warmup=1)
    assert set(times) == {"fake:v1", "fake:v2"} and all(len(t) == 5 for t in times.values())
    assert seen == [(1, 3, 2, 2)] * 6
    st = timing_stats([0.001, 0.002, 0.003, 0.010])
    assert st["median_ms"] == pytest.approx(2.5) and st["min_ms"] == pytest.approx(1.0)
    assert 3.0 < st["p99_ms"] <= 10.0
    assert elementwise_min([[3, 1, 2], [1, 5, 2], [2, 2, 0]]) == [1, 1, 0]


def test_cpu_info_names_the_machine():
    info = cpu_info()
    assert info["model"] and info["logical_cpus"] >= 1 and isinstance(info["simd"], list)
    if Path("/proc/cpuinfo").is_file() and "avx2" in Path("/proc/cpuinfo").read_text():
        assert "avx2" in info["simd"]


def test_runners_import_without_torch():
    code = "import sys, rtmaps_components.bench_runners, rtmaps_components.atomic; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


def test_bench_json_records_the_cpu(tmp_path):
    from training.cli import main

    out = tmp_path / "b.json"
    assert (
        main(
            [
                "bench",
                "--runs",
                "2",
                "--warmup",
                "0",
                "--cases",
                "squeezenet1_1-32-10",
                "--engines",
                "native,ort",
                "--models-dir",
                str(tmp_path),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    d = json.loads(out.read_text())
    assert d["cpu"]["model"] and "simd" in d["cpu"]
    assert {r["engine"] for r in d["rows"]} == {"native", "ort"} and all(r["runs"] == 2 for r in d["rows"])


def test_bench_refuses_an_unknown_engine(capsys):
    from training.cli import main

    assert main(["bench", "--engines", "native,tpu", "--runs", "1"]) == 2
    assert "--engines: unknown engine(s) tpu" in capsys.readouterr().err


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "sub" / "f.json"
    atomic_write(target, "one")
    assert target.read_text() == "one" and oct(target.stat().st_mode & 0o777) == oct(0o644)
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "one"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]  # no temp file left


def test_temps_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "state.pt"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".state.pt.{int(dead.stdout)}.abc.tmp"
    stale.write_bytes(b"partial")
    live = tmp_path / f".state.pt.{os.getpid()}.xyz.tmp"  # a writer that is still running: left alone
    live.write_bytes(b"in progress")
    other = tmp_path / ".other.pt.1.tmp"
    other.write_bytes(b"not ours")
    assert remove_stale_temps(target) == [stale]
    atomic_write(target, b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, "state.pt"])


def test_bench_records_what_each_native_build_chose_for_its_threads(tmp_path, monkeypatch, capsys):
    """Multi-thread rows differ by what each engine measured at build: the JSON and the table say it (here
    fixed by BLUEFIRE_SPLIT=always: every candidate split, every Fire's expands paired, nothing measured)."""
    from training.cli import main

    monkeypatch.setenv("BLUEFIRE_SPLIT", "always")
    out = tmp_path / "b.json"
    args = ["bench", "--runs", "2", "--warmup", "0", "--cases", "squeezenet1_1-32-10", "--engines", "native"]
    assert main([*args, "--threads", "1,2", "--models-dir", str(tmp_path), "--json", str(out)]) == 0
    rows = {r["threads"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows[1]["build"] == {"split_layers": 0, "pairs": 0, "calibration_ms": 0.0}
    two = rows[2]["build"]
    assert two["split_layers"] > 0 and two["pairs"] == 8 and two["calibration_ms"] == 0.0  # fire2-9
    assert (
        f"native 2 threads, squeezenet1_1-32-10: {two['split_layers']} layers split, 8 pairs" in capsys.readouterr().out
    )


def test_bench_paces_frames_with_a_gap_before_every_timed_call(tmp_path, monkeypatch, capsys):
    """--frame-gap-ms: every timed call, at every thread count, comes after a sleep of the gap and no
    untimed call (the pools asleep, as between a camera's frames); the rows and the table say so."""
    import time as time_module

    from training import bench
    from training.cli import main

    events: list[tuple[str, float]] = []
    real_sleep = time_module.sleep
    monkeypatch.setattr(bench.time, "sleep", lambda s: (events.append(("sleep", s)), real_sleep(0))[1])
    real_timed = bench.timed

    def counting_timed(fn):
        def call():
            events.append(("run", 0.0))
            return real_timed(fn)()

        return call

    monkeypatch.setattr(bench, "timed", counting_timed)
    out = tmp_path / "b.json"
    args = ["bench", "--runs", "3", "--warmup", "0", "--cases", "squeezenet1_1-32-10", "--engines", "native"]
    assert (
        main([*args, "--threads", "1,2", "--frame-gap-ms", "33", "--models-dir", str(tmp_path), "--json", str(out)])
        == 0
    )
    runs = [i for i, e in enumerate(events) if e[0] == "run"]
    assert len(runs) == 6 and all(events[i - 1] == ("sleep", 0.033) for i in runs)
    assert all(r["frame_gap_ms"] == 33 for r in json.loads(out.read_text())["rows"])
    assert "paced frames: every timed call came 33 ms after the previous call" in capsys.readouterr().out
    assert main([*args, "--frame-gap-ms", "-1", "--models-dir", str(tmp_path)]) == 2
    assert "--frame-gap-ms: expected 0..1000 ms" in capsys.readouterr().err


def test_bench_times_another_build_as_native(tmp_path, capsys):
    """--native-build SO: the 'native' rows come from that build (here a copy of the installed one: the
    installed file itself is loaded already), so a before/after compares two builds made the same way;
    a file that is no module is named."""
    import shutil

    from rtmaps_components import _native
    from training.cli import main

    copy = tmp_path / "copy" / Path(_native.__file__).name
    copy.parent.mkdir()
    shutil.copy(_native.__file__, copy)
    out = tmp_path / "b.json"
    args = ["bench", "--runs", "2", "--warmup", "0", "--cases", "squeezenet1_1-32-10", "--engines", "native"]
    assert main([*args, "--native-build", str(copy), "--models-dir", str(tmp_path), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["engine"] for r in rows] == ["native"]
    bad = tmp_path / "x.so"
    bad.write_bytes(b"not an ELF")
    assert main([*args, "--native-build", str(bad), "--models-dir", str(tmp_path)]) == 2
    assert f"--native-build {bad}: not a loadable extension module" in capsys.readouterr().err
