"""Write a built-in set as a plain folder of PNG files, to test the folder defaults beyond COIL-20.

COIL-20 (objects on black, turned in 5° steps) is the only photo-like set offline, so every folder
default was chosen on it. This exports other sets the way a user would hand them over, a folder of
image files, so `deepclust cluster FOLDER` can be measured on them too: `per_class` images of every class
drawn with a fixed seed (the heritage proxies' rule, `proxy_indices`), named `cN__I.png` (class N, index
I in the source), so runs are scored from the file names (`run.py --truth 'c(\\d+)__'`). The loader sees no
labels.

    python benchmarks/folder_defaults/export_builtin.py fashion-mnist OUT_FOLDER [--per-class 150]

Reads ../shared/datasets (read-only, or DEEPCLUST_DATA); writes only OUT_FOLDER.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def main() -> int:
    from deepclust.data.builtin import load_builtin, proxy_indices

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", help="a built-in set: mnist-test, fashion-mnist, usps, ...")
    ap.add_argument("out", help="folder to write (created; must be empty)")
    ap.add_argument("--per-class", type=int, default=150)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise SystemExit(f"{out} is not empty")
    data = load_builtin(args.dataset)
    labels = data.labels.numpy()
    idx = proxy_indices(labels, args.per_class)
    images = (data.images[idx].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    for i, img, label in zip(idx.tolist(), images, labels[idx].tolist()):
        arr = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
        Image.fromarray(arr).save(out / f"c{label}__{i:05d}.png")
    print(f"wrote {len(idx)} images of {len(np.unique(labels))} classes to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
