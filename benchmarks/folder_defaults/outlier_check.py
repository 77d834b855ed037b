"""Does `deepclust predict` say that images unlike the training photos fit no cluster?

Writes 20 uniform-noise and 10 flat-grey 128×128 images (fixed seed) to a scratch folder, runs
`deepclust predict RUN_DIR NOISE/` for each run folder given, and counts the "fits" column; then the same
for 20 noise images at the model's input size (128-px noise, shrunk, is nearly flat grey). Optionally
also predicts new photos like the training ones (--held: they should fit) and another folder of photos
(--photos, e.g. the same objects in the wild). Writes one JSON with a record per run to --out.

    python benchmarks/folder_defaults/outlier_check.py RUN_DIR [RUN_DIR ...] --out FILE.json \
        [--held FOLDER] [--photos FOLDER]
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def noise_folder(root: Path) -> Path:
    g = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(20):
        Image.fromarray(g.integers(0, 256, (128, 128), dtype=np.uint8)).save(root / f"noise{i}.png")
    for i in range(10):
        Image.fromarray(np.full((128, 128), g.integers(0, 256), dtype=np.uint8)).save(root / f"flat{i}.png")
    return root


def sharp_noise_folder(root: Path, size: tuple[int, int]) -> Path:
    """20 noise images at the model's own size: the 128×128 noise above, shrunk to the model's input
    by the loader, averages out to nearly flat grey; this noise stays noise."""
    g = np.random.default_rng(2)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(20):
        Image.fromarray(g.integers(0, 256, size, dtype=np.uint8)).save(root / f"noise{i}.png")
    return root


def fits(run: Path, folder: Path, out_csv: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "deepclust", "predict", str(run), str(folder), "--output", str(out_csv)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    rows = list(csv.DictReader(open(out_csv, newline="")))
    return {"images": len(rows), "fit": sum(r["fits"] == "yes" for r in rows)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--held", default=None, help="a folder of new photos like the training ones (should fit)")
    ap.add_argument("--photos", default=None, help="a folder of ordinary photos to predict as well")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    noise = noise_folder(tmp / "noise")
    recs = []
    for run in map(Path, args.runs):
        result = json.loads((run / "result.json").read_text())
        rec = {"method": result.get("method"), "dataset": result.get("dataset"), "seed": result.get("seed"),
               "trained_on": result.get("device"), "n_train": result.get("n_images"), "acc": result.get("acc"),
               "novelty": result.get("novelty"), "noise_and_flat": fits(run, noise, tmp / "noise.csv")}
        h, w = result["image_shape"][1:]
        sharp = sharp_noise_folder(tmp / f"noise{h}x{w}", (h, w))
        rec["noise_at_model_size"] = {"size": [h, w], **fits(run, sharp, tmp / "sharp.csv")}
        if args.held:
            rec["held"] = {"folder": Path(args.held).name, **fits(run, Path(args.held), tmp / "held.csv")}
        if args.photos:
            rec["photos"] = {"folder": Path(args.photos).name, **fits(run, Path(args.photos), tmp / "photos.csv")}
        recs.append(rec)
        print(json.dumps(rec))
    import platform

    import torch

    # where predict ran (its default device, auto: the GPU when there is one)
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
              else f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")
    Path(args.out).write_text(json.dumps({"check": "predict 'fits' on 20 noise + 10 flat-grey 128-px images, 20 noise images at the model's size, and the folders given",
                                          "device": device, "torch": torch.__version__, "runs": recs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
