from __future__ import annotations

import torch

from ..registry import LOSSES
from .base import Batch, ClusterState, LossTerm


@LOSSES.register("kmeans")
class KMeansLoss(LossTerm):
    """DCN's clustering term (Yang et al. 2017, eq. 5 without λ/2): ||z_i - M s_i||², with s_i the
    one-hot nearest centroid of z_i under the current (fixed) centroids M. z: N×D, M: K×D.
    Averaged over the batch; the method's weight plays the part of λ/2."""

    needs = frozenset({"centroids"})

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:
        c = state.centroids
        with torch.no_grad():
            s = torch.cdist(out.z.detach().float(), c).argmin(dim=1)
        return ((out.z - c[s]) ** 2).sum(dim=1).mean()
