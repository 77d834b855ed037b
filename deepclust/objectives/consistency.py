from __future__ import annotations

import torch

from ..registry import LOSSES
from .base import Batch, ClusterState, LossTerm


@LOSSES.register("consistency")
class ConsistencyLoss(LossTerm):
    """Consistency Constraint Loss (Kudari et al., eq. 2): L = 1/(NK) Σ_i Σ_k |q_ik - q^t_ik|, the mean
    absolute difference between the soft assignment of each image and that of its transformed copy.
    q: N×K for the images; each view's q: N×K. With several views, their losses are averaged."""

    needs = frozenset({"q", "views"})

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:
        n = out.views[0].q.shape[0]
        q = out.q[:n]  # with inputs "both" the clean images come first
        return torch.stack([(q - v.q).abs().mean() for v in out.views]).mean()
