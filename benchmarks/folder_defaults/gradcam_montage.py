"""A picture of a run's Grad-CAM++ maps for the README: per cluster (a row), its most confident images, each
beside the map of what raised its score for that cluster (deepclust.explain.gradcam), recomputed from the
run's saved model on the images of its gradcam.npz.

    python benchmarks/folder_defaults/gradcam_montage.py RUN_DIR OUT.png [--per-row 4] [--scale 3]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image

from deepclust.explain.gradcam import cam_maps, overlay
from deepclust.methods.pipeline import load_model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("out")
    ap.add_argument("--per-row", type=int, default=4)
    ap.add_argument("--scale", type=int, default=3)
    args = ap.parse_args()
    _, model, _, _ = load_model(args.run_dir)
    with np.load(f"{args.run_dir}/gradcam.npz") as z:
        images, clusters = z["images"], z["clusters"]
    maps = cam_maps(model, torch.from_numpy(images), clusters)
    h, w = images.shape[2:]
    rows = []
    for c in np.unique(clusters):
        tiles = []
        for i in np.flatnonzero(clusters == c)[: args.per_row]:
            img = np.transpose(images[i], (1, 2, 0))
            tiles += [np.repeat(img, 3, 2) if img.shape[2] == 1 else img, overlay(img, maps[i])]
        tiles += [np.zeros((h, w, 3), np.uint8)] * (2 * args.per_row - len(tiles))
        rows.append(np.concatenate(tiles, 1))
    grid = np.concatenate(rows, 0)
    Image.fromarray(grid).resize((grid.shape[1] * args.scale, grid.shape[0] * args.scale), Image.NEAREST).save(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
