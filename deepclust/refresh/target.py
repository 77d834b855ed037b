"""DEC's target distribution, refreshed every `update_interval` steps, with the tolerance stop."""
from __future__ import annotations

import torch

from ..metrics import evaluate
from ..objectives.kl_target import target_distribution
from ..registry import REFRESHERS
from .base import Context, Refresher


@REFRESHERS.register("target")
class TargetRefresher(Refresher):
    """Every `stage.update_interval` steps (0: once per epoch): q for all images, p = target(q), hard labels = argmax q.
    After the first refresh, a change of fewer than `stage.tol` of the labels ends the stage
    (DEC's convergence rule; DCEC's "0.1%")."""

    provides = frozenset({"p"})
    needs = frozenset({"head_init"})

    def __init__(self, update_interval: int, tol: float):
        self.update_interval = int(update_interval)
        self.tol = tol

    def setup(self, steps_per_epoch: int, total_steps: int) -> None:
        if self.update_interval <= 0:
            self.update_interval = steps_per_epoch

    @classmethod
    def from_stage(cls, stage):
        return cls(stage.update_interval, stage.tol)

    def due(self, step: int) -> bool:
        return step % max(1, self.update_interval) == 0

    @torch.no_grad()
    def __call__(self, ctx: Context):
        z = ctx.embed_all()
        q = ctx.model.head(z)
        ctx.state.p = target_distribution(q)
        new = q.argmax(dim=1)
        old = ctx.state.labels
        change = float((new != old).float().mean()) if old is not None else 1.0
        ctx.state.labels = new
        rec = {"event": "target", "label_change": change}
        if ctx.labels is not None:
            rec.update(evaluate(ctx.labels, new.cpu()))
        if ctx.step > 0 and change < self.tol:
            ctx.state.stop = True
            rec["stopped"] = f"label change {change:.5f} < tol {self.tol}"
        return rec
