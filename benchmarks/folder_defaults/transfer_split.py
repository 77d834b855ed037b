"""A curator who has sorted some photos: Deep Transfer Clustering on folders, against the folder default.

Splits a COIL-20 folder (as shot: ../shared/datasets/COIL20/coil-20-proc; or "in the wild", written by
make_wild.py) by object: objects 1-10 go to KNOWN/objN/ (one subfolder per known class, the labels a
curator gives), objects 11-20 to NEW/ (flat, no labels). Then runs the command a curator runs,

    deepclust cluster NEW --known KNOWN --k 10          (dtc, the default with --known)
    deepclust cluster NEW --k 10 --method M             (M: stdac, the folder default; kmeans)

and scores each run from the file names (objN__M.png is object N). One JSON per cell and summary.md under
benchmarks/results/folder-transfer[-wild]/.

    python benchmarks/folder_defaults/transfer_split.py [--source FOLDER --name wild] [--methods dtc stdac kmeans] [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import COIL, result_cells, score  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def split(source: Path, work: Path) -> tuple[Path, Path]:
    known, new = work / "known", work / "new"
    if known.is_dir() and new.is_dir():
        return known, new
    for p in sorted(source.glob("obj*__*.png")):
        obj = int(re.match(r"obj(\d+)__", p.name).group(1))
        dest = known / f"obj{obj}" if obj <= 10 else new
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dest / p.name)
    return known, new


def run_cell(method: str, seed: int, known: Path, new: Path, runs: Path, sets: list[str]) -> dict:
    cmd = [sys.executable, "-m", "deepclust", "cluster", str(new), "--k", "10", "--seed", str(seed),
           "--out", str(runs / method), "--quiet", "--no-report"]
    cmd += ["--known", str(known)] if method == "dtc" else ["--method", method]
    for kv in sets:
        cmd += ["--set", kv]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{method}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    run_dir = sorted((runs / method).iterdir(), key=os.path.getmtime)[-1]
    result = json.loads((run_dir / "result.json").read_text())
    import torch

    from deepclust.train.rundir import git_commit

    return {"table": "folder-transfer", "method": method, "sets": sets, "seed": seed,
            **score(run_dir / "assignments.csv"), "n_images": result["n_images"], "wall_s": round(wall, 2),
            "fit_wall_s": result.get("wall_s"), "stage_s": result.get("stage_s"), "device": result.get("device"),
            "torch": torch.__version__, "git_commit": result.get("git_commit") or git_commit(),  # the code the run ran
            "command": " ".join(["deepclust", *cmd[3:]]).replace(str(new), "NEW").replace(str(known), "KNOWN")
                       .replace(str(runs), "RUNS"),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}


def summary(out: Path, source: str) -> str:
    recs = [json.loads(p.read_text()) for p in sorted(out.glob("*__s*.json"))]
    groups: dict[str, list[dict]] = {}
    for r in recs:
        groups.setdefault(r["method"], []).append(r)

    lines = [f"{source}: objects 11-20 ({recs[0]['n_images'] if recs else '?'} images) clustered into 10 with "
             "`deepclust cluster NEW --k 10` at the folder defaults; `dtc` also gets objects 1-10 sorted into one "
             "subfolder each (`--known KNOWN`). Scored from the file names; mean ± std (population) over the seeds.",
             "", "| method | seeds | ACC | NMI | ARI | wall s (median) | device |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for method, rs in sorted(groups.items(), key=lambda kv: -np.mean([r["acc"] for r in kv[1]])):
        lines.append(f"| {method} | {result_cells(rs)} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default=str(COIL), help="a COIL-20 folder (objN__M.png files)")
    ap.add_argument("--name", default="", help="results go to benchmarks/results/folder-transfer[-NAME]/")
    ap.add_argument("--methods", nargs="+", default=["dtc", "stdac", "kmeans"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--variant", default="")
    ap.add_argument("--work", default="/tmp/folder-transfer")
    args = ap.parse_args()
    if args.set and not args.variant:
        raise SystemExit("--set needs --variant NAME")
    out = ROOT / "benchmarks" / "results" / ("folder-transfer" + (f"-{args.name}" if args.name else ""))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work) / (args.name or "as-shot")
    known, new = split(Path(args.source), work)
    for method in args.methods:
        for seed in args.seeds:
            name = method + (f"+{args.variant}" if args.variant else "")
            f = out / f"{name}__s{seed}.json"
            if f.exists():
                print(f"skip {f.name}", flush=True)
                continue
            rec = run_cell(method, seed, known, new, work / "runs", args.set)
            rec["method"] = name
            f.write_text(json.dumps(rec, indent=1) + "\n")
            print(f"{f.name}: ACC {rec['acc']:.3f} NMI {rec['nmi']:.3f} ({rec['wall_s']:.0f} s)", flush=True)
    (out / "summary.md").write_text(summary(out, "COIL-20 " + (args.name or "as shot")))
    print((out / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
