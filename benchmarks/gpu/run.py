"""Everything that needs a GPU, in one device call, most important first, inside a deadline.

A task that is lent a GPU gets about 15 minutes of device time in all (start-up included) and at most
10 minutes a command, so this script is the one prepared call (see benchmarks/gpu/README.md):

1. `env`    the machine: GPU, driver, torch, CUDA (env.json);
2. `smoke`  the CUDA path on tiny data: DEC, DCEC, ConvDEC-DA and ST-DAC fit a few steps under bf16
            autocast and channels-last, results are finite, torch k-means on the GPU matches
            scikit-learn's inertia (smoke.json). A failure here stops the script: fix it on the CPU;
3. `speed`  steady-state milliseconds per training step of the MLP and conv autoencoders at batch 256,
            eager and under `train.compile` default / reduce-overhead (CUDA graphs) (speed.json);
4. `timing` the issue's GPU goals: DEC and DCEC, full schedule on MNIST-full (seed 0), end to end, with
            the `train.compile` mode the speed stage predicts fastest for that many steps (timing.json, the
            cells' JSON under $OUT/timing/). Apart from the table: the table's seed-0 cells of both already
            ran on the CPU, and `cells` skips committed cells, so without this stage no GPU time is measured;
5. `cells`  full-profile table cells not yet committed, in priority order (the GPU-only ones first:
            ST-DAC's 10 epochs, ConvDEC-DA on MNIST-full and Fashion-MNIST), each written as the bench
            runner's JSON under $OUT/results/<table>/full/. No new cell starts after --deadline seconds;
            cells already in benchmarks/results are skipped, so a second call continues where the first
            stopped.

    python3 benchmarks/gpu/run.py [--deadline 470] [--only env smoke speed timing cells] [--device cuda]

Run on the CPU with `--device cpu --dry-run` to check the plan and the smoke stage before a lease.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# (table, row, dataset column, seed), most wanted first; committed cells are skipped (most of the
# MNIST-test / USPS ones and DEC/DCEC on MNIST-full ran on the CPU). The GPU timing goals are the `timing`
# stage's, not a cell's.
TIMED_TABLE = "gapdcec-table1"
TIMED = (("DEC", "MNIST-full", 0), ("DCEC", "MNIST-full", 0))  # DEC <= 30 s, DCEC <= 45 s end to end
TIMED_METHOD = {"DEC": "ae-kmeans", "DCEC": "dcec"}  # the speed stage's run with the same network
GPU_FIRST = [  # hours per cell on the CPU: what only the GPU will run
    ("stdac-table2", "ST-DAC + 2 ST", "MNIST", 0),
    ("stdac-table2", "ST-DAC + 3 ST", "Fashion-MNIST", 0),
    ("decda", "ConvDEC-DA", "MNIST-full", 0),
    ("decda", "ConvDEC-DA", "Fashion-MNIST", 0),
    ("gapdcec-table1", "GAP-DCEC", "MNIST-full", 0),
]
CELLS = [
    *GPU_FIRST,
    ("gapdcec-table1", "DCEC", "MNIST-full", 1),
    ("gapdcec-table1", "DCEC", "MNIST-full", 2),
    *[("stdac-table2", r, c, 0) for c in ("MNIST", "Fashion-MNIST")
      for r in ("DAC*", "ST-DAC, no ST", "ST-DAC + 1 ST", "ST-DAC + 2 ST", "ST-DAC + 3 ST")],
    *[("decda", "ConvIDEC-DA", c, 0) for c in ("MNIST-full", "Fashion-MNIST")],
    *[(t, r, c, s) for s in (1, 2) for (t, r, c, _) in GPU_FIRST],
    *[("gapdcec-table1", r, c, s) for s in (0, 1, 2) for c in ("MNIST-full", "MNIST-test", "USPS")
      for r in ("K-means", "DEC", "IDEC", "DCN", "DCEC", "GAP-DCEC")],
    *[("decda", r, c, s) for s in (0, 1, 2) for c in ("MNIST-full", "MNIST-test", "USPS", "Fashion-MNIST")
      for r in ("ConvDEC-DA", "ConvIDEC-DA")],
]
CELLS = list(dict.fromkeys(CELLS))  # first mention wins


def _write(out: Path, name: str, rec) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_text(json.dumps(rec, indent=1, default=str) + "\n")


def stage_env(out: Path, device: str) -> dict:
    import torch

    rec = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": sys.version.split()[0],
           "cuda_available": torch.cuda.is_available(), "device": device}
    if torch.cuda.is_available():
        rec["gpu"] = torch.cuda.get_device_name(0)
        rec["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
    try:
        rec["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm",
             "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        rec["nvidia_smi"] = f"unavailable: {e}"
    for mod in ("faiss", "sklearn", "h5py", "safetensors", "jinja2", "matplotlib", "tqdm", "yaml", "PIL"):
        try:
            m = __import__(mod)
            rec[f"pkg_{mod}"] = getattr(m, "__version__", "present")
        except ImportError:
            rec[f"pkg_{mod}"] = None
    _write(out, "env.json", rec)
    return rec


def stage_smoke(out: Path, device: str) -> dict:
    import numpy as np
    import torch
    from sklearn.cluster import KMeans

    from deepclust.cluster.torch_kmeans import torch_kmeans
    from deepclust.data import load_dataset
    from deepclust.methods.pipeline import fit, make_config

    rec: dict = {"device": device, "fits": {}}
    digits = load_dataset("digits")
    d16 = load_dataset("digits", image_size=16)
    short = {"train": {"device": device, "progress": False, "log_every": 5, "checkpoint_every": 10**9},
             "pretrain": {"epochs": None, "max_steps": 20}, "cluster": {"epochs": None, "max_steps": 20},
             "method": {"n_init": 3}}
    from deepclust.data.known import prepare_known

    for name, data in (("dec", digits), ("dcec", d16), ("convdec-da", d16), ("stdac", d16), ("deepcluster", d16),
                       ("dtc-tep", d16), ("dtc", d16)):
        t0 = time.perf_counter()
        over = copy.deepcopy(short)
        if name in ("stdac", "deepcluster"):  # no pretraining stage
            over.pop("pretrain")
        known = None
        cfg = make_config(name, overrides=over)
        if name.startswith("dtc"):  # learns digits 0-4 from their labels, clusters 5-9
            cfg = make_config(name, overrides=copy.deepcopy({**over, "method": {"n_init": 3, "n_clusters": 5},
                                                             "data": {"known_classes": [0, 1, 2, 3, 4]}}))
            cfg, data, known = prepare_known(cfg, data)
        res = fit(cfg, data, known=known)
        from deepclust.explain.gradcam import cam_maps, explainable

        if explainable(res.model):  # Grad-CAM's CUDA path too

            maps = cam_maps(res.model, data.images[:8], res.labels[:8])
            if maps.shape[0] != 8 or not np.isfinite(maps).all():
                raise RuntimeError(f"smoke: Grad-CAM maps of {name} on {device} are wrong")
        ok = bool(np.isfinite(res.embedding).all()) and res.labels.shape == (len(data),)
        rec["fits"][name] = {"ok": ok, "acc": res.metrics["acc"], "device": res.device,
                             "wall_s": round(time.perf_counter() - t0, 2)}
        if not ok:
            raise RuntimeError(f"smoke: {name} gave non-finite embeddings on {device}")
        if name == "dtc":  # --k auto with known classes: the probe estimate's supervised fit on the device
            from deepclust.methods.probe_k import estimate_k

            t0 = time.perf_counter()
            est = estimate_k(cfg, data, known)
            rec["probe_k"] = {"method": est.method, "k": est.k, "k_acc": est.k_acc, "k_cvi": est.k_cvi,
                              "wall_s": round(time.perf_counter() - t0, 2)}
            if est.method != "probe" or not all(np.isfinite(est.acc + est.cvi)):
                raise RuntimeError(f"smoke: the probe estimate on {device} gave {est.to_dict()}")
    g = np.random.default_rng(0)
    x = np.concatenate([c + g.normal(0, 3, (2000, 10)) for c in g.normal(0, 4, (10, 10))]).astype(np.float32)
    t0 = time.perf_counter()
    labels, centers = torch_kmeans(torch.from_numpy(x).to(device), 10, n_init=20, seed=0)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t_torch = time.perf_counter() - t0
    labels, centers = labels.cpu().numpy(), centers.cpu().numpy()
    inertia = float(((x - centers[labels]) ** 2).sum())
    t0 = time.perf_counter()
    ref = KMeans(10, n_init=20, random_state=0).fit(x)
    rec["kmeans"] = {"n": len(x), "torch_inertia": inertia, "sklearn_inertia": float(ref.inertia_),
                     "torch_s": round(t_torch, 3), "sklearn_s": round(time.perf_counter() - t0, 3)}
    if inertia > ref.inertia_ * 1.01:
        raise RuntimeError(f"smoke: torch k-means inertia {inertia:.1f} > scikit-learn's {ref.inertia_:.1f}")
    _write(out, "smoke.json", rec)
    return rec


def stage_speed(out: Path, device: str, steps: int = 300) -> dict:
    """Steady-state time per step: the loop itself, timed from metrics.jsonl between two log points."""
    from deepclust.data import load_dataset
    from deepclust.methods.pipeline import fit, make_config
    from deepclust.train.rundir import RunDir

    data = load_dataset("mnist-test")
    rec: dict = {"device": device, "steps": steps, "batch_size": 256, "data": "mnist-test", "runs": []}
    modes = ("none", "default", "reduce-overhead")
    for method, compile_ in ((m, c) for m in ("ae-kmeans", "dcec") for c in modes):
        over = {"train": {"device": device, "progress": False, "log_every": max(1, steps // 3), "compile": compile_,
                          "checkpoint_every": 10**9},
                "pretrain": {"epochs": None, "max_steps": steps}, "cluster": {"epochs": 0, "max_steps": 0,
                                                                               "losses": {}, "refreshers": []},
                "method": {"n_init": 1}}
        over["cluster"]["losses"] = {k: None for k in make_config(method).cluster.losses}  # pretraining only
        cfg = make_config(method, overrides=over)
        run = RunDir(Path(tempfile.mkdtemp(prefix="speed-")))
        try:
            res = fit(cfg, data, run=run)
        except Exception as e:  # compile can fail on a given torch; record it, go on
            rec["runs"].append({"method": method, "compile": compile_, "error": repr(e)[:500]})
            continue
        log = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
        pts = [r for r in log if r.get("stage") == "pretrain" and "time_s" in r]
        # steady state: between the second and the last log point (the first third holds warm-up/compile)
        ms = 1000 * (pts[-1]["time_s"] - pts[0]["time_s"]) / (pts[-1]["step"] - pts[0]["step"])
        rec["runs"].append({"method": method, "compile": compile_, "ms_per_step": round(ms, 3),
                            "pretrain_s": res.stage_s.get("pretrain"), "device": res.device})
    _write(out, "speed.json", rec)
    return rec


def pick_compile(speed: dict | None, method: str, steps: int) -> tuple[str, dict]:
    """The train.compile mode with the least predicted time for `steps` steps: the speed stage's steady ms per
    step times the steps, plus what that mode's timed run spent beyond its steady steps (compiling, warm-up).
    Eager ("none") when the speed stage did not run or every compiled run failed."""
    guess = {}
    for r in (speed or {}).get("runs", []):
        if r.get("method") != method or "ms_per_step" not in r or r.get("pretrain_s") is None:
            continue
        overhead = max(0.0, r["pretrain_s"] - speed["steps"] * r["ms_per_step"] / 1000)
        guess[r["compile"]] = round(overhead + steps * r["ms_per_step"] / 1000, 1)
    return (min(guess, key=guess.get) if guess else "none"), guess


def stage_timing(out: Path, device: str, dry: bool, deadline: float, t_start: float) -> dict:
    """DEC and DCEC, full schedule on MNIST-full, seed 0, timed end to end (data load, pretraining,
    k-means, clustering, evaluation), in the compile mode the speed stage predicts fastest. The cells'
    JSON go to $OUT/timing/, not into the table (its seed-0 cells ran on the CPU)."""
    speed_file = out / "speed.json"
    speed = json.loads(speed_file.read_text()) if speed_file.exists() else None
    rec: dict = {"device": device, "runs": []}
    # A fresh working folder: a pretrained autoencoder cached under runs/ by an earlier call would be reused
    # and the run would time only its clustering. The data root is made absolute first.
    if os.environ.get("DEEPCLUST_DATA"):
        os.environ["DEEPCLUST_DATA"] = str(Path(os.environ["DEEPCLUST_DATA"]).resolve())
    cwd, work = os.getcwd(), Path(tempfile.mkdtemp(prefix="timing-"))
    os.chdir(work)
    try:
        _timed_runs(out, device, dry, speed, rec, deadline, t_start)
    finally:
        os.chdir(cwd)
        for m in (work / "runs").glob("bench/**/metrics.jsonl"):  # the learning curves, small files only
            dest = out / "timing" / "runs" / m.relative_to(work / "runs")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(m, dest)
    return rec


def _timed_runs(out: Path, device: str, dry: bool, speed: dict | None, rec: dict, deadline: float,
                t_start: float) -> None:
    from deepclust.bench import runner

    for row, col, seed in TIMED:
        steps = 54_600 + 20_000  # 200 epochs of 70,000 at batch 256, and at most 20,000 clustering steps
        mode, guess = pick_compile(speed, TIMED_METHOD[row], steps)
        entry = {"row": row, "dataset": col, "seed": seed, "compile": mode, "predicted_s": guess}
        if time.perf_counter() - t_start > deadline:
            print(f"[gpu] deadline reached; timing {row} / {col} not run", flush=True)
            entry["skipped"] = "deadline reached"
            rec["runs"].append(entry)
            break
        print(f"[gpu] timing {row} / {col} / seed {seed}, train.compile={mode} (predicted {guess})", flush=True)
        if not dry:
            t0 = time.perf_counter()
            kw = {"sets": {"train": {"compile": mode}}, "variant": f"compile-{mode}"} if mode != "none" else {}
            paths = runner.run(TIMED_TABLE, profile="full", seeds=[seed], rows=[row], datasets=[col],
                               results=out / "timing", device=device, **kw)
            entry["end_to_end_s"] = round(time.perf_counter() - t0, 1)
            for cell in paths:
                got = json.loads(Path(cell).read_text())
                entry.update({k: got.get(k) for k in ("acc", "nmi", "ari", "wall_s", "stage_s", "device")})
        rec["runs"].append(entry)
        _write(out, "timing.json", rec)


def stage_cells(out: Path, device: str, deadline: float, t_start: float, dry: bool) -> list:
    from deepclust.bench import runner

    results = out / "results"
    done = []
    for table, row, col, seed in CELLS:
        committed = runner.cell_path(runner.DEFAULT_RESULTS, table, "full", row, col, seed)
        if (ROOT / committed).exists() or runner.cell_path(results, table, "full", row, col, seed).exists():
            continue
        left = deadline - (time.perf_counter() - t_start)
        if left <= 0:
            print(f"[gpu] deadline reached; next would be {table} / {row} / {col} / seed {seed}", flush=True)
            break
        print(f"[gpu] {time.perf_counter() - t_start:6.0f} s  {table} / {row} / {col} / seed {seed}", flush=True)
        if dry:
            done.append((table, row, col, seed))
            continue
        runner.run(table, profile="full", seeds=[seed], rows=[row], datasets=[col], results=results,
                   device=device)
        done.append((table, row, col, seed))
    return done


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deadline", type=float, default=470.0, help="seconds after which no new cell starts")
    ap.add_argument("--only", nargs="+", default=["env", "smoke", "speed", "timing", "cells"],
                    choices=["env", "smoke", "speed", "timing", "cells"])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/deepclust-gpu"))
    ap.add_argument("--dry-run", action="store_true", help="list the cells that would run; run none")
    ap.add_argument("--speed-steps", type=int, default=300, help="steps per timed run in the speed stage")
    args = ap.parse_args()
    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    status: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "stages": {}}
    stages = {"env": lambda: stage_env(out, args.device), "smoke": lambda: stage_smoke(out, args.device),
              "speed": lambda: stage_speed(out, args.device, args.speed_steps),
              "timing": lambda: stage_timing(out, args.device, args.dry_run, args.deadline, t_start),
              "cells": lambda: stage_cells(out, args.device, args.deadline, t_start, args.dry_run)}
    for name in args.only:
        t0 = time.perf_counter()
        try:
            got = stages[name]()
            status["stages"][name] = {"ok": True, "s": round(time.perf_counter() - t0, 1)}
            print(f"[gpu] {name}: {json.dumps(got, default=str)[:1500]}", flush=True)
        except Exception:
            status["stages"][name] = {"ok": False, "s": round(time.perf_counter() - t0, 1),
                                      "error": traceback.format_exc()[-3000:]}
            print(f"[gpu] {name} FAILED\n{traceback.format_exc()}", flush=True)
            if name in ("env", "smoke"):
                break
        _write(out, "status.json", status)
    if (ROOT / "runs").is_dir() and not args.dry_run:  # learning curves of the cells, small files only
        for m in (ROOT / "runs" / "bench").glob("*/full/*/metrics.jsonl"):
            dest = out / "runs" / m.relative_to(ROOT / "runs")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(m, dest)
    print(json.dumps(status["stages"], indent=1))
    return 0 if all(s["ok"] for s in status["stages"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
