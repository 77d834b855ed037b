"""DAC's pairwise loss (Chang et al. 2017; ST-DAC eq. 1-3) on label features."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import LOSSES
from .base import Batch, ClusterState, LossTerm

_EPS = 1e-7


def pair_similarity(z: torch.Tensor) -> torch.Tensor:
    """g_ij = f_i · f_j with f the label features normalised to unit length (N×K -> N×N), in fp32 even
    under bf16 autocast: bf16 steps by 0.004 below 1, too coarse for thresholds like 0.99, and a
    dissimilar pair rounded up to 1.0 would make its -log(1 - g) infinite."""
    with torch.autocast(z.device.type, enabled=False):
        f = F.normalize(z.float(), dim=1)
        return f @ f.t()


def _selected_pair_bce(g: torch.Tensor, label_sim: torch.Tensor, lower, upper) -> torch.Tensor:
    """Mean BCE of the similarities g over the pairs i ≠ j that label_sim selects (≥ upper: 1, < lower: 0)."""
    pos = label_sim >= upper
    sel = (pos | (label_sim < lower)) & ~torch.eye(len(g), dtype=torch.bool, device=g.device)
    g = g.clamp(_EPS, 1 - _EPS)
    bce = torch.where(pos, -torch.log(g), -torch.log1p(-g))
    return (bce * sel).sum() / sel.sum().clamp_min(1)


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
        return _selected_pair_bce(g, g.detach(), state.thresholds[0], state.thresholds[1])


@LOSSES.register("pairwise_views")
class PairwiseViewsLoss(LossTerm):
    """The pairwise loss as DAC's and ST-DAC's reference code trains it: the pairs are labelled from the label
    features of the stage's inputs (detached: the clean images with inputs = clean, as the code; a first
    augmented pass with inputs = augmented) and the loss is taken on an augmented view of the same images
    (views = 1). Otherwise eq. 1-3 as `pairwise`."""

    needs = frozenset({"thresholds", "views"})
    grads_through_inputs = False

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:
        n = out.views[0].z.shape[0]
        labels = pair_similarity(out.z[:n].detach())
        return _selected_pair_bce(pair_similarity(out.views[0].z), labels, state.thresholds[0], state.thresholds[1])


@LOSSES.register("self_label")
class SelfLabelLoss(LossTerm):
    """The reference code's auxiliary output (ST-DAC, weight 10; not in either paper's text): binary
    cross-entropy, element-wise and averaged, between the softmax label features of an augmented view, y,
    and the unit-length label features of the stage's inputs (see `pairwise_views`), t = f/|f| (detached; t
    is sharper than f, so the term also sharpens): L = -mean_ik [t_ik log y_ik + (1 - t_ik) log(1 - y_ik)]."""

    needs = frozenset({"views"})
    grads_through_inputs = False

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:
        n = out.views[0].z.shape[0]
        t = F.normalize(out.z[:n].detach().float(), dim=1).clamp(0, 1)
        y = out.views[0].z.float().clamp(_EPS, 1 - _EPS)
        return -(t * torch.log(y) + (1 - t) * torch.log1p(-y)).mean()
