"""DEC's target distribution, refreshed every `update_interval` steps, with the tolerance stop."""
from __future__ import annotations

import torch

from ..metrics import evaluate
from ..objectives.kl_target import target_distribution
from ..registry import REFRESHERS
from .base import Context, PeriodicRefresher


@REFRESHERS.register("target")
class TargetRefresher(PeriodicRefresher):
    """Every `stage.update_interval` steps (0: once per epoch, or every ceil(`stage.min_update_steps` / steps
    per epoch) epochs where epochs are shorter than that): q for all images, p = target(q), hard labels = argmax q.
    After the first refresh, a change of fewer than `stage.tol` of the labels ends the stage
    (DEC's convergence rule; DCEC's "0.1%")."""

    provides = frozenset({"p"})
    needs = frozenset({"head_init"})
    reads_min_update_steps = True  # pipeline._check_min_update_steps

    def __init__(self, update_interval: int, tol: float):
        super().__init__(update_interval)
        self.tol = tol

    @classmethod
    def from_stage(cls, stage):
        # PeriodicRefresher's rule for update_interval 0 (setup): a 216-image folder's epoch is 1 step, and a
        # target refreshed after every step chases its own last step (DEC holds it 140 steps, the DTC reference
        # 5 epochs)
        obj = cls(stage.update_interval, stage.tol)
        obj.min_update_steps = int(stage.min_update_steps)
        return obj

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
