"""Write the labelled replay clip: real Fashion-MNIST test images as lossless PNG frames + labels.txt.

`.venv/bin/python -m diagrams.make_fmnist_clip [--per-class 20] [--out diagrams/data/fmnist_clip]`
Frames are the untouched 28x28 gray test images (PNG is lossless), picked evenly per class with a
fixed seed and shuffled; line k of labels.txt is the class index of frame k (`misc1` = k when
the camera replays the folder). The clip is committed, so the demo needs no data set at run time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from training.data import FASHION_CLASSES, FASHION_MNIST_DIR, load_fashion_mnist

HERE = Path(__file__).resolve().parent


def make_clip(out: Path, per_class: int = 20, seed: int = 0, folder: str = FASHION_MNIST_DIR) -> int:
    """Write `per_class` test images of each class to `out`; returns the number of frames."""
    _, test = load_fashion_mnist(folder)
    rng = np.random.default_rng(seed)
    picks = np.concatenate(
        [rng.choice(np.flatnonzero(test.labels == c), per_class, replace=False) for c in range(len(FASHION_CLASSES))]
    )
    rng.shuffle(picks)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    for k, i in enumerate(picks):
        if not cv2.imwrite(str(out / f"{k:06d}.png"), test.images[i][..., 0]):
            raise OSError(f"{out}: cannot write frame {k}")
    # `# clip:` lets the accuracy meter refuse to score frames of another clip against these labels
    (out / "labels.txt").write_text(f"# clip: {out.name}\n" + "".join(f"{int(test.labels[i])}\n" for i in picks))
    (out / "README.txt").write_text(
        f"{len(picks)} Fashion-MNIST test images ({per_class} per class, seed {seed}), 28x28 gray PNG.\n"
        f"labels.txt: '# clip: {out.name}', then line k = class of frame k. Classes: {', '.join(FASHION_CLASSES)}.\n"
        "Fashion-MNIST (c) Zalando SE, MIT licence. Made by diagrams/make_fmnist_clip.py.\n"
    )
    return len(picks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "data" / "fmnist_clip")
    args = ap.parse_args()
    n = make_clip(args.out, args.per_class, args.seed)
    print(f"{args.out}: {n} frames")


if __name__ == "__main__":
    main()
