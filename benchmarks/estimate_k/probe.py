"""How well `--k auto --known` guesses the number of new classes: Deep Transfer Clustering's probe estimate
(deepclust/methods/probe_k.py) against the pixels' eigengap that `--k auto` uses without known classes, on
known/new splits whose answer is known.

Sets (the new images are clustered; the known ones are labelled):
  mnist-split    MNIST-test, digits 0-4 known, 5-9 new (k = 5; DTC's protocol, as benchmarks/dtc/mnist_split.py)
  mnist-split7   MNIST-test, digits 0-6 known, 7-9 new (k = 3)
  NAME=FOLDER    a COIL-20 folder (objN__M.png), split as benchmarks/folder_defaults/transfer_split.py does:
                 objects 1-10 known (one subfolder each), 11-20 new (k = 10); read at the folder default, 32 px

The probe estimate runs with the `dtc` recipe's settings and the run's seed, in this process (what
`deepclust cluster NEW --known SORTED --k auto` runs before it trains). One JSON per (set, seed) and summary.md
under benchmarks/results/estimate-k-probe/.

    python benchmarks/estimate_k/probe.py --sets mnist-split mnist-split7 --folder coil20=DIR --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "folder_defaults"))
SPLITS = {"mnist-split": [0, 1, 2, 3, 4], "mnist-split7": [0, 1, 2, 3, 4, 5, 6]}


def load(name: str, folder: str | None, seed: int, work: Path):
    """(config, images to cluster, known images, true k) as the CLI prepares them."""
    from deepclust.data import FOLDER_IMAGE_SIZE, load_dataset
    from deepclust.data.known import prepare_known
    from deepclust.methods.pipeline import make_config

    sets = [f"train.seed={seed}", "train.progress=false"]
    if folder is None:
        cfg = make_config("dtc", sets=sets + [f"data.name=mnist-test", f"data.known_classes={SPLITS[name]}"])
        data = load_dataset("mnist-test")
    else:
        from transfer_split import split

        known, new = split(Path(folder), work / name)
        cfg = make_config("dtc", sets=sets + [f"data.name={new}", f"data.known={known}",
                                              f"data.image_size={FOLDER_IMAGE_SIZE}"])
        data = load_dataset(new, image_size=FOLDER_IMAGE_SIZE)
    cfg, data, known = prepare_known(cfg, data)
    if data.labels is not None:
        true_k = len(torch.unique(data.labels))
    else:  # COIL-20 file names: objN__M.png
        true_k = len({Path(n).name.split("__")[0] for n in data.names})
    return cfg, data, known, true_k


def main() -> None:
    from deepclust.cluster.estimate_k import estimate_k_images
    from deepclust.methods.probe_k import estimate_k
    from deepclust.train.device import resolve_precision
    from deepclust.train.rundir import git_commit

    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="*", default=list(SPLITS))
    ap.add_argument("--folder", action="append", default=[], metavar="NAME=FOLDER")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "estimate-k-probe"))
    ap.add_argument("--work", default="/tmp/estimate-k-probe")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(n, None) for n in args.sets] + [tuple(f.split("=", 1)) for f in args.folder]
    for name, folder in jobs:
        for seed in args.seeds:
            f = out / f"{name}__s{seed}.json"
            if f.exists():
                print(f"skip {f.name}", flush=True)
                continue
            cfg, data, known, true_k = load(name, folder, seed, Path(args.work))
            t = time.perf_counter()
            est = estimate_k(cfg, data, known, echo=print)
            probe_s = time.perf_counter() - t
            t = time.perf_counter()
            eig = estimate_k_images(data.images, seed=seed)
            eig_s = time.perf_counter() - t
            rec = {"set": name, "seed": seed, "true_k": true_k, "n_new": len(data), "n_known": len(known),
                   "known_classes": int(known.labels.max()) + 1,
                   "probe_k": est.k, "probe": est.to_dict(), "probe_s": round(probe_s, 1),
                   "eigengap_k": eig.k, "eigengap_candidates": eig.candidates, "eigengap_s": round(eig_s, 1),
                   "device": f"cpu ({platform.machine()}, {torch.get_num_threads()} threads, "
                             f"{resolve_precision(cfg.train.precision, torch.device('cpu'))})",
                   "torch": torch.__version__, "git_commit": git_commit(),
                   "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
            f.write_text(json.dumps(rec, indent=1) + "\n")
            print(f"{name} s{seed}: true {true_k}, probe {est.k} (ACC {est.k_acc}, silhouette {est.k_cvi}), "
                  f"eigengap {eig.k}; {probe_s:.0f} s", flush=True)
    summarise(out)


def summarise(out: Path) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*__s*.json"))]
    by_set: dict[str, list[dict]] = {}
    for r in rows:
        by_set.setdefault(r["set"], []).append(r)
    lines = ["# `--k auto` with known classes: DTC's probe estimate against the pixels' eigengap", "",
             "Per seed: the probe estimate (the candidates its validation probes' ACC and the silhouette picked), "
             "and the eigengap of the new images' pixels (what `--k auto` gives without known classes). Mean "
             "absolute error over the seeds. `benchmarks/estimate_k/probe.py`.", "",
             "| set | known classes (images) | new images | true k | probe k per seed (ACC / silhouette pick) | "
             "probe error | eigengap k per seed | eigengap error | probe time (s, median) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, rs in by_set.items():
        rs.sort(key=lambda r: r["seed"])
        t = rs[0]["true_k"]
        pk = "; ".join(f"s{r['seed']}: **{r['probe_k']}** ({r['probe']['k_acc']} / {r['probe']['k_cvi']})" for r in rs)
        ek = "; ".join(f"s{r['seed']}: **{r['eigengap_k']}**" for r in rs)
        pe = np.mean([abs(r["probe_k"] - t) for r in rs])
        ee = np.mean([abs(r["eigengap_k"] - t) for r in rs])
        lines.append(f"| {name} | {rs[0]['known_classes']} ({rs[0]['n_known']}) | {rs[0]['n_new']} | {t} | {pk} | "
                     f"{pe:.1f} | {ek} | {ee:.1f} | {np.median([r['probe_s'] for r in rs]):.0f} |")
    devices = sorted({r["device"] for r in rows})
    commits = sorted({r["git_commit"] for r in rows})
    lines += ["", f"Device: {'; '.join(devices)}; torch {rows[0]['torch'] if rows else '?'}; "
                  f"commit {', '.join(commits)}."]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print((out / "summary.md").read_text())


if __name__ == "__main__":
    main()
