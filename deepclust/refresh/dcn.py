"""DCN's alternating updates of assignments and centroids (Yang et al. 2017, eq. 7-8)."""
from __future__ import annotations

import torch

from ..metrics import evaluate
from ..registry import REFRESHERS
from .base import Context, Refresher


@REFRESHERS.register("dcn")
class DCNRefresher(Refresher):
    """After every step: assign the batch's embeddings to their nearest centroid, then move each
    centroid towards its new points with step size 1/count (count grows with every point).
    Every `update_interval` steps it also logs the labels of all images."""

    provides = frozenset({"centroids"})
    needs = frozenset({"centroids"})

    def __init__(self, update_interval: int):
        self.update_interval = max(1, int(update_interval))

    @classmethod
    def from_stage(cls, stage):
        return cls(stage.update_interval)

    @torch.no_grad()
    def after_step(self, ctx: Context, batch, out) -> None:
        st = ctx.state
        z = out.z.detach().float()
        s = torch.cdist(z, st.centroids).argmin(dim=1)
        k = st.centroids.shape[0]
        n_new = torch.bincount(s, minlength=k).float()
        sums = torch.zeros_like(st.centroids).index_add_(0, s, z)
        st.counts += n_new
        st.centroids += (sums - n_new[:, None] * st.centroids) / st.counts[:, None]
        st.labels[batch.idx] = s

    def due(self, step: int) -> bool:
        return step > 0 and step % self.update_interval == 0

    @torch.no_grad()
    def __call__(self, ctx: Context):
        rec = {"event": "dcn"}
        if ctx.labels is not None:
            z = ctx.embed_all()
            rec.update(evaluate(ctx.labels, torch.cdist(z, ctx.state.centroids).argmin(1).cpu()))
        return rec
