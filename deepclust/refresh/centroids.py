"""Cluster centres from k-means on the embedding (DEC/IDEC/DCEC/DCN initialisation)."""
from __future__ import annotations

import torch

from ..cluster import kmeans
from ..metrics import evaluate
from ..registry import REFRESHERS
from .base import Context, Refresher


@REFRESHERS.register("kmeans_init")
class KMeansInit(Refresher):
    """At the start of clustering: k-means (n_init restarts) on the embedding of all images; the
    centres go to the Student-t head when the network has one, else to the state (DCN)."""

    provides = frozenset({"centroids", "head_init"})

    def at_start(self, ctx: Context):
        z = ctx.embed_all()
        m = ctx.cfg.method
        labels, centers = kmeans(z, m.n_clusters, n_init=m.n_init, seed=ctx.cfg.train.seed)
        centers_t = torch.from_numpy(centers).to(ctx.device)
        labels_t = torch.from_numpy(labels).to(ctx.device)
        head = getattr(ctx.model, "head", None)
        if head is not None:
            head.centroids.data.copy_(centers_t)
        ctx.state.centroids = centers_t.clone()
        # DCN's per-cluster step size 1/count starts as if each centre had seen 100 points
        # (the reference implementation's choice), so early batches cannot drag it far.
        ctx.state.counts = torch.full((m.n_clusters,), 100.0, device=ctx.device)
        ctx.state.labels = labels_t
        rec = {"event": "kmeans_init"}
        if ctx.labels is not None:
            rec.update(evaluate(ctx.labels, labels))
        return rec


@REFRESHERS.register("kmeans_refresh")
class KMeansRefresh(KMeansInit):
    """k-means on the embedding every `stage.update_interval` steps (from step 0), so that a loss
    on soft assignments (e.g. the consistency loss while pretraining) has centres that follow the
    embedding as it learns (Kudari et al. §3, eq. 3-4)."""

    def __init__(self, update_interval: int):
        self.update_interval = max(1, int(update_interval))

    @classmethod
    def from_stage(cls, stage):
        return cls(stage.update_interval)

    def at_start(self, ctx: Context):
        return None  # due(0) runs it

    def due(self, step: int) -> bool:
        return step % self.update_interval == 0

    def __call__(self, ctx: Context):
        rec = KMeansInit.at_start(self, ctx)
        rec["event"] = "kmeans_refresh"
        return rec
