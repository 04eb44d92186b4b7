"""pytest plugin for the aarch64 stage (`-p fixture_cache`): test networks made on x86, reused under qemu.

tests/native_fixtures.network() builds its SqueezeNets with torch and the real exporter; the arm64
Python has no torch (the vehicle never does). With this plugin, each network is stored under the temp
folder, keyed by its arguments and the code that makes it, when torch is present (the x86 pre-run in
tests/aarch64/stage.py), and copied from there when it is not.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(tempfile.gettempdir()) / "bluefire-test-cache" / "native-fixtures"


def _install() -> None:
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # after the installed wheel: only `tests` comes from the checkout
    from tests import native_fixtures as fx

    make = fx.network
    code = b"".join(
        (ROOT / p).read_bytes()
        for p in (
            "tests/native_fixtures.py",
            "training/export.py",
            "training/model.py",
            "rtmaps_components/preprocess.py",
        )
    )
    have_torch = importlib.util.find_spec("torch") is not None

    def network(path, *args, **kw):
        key = hashlib.sha256(code + repr((args, sorted(kw.items()))).encode()).hexdigest()[:20]
        cached = CACHE / f"{key}.onnx"
        if not cached.is_file():
            if not have_torch:
                import pytest

                pytest.skip(f"test network {args} not made on x86 yet (needs torch): run tests/aarch64/stage.py")
            CACHE.mkdir(parents=True, exist_ok=True)
            tmp = CACHE / f"{key}.{os.getpid()}.tmp"
            shutil.copyfile(make(path, *args, **kw), tmp)
            os.replace(tmp, cached)  # atomic
        shutil.copyfile(cached, path)
        return Path(path)

    network.__doc__ = inspect.getdoc(make)
    fx.network = network


_install()
