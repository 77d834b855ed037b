"""How well `--k auto` guesses the number of classes, on labelled image sets.

For each set and seed: the eigengap estimate that `deepclust cluster --k auto` uses
(deepclust.cluster.estimate_k), and, on the same principal components of the pixels, the k that
silhouette, Calinski-Harabasz and Davies-Bouldin scores of k-means pick over the same range (2-30) —
the usual alternatives, measured once (seed 0) to justify the choice. Sets larger than 3,000 images
are sampled (seeded), as the estimator does.

    python benchmarks/estimate_k/run.py [--sets digits coil20 ...] [--seeds 0 1 2] [--out DIR]
    python benchmarks/folder_defaults/make_wild.py /tmp/wild --seed 0      # COIL-20 in the wild, then
    python benchmarks/estimate_k/run.py --sets --folder coil20-wild=/tmp/wild  # a folder as `cluster` reads it
                                        # (32 px); classes from the file names' prefix before "__"
    ... --folder coil20-wild-reframed=/tmp/wild --reframe object   # cropped to the objects
    ... --folder coil20-wild-isolated=/tmp/wild --reframe isolate  # and the backdrop set to black, as `cluster`
                                                                    # does by default since 2026-12-07

Writes one JSON per (set, seed) and summary.md under benchmarks/results/estimate-k/.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from deepclust.cluster.estimate_k import estimate_k, pixel_features, sample_indices
from deepclust.data import load_dataset
from deepclust.train.rundir import git_commit

ROOT = Path(__file__).resolve().parents[2]
SETS = ["digits", "coil20", "coil20-32", "usps", "mnist-test", "mnist", "fashion-mnist-1500", "fashion-mnist"]


def alternatives(z: np.ndarray, k_max: int, seed: int) -> dict[str, int]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    sil, ch, db = {}, {}, {}
    for k in range(2, k_max + 1):
        lab = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(z)
        sil[k], ch[k], db[k] = silhouette_score(z, lab), calinski_harabasz_score(z, lab), davies_bouldin_score(z, lab)
    return {"silhouette": max(sil, key=sil.get), "calinski_harabasz": max(ch, key=ch.get),
            "davies_bouldin": min(db, key=db.get)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="*", default=SETS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "estimate-k"))
    ap.add_argument("--no-alternatives", action="store_true")
    ap.add_argument("--folder", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--reframe", choices=("none", "object", "isolate"), default="none", help="data.reframe for the folders")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(name, None) for name in args.sets] + [tuple(f.split("=", 1)) for f in args.folder]
    for name, folder in jobs:
        if folder is None:
            ds = load_dataset(name)
            y = ds.labels.numpy()
        else:
            from deepclust.data import FOLDER_IMAGE_SIZE

            ds = load_dataset(folder, image_size=FOLDER_IMAGE_SIZE, reframe=args.reframe)
            prefixes = [Path(n).name.split("__")[0] for n in ds.names]
            y = np.unique(prefixes, return_inverse=True)[1]
        for seed in args.seeds:
            t = time.perf_counter()
            sel = sample_indices(len(ds.images), 3000, seed)  # the sample estimate_k_images takes
            images, labels = ds.images[torch.from_numpy(sel)], y[sel]
            z = pixel_features(images, seed=seed)
            est = estimate_k(z, seed=seed)
            rec = {"set": name, "seed": seed, "n_images": len(ds), "n_sampled": len(images),
                   **({"reframe": args.reframe} if folder is not None else {}),
                   "true_k": int(len(np.unique(y))), "k": est.k, "candidates": est.candidates,
                   "estimate": est.to_dict(), "estimate_s": round(time.perf_counter() - t, 2)}
            if seed == args.seeds[0] and not args.no_alternatives:
                rec["alternatives"] = alternatives(z, 30, seed)
            rec.update({"device": f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)",
                        "torch": torch.__version__, "git_commit": git_commit(),
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
            (out / f"{name}__s{seed}.json").write_text(json.dumps(rec, indent=1))
            print(name, seed, "true", rec["true_k"], "eigengap", est.k, est.candidates, rec.get("alternatives", ""),
                  f"{rec['estimate_s']} s", flush=True)
    summarise(out)


def summarise(out: Path) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*__s*.json"))]
    by_set: dict[str, list[dict]] = {}
    for r in rows:
        by_set.setdefault(r["set"], []).append(r)
    lines = ["# `--k auto` on labelled sets", "",
             "Eigengap estimate (what `deepclust cluster --k auto` uses) per seed, with its next two candidates; "
             "for seed 0 the k that silhouette / Calinski-Harabasz / Davies-Bouldin of k-means pick on the same "
             "features (k = 2-30). Sets over 3,000 images are sampled per seed.", "",
             "| set | images (sampled) | true k | eigengap k per seed [candidates] | silhouette | Calinski-Harabasz | Davies-Bouldin |",
             "|---|---|---|---|---|---|---|"]
    for name, rs in by_set.items():
        rs.sort(key=lambda r: r["seed"])
        alt = next((r["alternatives"] for r in rs if "alternatives" in r), {})
        ks = "; ".join(f"s{r['seed']}: **{r['k']}** {r['candidates'][1:]}" for r in rs)
        lines.append(f"| {name} | {rs[0]['n_images']} ({rs[0]['n_sampled']}) | {rs[0]['true_k']} | {ks} | "
                     f"{alt.get('silhouette', '–')} | {alt.get('calinski_harabasz', '–')} | {alt.get('davies_bouldin', '–')} |")
    r0 = rows[0] if rows else {}
    lines += ["", f"Device: {r0.get('device')}; torch {r0.get('torch')}; commit {r0.get('git_commit')}."]
    (out / "summary.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
