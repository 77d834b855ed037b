"""Deep Transfer Clustering on a known/new split of MNIST-test (10,000 real digits): the network learns
digits 0-4 from their labels, then clusters digits 5-9 (4,861 images, k = 5) without theirs. DTC's own
protocol (Han et al. 2019: CIFAR-10's first five classes labelled, the other five clustered), on a dataset
that is offline here. Against k-means on the pixels of the same 4,861 images.

Runs `deepclust fit --method METHOD --data mnist-test --k 5 --set data.known_classes=[0,1,2,3,4]
--set cluster.epochs=EPOCHS` for each (method, seed) and keeps the run's result.json, config.yaml and
metrics.jsonl under benchmarks/results/dtc-mnist-split/<method>__e<epochs>__s<seed>/. Finished cells are
skipped. The `kmeans_init` line of a DTC cell's metrics.jsonl is k-means on the PCA of the transferred
features before any clustering step.

    python benchmarks/dtc/mnist_split.py --methods kmeans dtc-baseline dtc dtc-te dtc-tep --seeds 0 1 2 [--epochs 30]
    python benchmarks/dtc/mnist_split.py --table      # markdown table of the finished cells
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results" / "dtc-mnist-split"
METHODS = ("kmeans", "dtc-baseline", "dtc", "dtc-te", "dtc-tep")


def run_cell(method: str, seed: int, epochs: int, runs_root: Path) -> None:
    cell = OUT / f"{method}__e{epochs}__s{seed}"
    if (cell / "result.json").exists():
        print(f"skip {cell.name} (done)", flush=True)
        return
    if method == "kmeans":
        kmeans_cell(cell, seed)
        return
    runs = runs_root / cell.name
    cmd = [sys.executable, "-m", "deepclust", "fit", "--method", method, "--data", "mnist-test", "--k", "5",
           "--seed", str(seed), "--out", str(runs), "--set", "data.known_classes=[0,1,2,3,4]",
           "--set", f"cluster.epochs={epochs}", "--set", "train.progress=false", "--quiet", "--no-report"]
    subprocess.run(cmd, check=True)
    run = sorted(runs.iterdir())[-1]
    cell.mkdir(parents=True, exist_ok=True)
    for f in ("result.json", "config.yaml", "metrics.jsonl"):
        if (run / f).exists():
            shutil.copy(run / f, cell / f)
    (cell / "command.txt").write_text(" ".join(["deepclust", *cmd[3:]]).replace(str(runs), "RUNS") + "\n")
    print(f"{cell.name}: done", flush=True)


def kmeans_cell(cell: Path, seed: int) -> None:
    """k-means (n_init 20, as the `kmeans` method) on the pixels of the same images of digits 5-9."""
    import platform
    import time

    import torch

    from deepclust.cluster import kmeans
    from deepclust.data import load_dataset
    from deepclust.data.known import split_by_class
    from deepclust.metrics import evaluate
    from deepclust.train.rundir import git_commit

    t0 = time.perf_counter()
    _, target = split_by_class(load_dataset("mnist-test"), [0, 1, 2, 3, 4])
    x = target.images.flatten(1).float() / 255
    labels, _ = kmeans(x, 5, n_init=20, seed=seed)
    res = {"method": "kmeans", "dataset": target.name, "n_images": len(target), "n_clusters": 5,
           **evaluate(target.labels, labels), "seed": seed, "wall_s": round(time.perf_counter() - t0, 3),
           "device": f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)", "torch": torch.__version__,
           "git_commit": git_commit()}
    cell.mkdir(parents=True, exist_ok=True)
    (cell / "result.json").write_text(json.dumps(res, indent=1) + "\n")
    print(f"{cell.name}: done", flush=True)


def table() -> str:
    rows: dict[str, list[dict]] = {}
    for res in sorted(OUT.glob("*/result.json")):
        method, epochs, _ = res.parent.name.split("__")
        r = json.loads(res.read_text())
        init = None
        m = res.parent / "metrics.jsonl"
        if m.exists():
            for line in m.read_text().splitlines():
                rec = json.loads(line)
                if rec.get("event") == "kmeans_init" and "acc" in rec:
                    init = rec
        rows.setdefault(f"{method} ({epochs})" if method != "kmeans" else method, []).append({**r, "init": init})

    def ms(vals):
        vals = [100 * v for v in vals]
        return f"{statistics.mean(vals):.1f} ± {statistics.stdev(vals):.1f}" if len(vals) > 1 else f"{vals[0]:.1f}"

    out = ["| method | seeds | ACC | NMI | ARI | ACC of k-means on the transferred features (start) | wall s (median) |",
           "|---|---|---|---|---|---|---|"]
    for name, cells in rows.items():
        inits = [c["init"]["acc"] for c in cells if c["init"]]
        out.append(f"| {name} | {len(cells)} | {ms([c['acc'] for c in cells])} | {ms([c['nmi'] for c in cells])} | "
                   f"{ms([c['ari'] for c in cells])} | {ms(inits) if inits else '–'} | "
                   f"{statistics.median(c['wall_s'] for c in cells):.0f} |")
    devices = sorted({c["device"] for cells in rows.values() for c in cells})
    torches = sorted({c["torch"] for cells in rows.values() for c in cells})
    out.append(f"\nDevice: {', '.join(devices)}; torch {', '.join(torches)}.")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--runs", default="/tmp/dtc-runs")
    ap.add_argument("--table", action="store_true", help="print the table of finished cells and stop")
    args = ap.parse_args()
    if args.table:
        print(table())
        return 0
    for method in args.methods:
        for seed in args.seeds:
            run_cell(method, seed, args.epochs, Path(args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
