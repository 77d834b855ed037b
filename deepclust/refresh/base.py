"""Periodic jobs of a training stage, and the context they work on."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..config import RunConfig, StageConfig
from ..objectives.base import ClusterState


@dataclass
class Context:
    """Everything a refresher may touch. Images stay on the training device as uint8."""

    model: torch.nn.Module
    images: torch.Tensor  # uint8 N×C×H×W on the device
    labels: torch.Tensor | None  # int64 N ground truth on the CPU (metrics only, never training)
    state: ClusterState
    cfg: RunConfig
    stage: StageConfig
    device: torch.device
    step: int = 0
    optimizer: torch.optim.Optimizer | None = None  # the stage's, so a refresher that restarts a layer can drop its state
    extra: dict[str, Any] = field(default_factory=dict)

    def to_float(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255.0)

    def embed_all(self, chunk: int = 4096) -> torch.Tensor:
        """Embedding of every image, N×D float32 on the device (eval mode, no gradients)."""
        return self.model.embed(self.images, chunk)


class Refresher:
    """A periodic job. `at_start` runs when a stage starts fresh (not on resume), `__call__` before
    every step where `due(step)`, `after_step` after every optimiser step (on the device, no sync)."""

    provides: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()

    @classmethod
    def from_stage(cls, stage: StageConfig) -> "Refresher":
        return cls()

    def setup(self, steps_per_epoch: int, total_steps: int) -> None:
        """Told the stage's shape before it runs (fresh or resumed)."""
        return None

    def at_start(self, ctx: Context) -> dict[str, Any] | None:
        return None

    def due(self, step: int) -> bool:
        return False

    def __call__(self, ctx: Context) -> dict[str, Any] | None:
        return None

    def after_step(self, ctx: Context, batch, out) -> None:
        return None

    def epoch_order(self, ctx: Context, epoch: int) -> torch.Tensor | None:
        """The images of `epoch`, in order (int64 N on the device), or None for the loop's own permutation.
        Asked at every epoch's start (and on resume mid-epoch), so a pure function of the state and `epoch`."""
        return None


class PeriodicRefresher(Refresher):
    """A refresher that runs every `stage.update_interval` steps from step 0; 0 means once
    per epoch, or once every ceil(`stage.min_update_steps` / steps per epoch) epochs where epochs are
    shorter than that (resolved in `setup`, when the stage's steps per epoch are known)."""

    min_update_steps: int = 0

    def __init__(self, update_interval: int):
        self.update_interval = int(update_interval)

    @classmethod
    def from_stage(cls, stage):
        obj = cls(stage.update_interval)
        obj.min_update_steps = int(stage.min_update_steps)
        return obj

    def setup(self, steps_per_epoch: int, total_steps: int) -> None:
        if self.update_interval <= 0:
            epochs = max(1, -(-self.min_update_steps // max(1, steps_per_epoch)))
            self.update_interval = steps_per_epoch * epochs
            if epochs > 1 and self.update_interval >= total_steps > 0:
                import warnings

                warnings.warn(f"{type(self).__name__}: min_update_steps={self.min_update_steps} leaves one refresh "
                              f"in this stage's {total_steps} steps (at its start): lower it (e.g. --set cluster.min_update_steps=10) "
                              f"to refresh during training",
                              stacklevel=2)

    def due(self, step: int) -> bool:
        return step % max(1, self.update_interval) == 0
