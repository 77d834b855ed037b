from __future__ import annotations

import torch

from ..registry import LOSSES
from .base import Batch, ClusterState, LossTerm

_EPS = 1e-10


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """DEC's auxiliary target (Xie et al. 2016, eq. 3): p_ij = (q_ij² / f_j) / Σ_j' (q_ij'² / f_j'),
    with f_j = Σ_i q_ij the soft cluster frequency. q: N×K -> p: N×K."""
    w = q**2 / q.sum(dim=0)
    return w / w.sum(dim=1, keepdim=True)


@LOSSES.register("kl_target")
class KLTargetLoss(LossTerm):
    """KL(P‖Q) = Σ_j p_ij log(p_ij / q_ij), summed over clusters and averaged over the batch
    (DEC eq. 2; GAP-DCEC eq. 4). q: N×K from the Student-t head; p: rows of the refreshed target."""

    needs = frozenset({"q", "p"})

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:
        p = state.p[batch.idx]
        q = out.q
        return torch.sum(p * (torch.log(p + _EPS) - torch.log(q + _EPS)), dim=1).mean()
