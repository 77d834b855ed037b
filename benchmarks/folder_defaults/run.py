"""Which method and image size should `deepclust cluster PHOTOS/` use by default?

Runs the very command a curator runs, `deepclust cluster FOLDER --method M --image-size S`, on
COIL-20 read as a plain folder (1,440 photographs of 20 objects; the loader sees no labels), for
each (method, size), with one budget for all: at most PRETRAIN_STEPS autoencoder steps and
CLUSTER_STEPS clustering steps (the CPU cannot afford the full folder defaults for every cell).
Scores each run afterwards from the file names (objN__M.png is object N) and writes one JSON per
cell plus summary.md under benchmarks/results/folder-defaults/.

    python benchmarks/folder_defaults/run.py [--methods ...] [--sizes 32 64] [--seeds 0 1 2] [--set K=V --variant NAME]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
COIL = ROOT / ".." / "shared" / "datasets" / "COIL20" / "coil-20-proc"
OUT = ROOT / "benchmarks" / "results" / "folder-defaults"
METHODS = ["kmeans", "idec", "dcec", "gapdcec", "convidec-da", "stdac"]
PRETRAIN_STEPS, CLUSTER_STEPS = 300, 600


COIL_TRUTH = r"obj(\d+)__"  # COIL-20's names: objN__M.png is object N


def object_ids(names, truth: str = COIL_TRUTH) -> np.ndarray:
    """The class of each file, read from its name by the regular expression `truth` (its first group; COIL-20's
    object number by default): the truth the folder runs are scored on."""
    return np.array([int(re.match(truth, Path(n).name).group(1)) for n in names])


def score(assignments: Path, truth: str = COIL_TRUTH) -> dict:
    from deepclust.metrics import evaluate

    names, pred = [], []
    with open(assignments, newline="") as f:
        for row in csv.DictReader(f):
            names.append(row["file"])
            pred.append(int(row["cluster"]))
    return {k: round(float(v), 4) for k, v in evaluate(object_ids(names, truth), np.array(pred)).items()}


def run_cell(method: str, size: int, seed: int, folder: Path, runs: Path, sets: tuple[str, ...] = (),
             variant: str = "", dataset: str = "coil20 as a folder (1440 images, 20 objects)", k: int = 20,
             truth: str = COIL_TRUTH) -> dict:
    name = method + (f"+{variant}" if variant else "")
    cmd = [sys.executable, "-m", "deepclust", "cluster", str(folder), "--method", method, "--image-size", str(size),
           "--k", str(k), "--seed", str(seed), "--out", str(runs / f"{name}-{size}"), "--quiet", "--no-report",
           "--set", f"pretrain.max_steps={PRETRAIN_STEPS}", "--set", f"cluster.max_steps={CLUSTER_STEPS}"]
    for kv in sets:
        cmd += ["--set", kv]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{method} {size}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    run_dir = sorted((runs / f"{name}-{size}").iterdir(), key=os.path.getmtime)[-1]
    result = json.loads((run_dir / "result.json").read_text())
    import torch

    from deepclust.train.rundir import git_commit

    return {"table": "folder-defaults", "dataset": dataset,
            "method": name, "sets": list(sets), "image_size": size, "seed": seed, "k": k,
            **score(run_dir / "assignments.csv", truth),
            "wall_s": round(wall, 2), "fit_wall_s": result.get("wall_s"), "stage_s": result.get("stage_s"),
            "device": result.get("device"), "torch": torch.__version__,
            "git_commit": result.get("git_commit") or git_commit(),  # the code the run ran, not this script's checkout
            "budget": {"pretrain.max_steps": PRETRAIN_STEPS, "cluster.max_steps": CLUSTER_STEPS},
            "command": " ".join(cmd[1:]).replace(str(folder), "FOLDER").replace(str(runs), "RUNS"),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}


def summary(out: Path) -> str:
    recs = [json.loads(p.read_text()) for p in sorted(out.glob("*__s*.json"))]
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in recs:
        groups.setdefault((r["method"], r["image_size"]), []).append(r)

    rows = sorted(groups.items(), key=lambda kv: -np.mean([r["acc"] for r in kv[1]]))
    dataset = recs[0]["dataset"] if recs else "?"
    ks = sorted({r.get("k", 20) for r in recs})
    lines = [f"{dataset}, clustered with `deepclust cluster` (k = {', '.join(map(str, ks))}), every method on one budget "
             f"(≤ {PRETRAIN_STEPS} pretraining + ≤ {CLUSTER_STEPS} clustering steps, unless the method's name says "
             "`+default-schedule`: the folder defaults, 200 pretraining epochs and ≤ 2,000 clustering steps); "
             "scored from the file names. Mean ± std (population) over the seeds listed; one value is one seed.",
             "", "| method | size | seeds | ACC | NMI | ARI | wall s (median) | device |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (method, size), rs in rows:
        lines.append(f"| {method} | {size} | {result_cells(rs)} |")
    return "\n".join(lines) + "\n"


def result_cells(rs: list[dict]) -> str:
    """The cells a summary row gives a group of seeds: seeds | ACC | NMI | ARI | median wall s | devices,
    each metric as mean ± std (population), or the value of a single seed."""
    def ms(vals: list[float]) -> str:
        return f"{np.mean(vals):.3f} ± {np.std(vals):.3f}" if len(vals) > 1 else f"{vals[0]:.3f}"

    devices = ", ".join(sorted({str(r["device"]) for r in rs}))
    return (f"{', '.join(str(r['seed']) for r in sorted(rs, key=lambda r: r['seed']))} | "
            f"{ms([r['acc'] for r in rs])} | {ms([r['nmi'] for r in rs])} | {ms([r['ari'] for r in rs])} | "
            f"{np.median([r['wall_s'] for r in rs]):.0f} | {devices}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--sizes", nargs="+", type=int, default=[32, 64])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--folder", default=str(COIL))
    ap.add_argument("--runs", default="/tmp/folder-defaults-runs", help="where the run folders go")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra setting for every cell (a variant; needs --variant to name it)")
    ap.add_argument("--dataset", default="coil20 as a folder (1440 images, 20 objects)",
                    help="what --folder holds, recorded in every cell")
    ap.add_argument("--variant", default="", help="short name of the --set variant, appended to the method's")
    ap.add_argument("--k", type=int, default=20, help="number of clusters (COIL-20: 20 objects)")
    ap.add_argument("--truth", default=COIL_TRUTH,
                    help="regular expression whose first group is a file's class (default: COIL-20's objN__)")
    args = ap.parse_args()
    out, runs = Path(args.out), Path(args.runs)
    if bool(args.set) != bool(args.variant):
        ap.error("--set and --variant go together")
    out.mkdir(parents=True, exist_ok=True)
    cells = [(seed, size, method) for seed in args.seeds for size in args.sizes for method in args.methods]
    for seed, size, method in cells:
        name = method + (f"+{args.variant}" if args.variant else "")
        path = out / f"{name}__{size}px__s{seed}.json"
        if path.exists():
            print(f"skip {path.name} (done)", flush=True)
            continue
        rec = run_cell(method, size, seed, Path(args.folder), runs, tuple(args.set), args.variant, args.dataset,
                       args.k, args.truth)
        path.write_text(json.dumps(rec, indent=2) + "\n")
        print(f"{name:12s} {size:3d} px s{seed}  ACC {rec['acc']:.3f} NMI {rec['nmi']:.3f} ARI {rec['ari']:.3f} "
              f"{rec['wall_s']:.0f} s", flush=True)
    (out / "summary.md").write_text(summary(out))
    print(summary(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
