"""Split COIL-20 by pose: even angles (0, 2, ... 70) to DST/train, odd ones to DST/held, as symlinks.

The held half shows each object from poses between the training ones: new photos of the same objects,
which `predict` should say fit (benchmarks/results/predict-outliers/).

    python benchmarks/folder_defaults/split_poses.py ../shared/datasets/COIL20/coil-20-proc /tmp/coil-split
"""
from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    src, dst = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    for part in ("train", "held"):
        (dst / part).mkdir(parents=True, exist_ok=True)
    n = {"train": 0, "held": 0}
    for f in sorted(src.glob("*.png")):  # objN__A.png, A the pose 0-71
        part = "train" if int(f.stem.split("__")[1]) % 2 == 0 else "held"
        link = dst / part / f.name
        if not link.exists():
            link.symlink_to(f)
        n[part] += 1
    print(f"{n['train']} -> {dst / 'train'}, {n['held']} -> {dst / 'held'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
