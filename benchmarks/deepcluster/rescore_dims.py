"""How many whitened dimensions should DeepCluster's final k-means read? Re-scores finished runs.

For each finished run folder (its model.safetensors holds the trained network), embeds the run's images again,
fits the PCA whitening on the top d components for d in (k - 1, k, 2k, 32) and runs the same k-means the run
ran (deepclust.cluster.kmeans, the run's n_init and seed), then scores against the labels (a built-in dataset's,
or COIL-20's file names objN__M.png). d = 32 is what runs did before method.assign_dims; it reproduces their ACC.

    python benchmarks/deepcluster/rescore_dims.py OUT.json RUN_DIR,SOURCE,K [RUN_DIR,SOURCE,K ...]

SOURCE: a folder of COIL-20 photos (read with the run's image size and reframe) or a built-in dataset name.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "folder_defaults"))


def run_and_images(run: Path, src: str, truth_re: str | None = None):
    """A finished run's model (load_model's cfg, model, centres, result) with the images it is scored on and their
    classes: SOURCE a folder (read as the run read it; classes from the file names by `truth_re`, COIL-20's by
    default) or a built-in dataset name (its labels)."""
    from deepclust.data import load_dataset, load_folder
    from deepclust.methods.pipeline import load_model
    from run import COIL_TRUTH, object_ids  # benchmarks/folder_defaults/run.py

    cfg, model, centers, result = load_model(run)
    if Path(src).is_dir():
        data = load_folder(src, cfg.data.image_size, cfg.data.channels, reframe=cfg.data.reframe)
        truth = object_ids(data.names, truth_re or COIL_TRUTH)
    else:
        data = load_dataset(src)
        truth = data.labels.numpy()
    return cfg, model, centers, result, data, truth


def main(out: str, specs: list[str]) -> None:
    from deepclust.cluster import kmeans
    from deepclust.cluster.whiten import fit_whitening, whiten_l2
    from deepclust.metrics import evaluate
    from deepclust.train.rundir import git_commit

    rows = []
    for spec in specs:
        run, src, k = spec.split(",")
        k, run = int(k), Path(run)
        cfg, model, _, result, data, truth = run_and_images(run, src)
        with torch.no_grad():
            f = model.embed(data.images, 4096, raw=True).float()
        acc = {}
        for d in sorted({max(2, k - 1), k, 2 * k, 32}):
            if d > 32:
                continue
            mean, proj = fit_whitening(f, d)
            labels, _ = kmeans(whiten_l2(f, mean, proj), k, n_init=cfg.method.n_init, seed=cfg.train.seed)
            acc[str(d)] = round(float(evaluate(truth, labels)["acc"]), 4)
        rows.append({"run": run.name, "source": Path(src).name, "k": k, "n_images": len(f),
                     "run_git_commit": result.get("git_commit"), "acc_by_dims": acc})
        print(rows[-1], flush=True)
    Path(out).write_text(json.dumps({"rows": rows, "device": "cpu", "torch": torch.__version__,
                                     "git_commit": git_commit(), "created": time.strftime("%Y-%m-%dT%H:%M:%S")},
                                    indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
