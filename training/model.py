"""SqueezeNet v1.0 / v1.1 with torchvision's module tree and state-dict keys, and per-Fire widths.

A pruned network differs from the original only in its channel widths, so one width table
(`Widths`) is enough to rebuild any model from a checkpoint or an ONNX file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

ARCHS = ("squeezenet1_0", "squeezenet1_1")

# torchvision's layouts: stem kernel, and the `features` indices of the Fire modules and max-pools.
_STEM_KERNEL = {"squeezenet1_0": 7, "squeezenet1_1": 3}
_FIRE_INDEX = {
    "squeezenet1_0": (3, 4, 5, 7, 8, 9, 10, 12),
    "squeezenet1_1": (3, 4, 6, 7, 9, 10, 11, 12),
}
_POOL_INDEX = {"squeezenet1_0": (2, 6, 11), "squeezenet1_1": (2, 5, 8)}
FIRE_NAMES = tuple(f"fire{i}" for i in range(2, 10))
# conv10 feeds a ReLU (torchvision's head), so a class whose conv10 output is negative at every position
# outputs 0 and gets no gradient ("dead"). With torchvision's zero bias and a small input (conv10 sees one
# 1x1 map at 32x32) several classes start dead and some stay dead (README, "Training notes"); a positive
# bias starts every class alive. It draws no random numbers, so every other weight of a seeded model is
# unchanged.
HEAD_BIAS_INIT = 1.0
_DEFAULT_FIRES = (
    (16, 64, 64),
    (16, 64, 64),
    (32, 128, 128),
    (32, 128, 128),
    (48, 192, 192),
    (48, 192, 192),
    (64, 256, 256),
    (64, 256, 256),
)


@dataclass(frozen=True)
class Widths:
    """Output channels of conv1 and of each Fire's (squeeze, expand1x1, expand3x3), fire2..fire9."""

    conv1: int
    fires: tuple[tuple[int, int, int], ...]

    @staticmethod
    def default(arch: str) -> Widths:
        _check_arch(arch)
        return Widths(96 if arch == "squeezenet1_0" else 64, _DEFAULT_FIRES)

    def to_dict(self) -> dict[str, Any]:
        return {"conv1": self.conv1, "fires": [list(f) for f in self.fires]}

    @staticmethod
    def from_dict(d: Any, source: str = "widths") -> Widths:
        """Parse and validate a width table (as stored in checkpoints and ONNX metadata)."""
        if not isinstance(d, dict) or set(d) != {"conv1", "fires"}:
            raise ValueError(f"{source}: expected a dict with keys 'conv1' and 'fires', got {d!r}")
        fires = d["fires"]
        if not isinstance(fires, (list, tuple)) or len(fires) != 8:
            raise ValueError(f"{source}: 'fires' must list 8 Fire modules (fire2..fire9), got {fires!r}")
        out = []
        for name, f in zip(FIRE_NAMES, fires):
            if (
                not isinstance(f, (list, tuple))
                or len(f) != 3
                or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in f)
            ):
                raise ValueError(f"{source}: {name} must be 3 positive ints (squeeze, expand1x1, expand3x3), got {f!r}")
            out.append(tuple(f))
        c1 = d["conv1"]
        if not isinstance(c1, int) or isinstance(c1, bool) or c1 < 1:
            raise ValueError(f"{source}: 'conv1' must be a positive int, got {c1!r}")
        return Widths(c1, tuple(out))

    def fire_inputs(self) -> list[int]:
        """Input channels of each Fire: conv1's width, then the previous Fire's concat width."""
        return [self.conv1] + [e1 + e3 for _, e1, e3 in self.fires[:-1]]

    @property
    def classifier_in(self) -> int:
        return self.fires[-1][1] + self.fires[-1][2]


def _check_arch(arch: str) -> None:
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHS)}")


class Fire(nn.Module):
    """squeeze 1x1 + ReLU, then expand1x1 + ReLU and expand3x3 + ReLU, concatenated (torchvision's Fire)."""

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int) -> None:
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1
        )


class SqueezeNet(nn.Module):
    """torchvision-compatible SqueezeNet whose channel widths come from a `Widths` table."""

    def __init__(
        self,
        arch: str = "squeezenet1_1",
        num_classes: int = 1000,
        widths: Widths | None = None,
        dropout: float = 0.5,
        in_planes: int = 3,
    ) -> None:
        super().__init__()
        _check_arch(arch)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.arch = arch
        self.num_classes = num_classes
        self.widths = widths or Widths.default(arch)
        k = _STEM_KERNEL[arch]
        # in_planes 1: the layout of a gray model whose export folded the stem (training uses 3)
        layers: list[nn.Module] = [
            nn.Conv2d(in_planes, self.widths.conv1, kernel_size=k, stride=2),
            nn.ReLU(inplace=True),
        ]
        fires = iter(zip(self.widths.fire_inputs(), self.widths.fires))
        for idx in range(2, 13):
            if idx in _POOL_INDEX[arch]:
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
            else:
                cin, (s, e1, e3) = next(fires)
                layers.append(Fire(cin, s, e1, e3))
        self.features = nn.Sequential(*layers)
        final_conv = nn.Conv2d(self.widths.classifier_in, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1))
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, HEAD_BIAS_INIT if m is final_conv else 0.0)
        self.min_input_size = min_input_size(arch)

    def fires(self) -> list[Fire]:
        """The eight Fire modules, fire2..fire9, in order."""
        return [self.features[i] for i in _FIRE_INDEX[self.arch]]

    @property
    def conv1(self) -> nn.Conv2d:
        return self.features[0]

    @property
    def final_conv(self) -> nn.Conv2d:
        return self.classifier[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        planes = self.conv1.in_channels  # 3; 1 once export has folded a gray model's stem
        if x.dim() != 4 or x.shape[1] != planes:
            raise ValueError(f"SqueezeNet expects a (N, {planes}, H, W) batch, got shape {tuple(x.shape)}")
        if min(x.shape[2], x.shape[3]) < self.min_input_size:
            raise ValueError(
                f"{self.arch}: input {x.shape[2]}x{x.shape[3]} is smaller than the "
                f"{self.min_input_size}x{self.min_input_size} minimum this network accepts"
            )
        x = self.classifier(self.features(x))
        return torch.flatten(x, 1)


def pool_out(n: int) -> int:
    """Output size of a 3x3 stride-2 max-pool with ceil_mode (PyTorch/ONNX rule), 0 if invalid."""
    if n < 3:
        return 0
    out = math.ceil((n - 3) / 2) + 1
    if (out - 1) * 2 >= n:  # the last window must start inside the input
        out -= 1
    return out


def feature_sizes(arch: str, size: int) -> dict[str, int]:
    """Spatial size of each stage's output for a square input of `size`; 0 marks an invalid stage."""
    _check_arch(arch)
    k = _STEM_KERNEL[arch]
    n = (size - k) // 2 + 1 if size >= k else 0
    sizes = {"conv1": n}
    fires = iter(FIRE_NAMES)
    for idx in range(2, 13):
        if idx in _POOL_INDEX[arch]:
            n = pool_out(n) if n > 0 else 0
            sizes[f"pool{idx}"] = n
        else:
            sizes[next(fires)] = n
    return sizes


def min_input_size(arch: str) -> int:
    """Smallest square input for which every stage has at least one pixel."""
    for size in range(1, 512):
        if all(v > 0 for v in feature_sizes(arch, size).values()):
            return size
    raise AssertionError("unreachable")


def count_params(widths: Widths, arch: str, num_classes: int) -> int:
    """Parameters (weights + biases) of a network with these widths, computed from the table alone."""
    k = _STEM_KERNEL[arch]
    n = widths.conv1 * (3 * k * k + 1)
    for cin, (s, e1, e3) in zip(widths.fire_inputs(), widths.fires):
        n += s * (cin + 1) + e1 * (s + 1) + e3 * (9 * s + 1)
    return n + num_classes * (widths.classifier_in + 1)


def count_macs(widths: Widths, arch: str, num_classes: int, size: int, planes: int = 3) -> int:
    """Multiply-accumulates of the convolutions at a square input of `size`, from the table alone.

    planes: the stem's input planes (1 for a gray model exported with its stem folded)."""
    k = _STEM_KERNEL[arch]
    fs = feature_sizes(arch, size)
    if min(fs.values()) <= 0:
        raise ValueError(f"{arch}: input {size} is smaller than the {min_input_size(arch)} minimum")
    macs = widths.conv1 * planes * k * k * fs["conv1"] ** 2
    for name, cin, (s, e1, e3) in zip(FIRE_NAMES, widths.fire_inputs(), widths.fires):
        hw = fs[name] ** 2
        macs += hw * (s * cin + e1 * s + e3 * 9 * s)
    return macs + fs["fire9"] ** 2 * num_classes * widths.classifier_in


def squeezenet1_0(num_classes: int = 1000, widths: Widths | None = None, **kw: Any) -> SqueezeNet:
    """SqueezeNet v1.0 (96 7x7 stem filters), torchvision's layout."""
    return SqueezeNet("squeezenet1_0", num_classes, widths, **kw)


def squeezenet1_1(num_classes: int = 1000, widths: Widths | None = None, **kw: Any) -> SqueezeNet:
    """SqueezeNet v1.1 (64 3x3 stem filters, earlier pools), torchvision's layout."""
    return SqueezeNet("squeezenet1_1", num_classes, widths, **kw)


def build(arch: str, num_classes: int, widths: Widths | dict | None = None, in_planes: int = 3) -> SqueezeNet:
    """Build either version by name, from a width table or its dict form."""
    if isinstance(widths, dict):
        widths = Widths.from_dict(widths)
    return SqueezeNet(arch, num_classes, widths, in_planes=in_planes)
