"""Does a run's confidence column tell right assignments from wrong ones? Checks finished folder runs.

For each run, reads assignments.csv (the confidence a user sees: the Student-t soft assignment's largest value)
and the truth from the file names, maps clusters to classes as ACC does (Hungarian), and reports the mean
confidence beside the accuracy and the AUROC of the confidence for "assigned to its class's cluster" (0.5: no
better than chance; 1: every wrong image below every right one). For comparison, two other readings of the same
distances, recomputed from the saved model: the posterior of an isotropic Gaussian mixture with the run's
centres and one variance fitted to the clusters (mean squared distance to the own centre over the dimensions),
and the margin 1 - d1²/d2² between the nearest and second-nearest centre.

    python benchmarks/deepcluster/confidence_check.py OUT.json RUN_DIR,FOLDER,TRUTH_REGEX [...]

TRUTH_REGEX: its first group is a file's class, e.g. 'c(\\d+)__' (export_builtin.py) or 'obj(\\d+)__' (COIL-20).
"""
from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rescore_dims import run_and_images  # this folder's; it puts the repository and folder_defaults/ on the path
from run import object_ids  # noqa: E402  (benchmarks/folder_defaults/run.py)


def main(out: str, specs: list[str]) -> None:
    from sklearn.metrics import roc_auc_score

    from deepclust.metrics import cluster_to_label
    from deepclust.train.rundir import git_commit

    rows = []
    for spec in specs:
        run, folder, truth_re = spec.split(",", 2)
        run = Path(run)
        cfg, model, centers, result, data, _ = run_and_images(run, folder, truth_re)
        with open(run / "assignments.csv", newline="", encoding="utf-8") as f:
            recs = list(csv.DictReader(f))
        names = [r["file"] for r in recs]
        label = np.array([int(r["cluster"]) for r in recs])
        conf = np.array([float(r["confidence"]) for r in recs])
        truth = object_ids(names, truth_re)
        to_class = cluster_to_label(truth, label)
        right = np.array([to_class.get(c, -1) == t for c, t in zip(label.tolist(), truth.tolist())])

        order = {n: i for i, n in enumerate(data.names)}
        with torch.no_grad():
            z = model.embed(data.images).float()[[order[n] for n in names]]
        d2 = torch.cdist(z, centers.float()).pow(2)
        own = d2.gather(1, torch.from_numpy(label)[:, None]).squeeze(1)
        dims = int((z.std(0) > 1e-6).sum())
        gmm = torch.softmax(-d2 / (2 * own.mean() / dims), 1).max(1).values.numpy()
        nearest = d2.sort(1).values
        margin = (1 - nearest[:, 0] / nearest[:, 1].clamp_min(1e-12)).numpy()

        def summary(v: np.ndarray) -> dict:
            return {"mean": round(float(v.mean()), 4), "auroc": round(float(roc_auc_score(right, v)), 4)}

        rows.append({"run": run.name, "method": cfg.method.name, "folder": Path(folder).name, "k": int(centers.shape[0]),
                     "n_images": len(names), "acc": round(float(right.mean()), 4),
                     "confidence_column": summary(conf), "gaussian_posterior": summary(gmm),
                     "margin": summary(margin), "dims": dims, "run_git_commit": result.get("git_commit"),
                     "run_device": result.get("device")})
        print(rows[-1], flush=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"rows": rows, "device": "cpu", "torch": torch.__version__,
                                     "git_commit": git_commit(), "created": time.strftime("%Y-%m-%dT%H:%M:%S")},
                                    indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2:])
