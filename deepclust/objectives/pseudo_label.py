"""DeepCluster's training signal: cross-entropy of the top layer's scores against each image's
pseudo-label, the k-means cluster it fell in at the last reassignment (Caron et al. 2018, eq. 1)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import LOSSES
from .base import Batch, ClusterState, LossTerm


@LOSSES.register("pseudo_label")
class PseudoLabelLoss(LossTerm):
    """L = -(1/N) Σ_n log softmax(g(f(x_n)))[y_n], with y_n = state.pseudo_labels[batch.idx[n]].
    out.logits: N×K' (K' pseudo-classes), in fp32 for the softmax."""

    needs = frozenset({"logits", "pseudo_labels"})

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:
        return F.cross_entropy(out.logits.float(), state.pseudo_labels[batch.idx])
