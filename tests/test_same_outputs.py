"""native/tools/same_outputs.py: the byte comparison finds a changed output and passes equal ones."""

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("same_outputs", ROOT / "native" / "tools" / "same_outputs.py")
same_outputs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(same_outputs)


class _Nudged:
    """A module whose Engine adds one ulp to the first logit: a build that changed one output."""

    def __init__(self, real):
        self.real = real

    def Engine(self, *a, **k):  # noqa: N802 (the module's class name)
        eng = self.real.Engine(*a, **k)

        class _E:
            input_size, input_channels = eng.input_size, eng.input_channels

            def run(self, x):
                y = eng.run(x).copy()
                y.flat[0] = np.nextafter(y.flat[0], np.float32(np.inf))
                return y

        return _E()


def test_same_build_has_no_differences_and_a_nudged_one_is_caught():
    from rtmaps_components import _native

    path = ROOT / "models" / "squeezenet1_1_fmnist_pruned.onnx"
    assert same_outputs.compare(_native, _native, path, "ref", [1, 2], 2) == (4, 0)
    assert same_outputs.compare(_native, _Nudged(_native), path, "ref", [1], 2) == (2, 2)
