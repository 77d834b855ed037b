"""DAC's pairwise loss (Chang et al. 2017; ST-DAC eq. 1-3) on label features."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import LOSSES
from .base import Batch, ClusterState, LossTerm

_EPS = 1e-7


def pair_similarity(z: torch.Tensor) -> torch.Tensor:
    """g_ij = f_i · f_j with f the label features normalised to unit length (N×K -> N×N)."""
    f = F.normalize(z.float(), dim=1)
    return f @ f.t()


@LOSSES.register("pairwise")
class PairwiseLoss(LossTerm):
    """Binary cross-entropy on adaptively selected pairs of a batch (eq. 1-3):
    r_ij = 1 if g_ij ≥ u, r_ij = 0 if g_ij < l, and the pair is left out (v_ij = 0) otherwise;
    L = Σ v_ij [-r_ij log g_ij - (1 - r_ij) log(1 - g_ij)] / Σ v_ij over pairs i ≠ j.
    The labels come from the same forward pass, detached. (l, u) = state.thresholds, moved by the
    `dac_thresholds` refresher; with l = u every pair is labelled (DAC*). Eq. 2 is a sum; we average
    over the selected pairs so the learning rate does not depend on how many are selected."""

    needs = frozenset({"thresholds"})

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:
        g = pair_similarity(out.z)
        lower, upper = state.thresholds[0], state.thresholds[1]
        gd = g.detach()
        pos = gd >= upper
        sel = (pos | (gd < lower)) & ~torch.eye(len(g), dtype=torch.bool, device=g.device)
        g = g.clamp(_EPS, 1 - _EPS)
        bce = torch.where(pos, -torch.log(g), -torch.log1p(-g))
        return (bce * sel).sum() / sel.sum().clamp_min(1)
