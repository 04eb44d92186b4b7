"""The onnxruntime guard (rtmaps_components.backends.onnxruntime_status): a build known to crash in
`import onnxruntime` on this machine is refused before the import, with a message; `auto` never picks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtmaps_components import backends

MODEL = str(Path(__file__).resolve().parents[2] / "models" / "squeezenet1_1_fmnist_pruned.onnx")


def _pretend(monkeypatch, machine: str, version: str, arm_cpuinfo: bool) -> None:
    monkeypatch.setattr(backends.platform, "machine", lambda: machine)
    monkeypatch.setattr(backends.sys, "platform", "linux")
    monkeypatch.setattr("importlib.metadata.version", lambda name: version)
    monkeypatch.setattr(backends, "_cpuinfo_lists_arm_cores", lambda: arm_cpuinfo)


@pytest.mark.parametrize(
    "machine,version,arm_cpuinfo,usable",
    [
        ("aarch64", "1.32.0", False, False),  # qemu-user / containers: SIGSEGV in import
        ("aarch64", "1.28.0", False, False),
        ("aarch64", "1.32.0", True, True),  # a real ARM /proc/cpuinfo
        ("aarch64", "1.27.0", False, True),  # the pinned one
        ("x86_64", "1.32.0", False, True),
    ],
)
def test_status(monkeypatch, machine, version, arm_cpuinfo, usable) -> None:
    _pretend(monkeypatch, machine, version, arm_cpuinfo)
    ok, why = backends.onnxruntime_status()
    assert ok == usable, why
    if not usable:
        assert version in why and "onnxruntime<1.28" in why


def test_refused_runtime_is_a_model_load_error_and_auto_avoids_it(monkeypatch) -> None:
    _pretend(monkeypatch, "aarch64", "1.32.0", False)
    with pytest.raises(backends.ModelLoadError, match=r"backend 'onnxruntime' unusable: onnxruntime 1\.32\.0 crashes"):
        backends.load_model(MODEL, backend="onnxruntime")
    monkeypatch.setattr(backends, "native_status", lambda: (False, "the native engine is not built"))
    with pytest.raises(
        backends.ModelLoadError, match="no usable backend: the native engine is not built; onnxruntime 1.32.0"
    ):
        backends.load_model(MODEL, backend="auto")


def test_missing_onnxruntime_is_named(monkeypatch) -> None:
    from importlib import metadata

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr("importlib.metadata.version", missing)
    ok, why = backends.onnxruntime_status()
    assert not ok and "not installed" in why
