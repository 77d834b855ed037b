"""Scaling out: torchrun with 2 CPU processes (gloo) trains the same model as one process."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deepclust.errors import UserError
from deepclust.methods import fit, make_config
from deepclust.metrics import acc

SETS = ["pretrain.epochs=10", "cluster.max_steps=40", "cluster.update_interval=10", "train.log_every=5",
        "pretrain.batch_size=64", "cluster.batch_size=64", "method.n_init=2", "train.precision=fp32",
        "train.progress=false", "data.limit=300"]


def _labels(run: Path) -> np.ndarray:
    with open(run / "assignments.csv", newline="") as f:
        return np.array([int(r["cluster"]) for r in csv.DictReader(f)])


@pytest.mark.parametrize("method", ["idec", "dcn"])  # dcn: a refresher that updates state from every batch
def test_two_processes_train_like_one(method, tmp_path):
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not built into this torch")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "deepclust", "fit", "--data", "digits", "--method", method, "--out", str(tmp_path / "runs"),
           "--quiet", "--no-report"]
    for s in SETS:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs  # process 0 alone writes the run folder
    assert proc.stdout.count("run folder:") == 1
    result = json.loads((runs[0] / "result.json").read_text())
    assert result["device"].startswith("2 × cpu")
    lines = (runs[0] / "metrics.jsonl").read_text().splitlines()

    from deepclust.data import load_dataset

    one = fit(make_config(method, sets=SETS + ["train.device=cpu"]), load_dataset("digits", limit=300))
    # Two half-batches with averaged gradients are the same step as one whole batch, up to float rounding.
    assert acc(one.labels, _labels(runs[0])) >= 0.95
    assert abs(one.metrics["acc"] - result["acc"]) < 0.03
    assert sum('"stage": "cluster"' in ln for ln in lines) >= 8  # logged once, not once per process


def test_batch_must_split_over_processes(tiny_digits, monkeypatch):
    from deepclust.train import dist

    monkeypatch.setattr(dist, "world_size", lambda: 3)
    with pytest.raises(UserError, match="cannot be split over 3 processes"):
        fit(make_config("dec", sets=["pretrain.batch_size=2"]), tiny_digits)
