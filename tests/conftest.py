import os

import numpy as np
import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Tests never write into the user's home: caches go to a per-session temporary folder.
    monkeypatch.setenv("DEEPCLUST_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def tiny_digits():
    """200 real 8×8 digits (scikit-learn's bundled set) as an ImageSet."""
    from deepclust.data import load_dataset

    return load_dataset("digits", limit=200)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _fast_sets(**extra):
    sets = ["pretrain.epochs=10", "cluster.max_steps=12", "cluster.update_interval=5", "train.progress=false",
            "train.log_every=4", "train.checkpoint_every=4", "pretrain.batch_size=64", "cluster.batch_size=64",
            "method.n_init=2"]
    return sets + [f"{k}={v}" for k, v in extra.items()]


@pytest.fixture
def fast_sets():
    """--set items for a short schedule: a few steps of each stage."""
    return _fast_sets


torch.set_num_threads(2)


class Killed(Exception):
    """What a dying_run's run folder raises: the run's process 'dies' there."""


def _dying_run(path, step: int, stage: str | None = None, on_loss: bool = True):
    """A run folder that kills its run (raises Killed) right after logging `step` of `stage` (None: any stage),
    on the line with the loss unless on_loss is False: the last checkpoint is then the one before that step's."""
    from deepclust.train.rundir import RunDir

    class DyingRun(RunDir):
        def log(self, rec):
            super().log(rec)
            if (rec.get("step") == step and (stage is None or rec.get("stage") == stage)
                    and (not on_loss or "loss" in rec)):
                raise Killed()

    return DyingRun(path)


_dying_run.Killed = Killed


@pytest.fixture
def dying_run():
    """dying_run(path, step, stage=None, on_loss=True) -> a run folder whose run dies there; dying_run.Killed."""
    return _dying_run
