"""COIL-20 "in the wild": each photo moved, scaled, turned and set on a different background.

COIL-20 is unusually kind to pixel distances: every object sits centred on black, and its 72 poses
differ by 5° turns, so neighbouring poses are nearly the same pixels. Crowdsourced photos are not like
that (the heritage use case: the same monument framed, scaled and lit differently). This writes a
harder copy, reproducibly (fixed seed), to test the folder defaults on a set where the object's place
in the frame varies.

- each 128×128 image is scaled by 0.6-1.0, rotated by ±25°, and pasted at a random place on a
  160×160 canvas whose background is a random grey level plus a random linear gradient;
- names are kept (objN__M.png), so runs are scored from the file names as before.

    python benchmarks/folder_defaults/make_wild.py OUT_FOLDER [--seed 0]

Reads ../shared/datasets/COIL20 (read-only); writes only OUT_FOLDER.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
COIL = ROOT / ".." / "shared" / "datasets" / "COIL20" / "coil-20-proc"
CANVAS = 160


def wild(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    side = int(round(img.width * rng.uniform(0.6, 1.0)))
    obj = img.convert("L").resize((side, side), Image.Resampling.BILINEAR)
    angle = float(rng.uniform(-25, 25))
    mask = Image.new("L", obj.size, 255).rotate(angle, resample=Image.Resampling.BILINEAR)
    obj = obj.rotate(angle, resample=Image.Resampling.BILINEAR)
    # The object's own black studio background is transparent too, so the new background shows.
    arr = np.asarray(obj, dtype=np.float32)
    # (it is 0 to ~6 in the processed set: fully transparent up to 8, opaque from 16).
    mask = Image.fromarray((np.asarray(mask, dtype=np.float32) * np.clip((arr - 8.0) / 8.0, 0, 1)).astype(np.uint8))
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS] / CANVAS
    level, gx, gy = rng.uniform(30, 200), rng.uniform(-50, 50), rng.uniform(-50, 50)
    bg = np.clip(level + gx * (xx - 0.5) + gy * (yy - 0.5) + rng.normal(0, 4, (CANVAS, CANVAS)), 0, 255)
    canvas = Image.fromarray(bg.astype(np.uint8))
    x, y = (int(rng.integers(0, CANVAS - side + 1)) for _ in range(2))
    canvas.paste(obj, (x, y), mask)
    return canvas


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", default=str(COIL))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    files = sorted(Path(args.source).glob("obj*__*.png"))
    if not files:
        raise SystemExit(f"no COIL-20 images under {args.source}")
    for p in files:
        with Image.open(p) as im:
            wild(im, rng).save(out / p.name)
    print(f"{len(files)} images -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
