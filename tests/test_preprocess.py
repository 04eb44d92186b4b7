"""The preprocessing contract (rtmaps_components.preprocess): what the metadata may say and what apply gives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rtmaps_components.preprocess import METADATA_KEY, Preprocessing

NAMES = ("a", "b")


def test_round_trip_and_older_metadata_without_channels():
    for p in (
        Preprocessing((8, 6), NAMES),
        Preprocessing((8, 6), NAMES, color="gray", mean=(0.3,), std=(0.4,), channels=1),
    ):
        assert Preprocessing.from_json(p.to_json()) == p
    old = json.loads(Preprocessing((8, 6), NAMES, color="gray").to_json())
    del old["channels"]  # files exported before single-plane models existed
    assert Preprocessing.from_json(json.dumps(old)).channels == 3


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"channels": 2}, "channels must be 1 or 3"),
        ({"channels": 1, "mean": (0.0,), "std": (1.0,)}, "channels 1 needs color 'gray'"),
        ({"channels": 1, "color": "gray"}, r"mean and std need 1 value\(s\) each"),
        ({"std": (1.0, 0.0, 1.0)}, "std must be finite and > 0"),
    ],
)
def test_invalid_specs_say_what_is_wrong(kw, match):
    with pytest.raises(ValueError, match=match):
        Preprocessing((8, 8), NAMES, **kw)


@pytest.mark.parametrize(
    "text,match",
    [
        ("{", "m.onnx: 'bluefire.preprocessing' is not valid JSON"),
        ('{"input_size": [8, 8]}', r"lacks field\(s\) \['class_names'\]"),
        ('{"input_size": [8, 8], "class_names": ["a"], "planes": 1}', r"unknown field\(s\) \['planes'\]"),
        ('{"input_size": [8, 8], "class_names": ["a"], "channels": "1"}', "field 'channels': expected an integer"),
        ('{"input_size": [8, 8], "class_names": ["a"], "channels": 1, "mean": [0], "std": [1]}', "needs color 'gray'"),
        # issue 15: values that load and then score near chance, and shapes that gave bare tracebacks
        ('{"input_size": [8, 8], "class_names": ["a"], "scale": NaN}', "scale must be finite and > 0, got nan"),
        ('{"input_size": [8, 8], "class_names": ["a"], "scale": 0}', "scale must be finite and > 0, got 0"),
        ('{"input_size": [8, 8], "class_names": ["a"], "std": [1, Infinity, 1]}', "std must be finite and > 0"),
        ('{"input_size": [8, 8], "class_names": ["a"], "std": [1, NaN, 1]}', "std must be finite and > 0"),
        ('{"input_size": [8, 8], "class_names": ["a"], "std": [1, 0, 1]}', "std must be finite and > 0"),
        ('{"input_size": [8, 8], "class_names": ["a"], "mean": [0, NaN, 0]}', "mean must be finite"),
        (
            '{"input_size": [8, 8], "class_names": ["a"], "mean": ["0", 0, 0]}',
            "field 'mean': expected a list of numbers",
        ),
        (
            '{"input_size": [8, 8], "class_names": ["a"], "mean": [true, 0, 0]}',
            "field 'mean': expected a list of numbers",
        ),
        ('{"class_names": ["a"]}', r"lacks field\(s\) \['input_size'\]"),
        ('{"input_size": [64], "class_names": ["a"]}', "field 'input_size': expected a list of integers of length 2"),
        ('{"input_size": 64, "class_names": ["a"]}', "field 'input_size': expected a list of integers of length 2"),
        ('{"input_size": [8.5, 8], "class_names": ["a"]}', "field 'input_size': expected a list of integers"),
        ('{"input_size": [8, 8], "class_names": "abc"}', "field 'class_names': expected a list of strings"),
        ('{"input_size": [8, 8], "class_names": [1, 2]}', "field 'class_names': expected a list of strings"),
        ('{"input_size": [8, 8], "class_names": []}', "class_names must not be empty"),
        ('{"input_size": [8, 8], "class_names": ["a"], "color": 3}', "field 'color': expected a string"),
        ('{"input_size": [100000, 8], "class_names": ["a"]}', r"input_size must be 1..4096 on each side"),
        ("[1, 2]", "must be a JSON object, got list"),
    ],
)
def test_bad_metadata_names_the_file_and_field(text, match):
    with pytest.raises(ValueError, match=match):
        Preprocessing.from_metadata({METADATA_KEY: text}, "m.onnx")


def test_single_plane_is_the_luma_plane():
    img = np.random.default_rng(0).integers(0, 256, (30, 20, 3), dtype=np.uint8)
    three = Preprocessing((16, 12), NAMES, color="gray", mean=(0.2, 0.2, 0.2), std=(0.5, 0.5, 0.5))
    one = Preprocessing((16, 12), NAMES, color="gray", mean=(0.2,), std=(0.5,), channels=1)
    x3, x1 = three.apply(img), one.apply(img)
    assert x3.shape == (1, 3, 16, 12) and x1.shape == (1, 1, 16, 12)
    np.testing.assert_array_equal(x1[:, 0], x3[:, 0])
    np.testing.assert_array_equal(x3[:, 0], x3[:, 2])  # gray: three identical planes
    np.testing.assert_array_equal(
        one.apply(img[..., 0], "GRAY"), one.normalize(one.resize_rgb(one.to_rgb(img[..., 0], "GRAY")))[None]
    )
