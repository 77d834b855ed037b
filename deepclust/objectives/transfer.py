"""Deep Transfer Clustering's loss terms (Han et al. 2019; Gunari et al., papers/003 eq. 5): the supervised
cross-entropy that makes the feature extractor from labelled known classes, and the two consistency terms
added to DEC's KL loss while clustering the new images. The consistency weight ramps up from 0 over the
first epochs (`stage.rampup`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import LOSSES
from .base import Batch, ClusterState, LossTerm


@LOSSES.register("supervised")
class SupervisedLoss(LossTerm):
    """L = -(1/N) Σ_n log softmax(h(f(x_n)))[y_n]: cross-entropy of the known-class scores (out.class_logits,
    N×C) against the labels of the labelled known images (state.class_labels[batch.idx])."""

    needs = frozenset({"class_logits", "class_labels"})

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:
        return F.cross_entropy(out.class_logits.float(), state.class_labels[batch.idx])


@LOSSES.register("pi_consistency")
class PiConsistencyLoss(LossTerm):
    """DTC-PI (the Π-model of Laine & Aila), papers/003 eq. 5: L = 1/(NK) Σ_i Σ_k K (q_ik - q'_ik)²
    = 1/N Σ_i ||q_i - q'_i||², between the soft assignment of each image and that of its transformed copy (a
    view), both trained. Summed over clusters and averaged over the batch, as `kl_target`, so that the two
    keep the reference's ratio (there both are averaged over N×K). q: N×K; each view's q: N×K; several views
    are averaged."""

    needs = frozenset({"q", "views"})

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:
        n = out.views[0].q.shape[0]
        q = out.q[:n].float()
        return torch.stack([(q - v.q.float()).pow(2).sum(1).mean() for v in out.views]).mean()


@LOSSES.register("ensemble_consistency")
class EnsembleConsistencyLoss(LossTerm):
    """DTC-TE / TEP: L = 1/N Σ_i ||q_i - q~_i||² (eq. 5 with p' = q~), between the soft assignment and the
    temporal ensemble q~ (state.ensemble, the bias-corrected moving average of past
    epochs' q, eq. 6-7; a constant here). q: N×K."""

    needs = frozenset({"q", "ensemble"})

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:
        return (out.q.float() - state.ensemble[batch.idx]).pow(2).sum(1).mean()
