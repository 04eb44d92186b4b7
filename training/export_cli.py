"""`bluefire export`: a checkpoint to ONNX, checked by onnx.checker and against ONNX Runtime.

Parity is measured on random inputs (batch 1 and a larger batch, so the dynamic batch axis is
exercised) and on real images of the checkpoint's validation split, preprocessed as in training.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from rtmaps_components.atomic import atomic_path

from .export import DEFAULT_OPSET, check_finite_weights, check_parity, export_onnx, luma_plane, plane_channels

PARITY_ATOL = 1e-4


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = (
        "Export a bluefire checkpoint (pruned or not) to ONNX: input 'image' float32 (N, C, H, W) with a\n"
        "dynamic batch, output 'logits' (N, classes); architecture, widths and preprocessing go into the\n"
        "file's metadata. A gray model takes one plane (C = 1): its stem is folded over the three\n"
        "identical luma planes, exactly, for a third of the stem's work in every runtime. The file is\n"
        "checked with onnx.checker, then ONNX Runtime must equal torch (max abs difference <= 1e-4) on\n"
        "random inputs and on real validation images."
    )
    p.epilog = "example:\n  bluefire export runs/baseline/best.pt -o models/baseline.onnx"
    p.add_argument("checkpoint", metavar="CKPT", help="bluefire checkpoint (.pt) written by train or prune")
    p.add_argument("-o", "--output", required=True, metavar="FILE.onnx", help="where to write the ONNX file")
    p.add_argument(
        "--opset",
        type=int,
        default=DEFAULT_OPSET,
        metavar="N",
        help=f"ONNX opset, 17 or newer (default: {DEFAULT_OPSET})",
    )
    p.add_argument(
        "--data",
        metavar="SPEC",
        help="data set whose validation images are used for the parity check (default: the checkpoint's training data)",
    )
    p.add_argument(
        "--parity-images",
        type=int,
        default=64,
        metavar="N",
        help="real validation images in the parity check (default: 64; 0 skips the real-image check)",
    )
    p.add_argument(
        "--atol",
        type=float,
        default=PARITY_ATOL,
        help="parity tolerance, max abs difference of the logits (default: 1e-4)",
    )
    p.add_argument(
        "--planes",
        choices=("auto", "1", "3"),
        default="auto",
        help="input planes: 1 (gray models only: the stem folded to the luma plane), 3 (as trained), "
        "auto = 1 for gray models, else 3 (default)",
    )
    p.add_argument("--json", metavar="FILE", help="write the parity report as JSON")


def main(args: argparse.Namespace) -> int:
    from rtmaps_components.output_paths import check_output_path

    try:
        check_output_path(args.output, "--output")
        check_output_path(args.json, "--json")
        if args.parity_images < 0:
            raise ValueError(f"--parity-images must be >= 0, got {args.parity_images}")
        if not args.atol > 0 or args.atol == float("inf"):
            raise ValueError(f"--atol must be a finite number > 0, got {args.atol}")
        report = export_checked(
            args.checkpoint, args.output, args.opset, args.data, args.parity_images, args.atol, args.planes
        )
    except (ValueError, AssertionError) as e:
        raise SystemExit(f"bluefire export: {e}") from None
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    print(
        f"wrote {report['onnx']} (opset {report['opset']}, {report['planes']} input plane(s), "
        f"{report['size_bytes'] / 1e6:.2f} MB); "
        f"max |torch - onnxruntime|: random {report['max_abs_diff_random']:.2e}"
        + (f", {report['real_images']} real images {report['max_abs_diff_real']:.2e}" if report["real_images"] else "")
    )
    return 0


def real_inputs(ckpt: dict, prep, spec: str | None, n: int) -> np.ndarray:
    """The first `n` validation images of the checkpoint's data set, as float32 NCHW network inputs."""
    import torch

    from . import data as data_mod
    from .checkpoint import data_split_of
    from .train import to_input

    known = data_split_of(ckpt)
    spec = spec or known["spec"]
    if not spec:
        raise ValueError("the checkpoint does not name its data set: give --data SPEC or --parity-images 0")
    ds = data_mod.load(spec, known["seed"], known["val_fraction"])
    split = ds.val if len(ds.val) else ds.test
    x = data_mod.prepare(split.subset(np.arange(min(n, len(split)))), prep)
    return to_input(torch.from_numpy(x), prep).numpy()


def export_checked(
    checkpoint: str | Path,
    output: str | Path,
    opset: int = DEFAULT_OPSET,
    data: str | None = None,
    parity_images: int = 64,
    atol: float = PARITY_ATOL,
    planes: str | int = "auto",
) -> dict[str, Any]:
    """Export and check; raises ValueError / AssertionError with the file named when anything is off.

    planes: "auto" (1 for a gray model, else 3), 1 or 3. A single-plane file is checked against the
    trained three-plane model: ONNX Runtime gets the luma plane, torch the three planes made from it.
    """
    from . import checkpoint as ckpt_io

    if opset < 17:
        raise ValueError(f"--opset must be 17 or newer, got {opset}")
    ckpt = ckpt_io.load(checkpoint)
    model, prep = ckpt_io.model_from_checkpoint(ckpt, str(checkpoint))
    out = Path(output)
    if out.suffix.lower() != ".onnx":
        raise ValueError(f"{out}: the output file must end in .onnx")
    n_planes = (1 if prep.color == "gray" else 3) if planes == "auto" else int(planes)
    if n_planes == 1 and prep.color != "gray":
        raise ValueError(f"{checkpoint}: --planes 1 needs a gray model; this one is {prep.color!r}")
    try:
        check_finite_weights(model)
    except ValueError as e:
        raise ValueError(f"{checkpoint}: {e}") from None
    # Written beside the destination, checked there, then renamed over it: a failed check (or a kill)
    # leaves the destination as it was.
    with atomic_path(out, mode=0o644) as tmp:
        export_onnx(model, prep, tmp, opset, planes=n_planes)  # runs onnx.checker (full_check) before writing
        try:
            report = _check_exported(model, prep, tmp, ckpt, data, parity_images, atol, n_planes)
        except AssertionError as e:
            raise AssertionError(f"{str(e).replace(str(tmp), str(out))}; {out} was not written") from None
        report.update(onnx=str(out), checkpoint=str(checkpoint), opset=opset)
    return report


def _check_exported(
    model, prep, path: Path, ckpt: dict, data: str | None, parity_images: int, atol: float, n_planes: int
) -> dict[str, Any]:
    """Parity of the written file `path` with torch, on random and on real validation images."""
    h, w = prep.input_size
    rng = np.random.default_rng(0)

    def parity(x3: np.ndarray) -> float:  # x3: three planes as the trained model sees them
        return check_parity(model, path, x3, atol, None if n_planes == 3 else x3[:, luma_plane(prep)][:, None])

    def gray_planes(x1: np.ndarray) -> np.ndarray:  # the three planes a gray image with luma plane x1 has
        return np.concatenate(
            [(x1 * prep.std[0] + prep.mean[0] - prep.mean[c]) / prep.std[c] for c in plane_channels(prep)], axis=1
        ).astype(np.float32)

    diffs = [
        parity(rng.standard_normal((b, 3, h, w)).astype(np.float32))
        if n_planes == 3
        else parity(gray_planes(rng.standard_normal((b, 1, h, w)).astype(np.float32)))
        for b in (1, 7)
    ]
    report: dict[str, Any] = {
        "planes": n_planes,
        "size_bytes": path.stat().st_size,
        "max_abs_diff_random": max(diffs),
        "real_images": 0,
        "max_abs_diff_real": None,
        "atol": atol,
    }
    if parity_images > 0:
        x = real_inputs(ckpt, prep, data, parity_images)
        report["real_images"] = len(x)
        report["max_abs_diff_real"] = parity(x) if len(x) else None
    return report
