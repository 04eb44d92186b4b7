"""`bluefire bench` refuses what it cannot time, before it spends time measuring the peak."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.cli import main


def test_missing_models_dir_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert main(["bench", "--models-dir", str(missing), "--runs", "1"]) == 2
    assert f"--models-dir {missing}: no such directory" in capsys.readouterr().err


def test_nothing_to_time_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--models-dir", str(tmp_path), "--no-builtin"]) == 2
    assert "nothing to time" in capsys.readouterr().err


def test_unloadable_baseline_build_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "old.so"
    assert main(["bench", "--native-baseline", str(missing), "--runs", "1"]) == 2
    assert f"--native-baseline {missing}: no such file" in capsys.readouterr().err
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not an ELF file")
    assert main(["bench", "--native-baseline", str(junk), "--runs", "1"]) == 2
    assert f"{junk}: not a loadable extension module" in capsys.readouterr().err


def test_bad_threads_and_json_paths_fail_before_timing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--threads", "1,x", "--runs", "1"]) == 2
    assert "--threads: expected a comma list of counts >= 1" in capsys.readouterr().err
    assert main(["bench", "--threads", "0", "--runs", "1"]) == 2
    assert main(["bench", "--json", str(tmp_path), "--runs", "1"]) == 2  # a directory
    assert "--json" in capsys.readouterr().err
