"""Where torch computes: one choice for every command."""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda")


def check_device(setting: str) -> None:
    """Raise unless `setting` is one of DEVICES and, for cuda, torch sees a CUDA device."""
    if setting not in DEVICES:
        raise ValueError(f"device: expected auto, cpu or cuda, got {setting!r}")
    if setting == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda was asked for but torch sees no CUDA device")


def choose_device(setting: str = "auto", index: int = 0) -> torch.device:
    """The torch device for a setting: auto = CUDA device `index` when torch sees one, else the CPU."""
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device("cuda", index) if setting == "cuda" else torch.device("cpu")
