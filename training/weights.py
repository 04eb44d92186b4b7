"""Load torchvision SqueezeNet state dicts (e.g. squeezenet1_1-b8a52dc0.pth) for transfer learning."""

from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import torch_load_safe
from .model import SqueezeNet

HEAD_KEYS = ("classifier.1.weight", "classifier.1.bias")


def load_pretrained(model: SqueezeNet, path: str | Path) -> list[str]:
    """Copy a torchvision state dict into `model`; returns the keys re-initialised (the head, if classes differ).

    Any other missing, unexpected or mis-shaped key is an error that lists them all.
    """
    path = Path(path)
    sd = torch_load_safe(path, "weights file")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ValueError(f"{path}: expected a state dict of tensors (torchvision's SqueezeNet format)")
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shaped = sorted(k for k in set(own) & set(sd) if own[k].shape != sd[k].shape)
    reinit = [k for k in shaped if k in HEAD_KEYS]
    shaped = [k for k in shaped if k not in HEAD_KEYS]
    if missing or unexpected or shaped:
        lines = [f"{path}: does not fit {model.arch} with widths {model.widths.to_dict()}"]
        lines += [f"  missing: {k}" for k in missing]
        lines += [f"  unexpected: {k}" for k in unexpected]
        lines += [
            f"  shape: {k} is {tuple(sd[k].shape)} in the file, {tuple(own[k].shape)} in the model" for k in shaped
        ]
        raise ValueError("\n".join(lines))
    merged = {k: (own[k] if k in reinit else sd[k].to(own[k].dtype)) for k in own}
    model.load_state_dict(merged)
    return reinit
