"""What every loss term sees: the batch, the network's output, and the refreshed state."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class Batch:
    x: torch.Tensor  # float N×C×H×W in [0, 1], on the training device
    idx: torch.Tensor  # int64 N: positions of these images in the dataset
    views: list[torch.Tensor] = field(default_factory=list)  # augmented copies of x, when asked for


@dataclass
class ClusterState:
    """State that refreshers write and loss terms read (all tensors live on the training device)."""

    p: torch.Tensor | None = None  # N×K DEC target distribution
    labels: torch.Tensor | None = None  # N current hard assignments
    centroids: torch.Tensor | None = None  # K×D non-trainable centroids (DCN)
    counts: torch.Tensor | None = None  # K points assigned so far (DCN's per-cluster step size)
    thresholds: torch.Tensor | None = None  # (lower, upper) pair-selection thresholds (DAC)
    pseudo_labels: torch.Tensor | None = None  # N pseudo-label of each image (DeepCluster)
    class_labels: torch.Tensor | None = None  # M labels (0..C-1) of the labelled known images (DTC's supervised stage)
    ensemble_raw: torch.Tensor | None = None  # N×K exponential moving average of q over epochs (DTC's TE) …
    ensemble: torch.Tensor | None = None  # N×K … with the start-up bias corrected: the temporal ensemble q~
    ensemble_t: torch.Tensor | None = None  # () how many epochs it holds
    stop: bool = False  # a refresher may end the stage (DEC's tolerance rule)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in vars(self).items() if isinstance(v, torch.Tensor)}


class LossTerm(nn.Module):
    """A loss term. Subclasses set `needs` ⊆ {"recon", "q", "p", "centroids", "views", "thresholds", "logits",
    "pseudo_labels", "class_logits", "class_labels", "ensemble"}."""

    needs: frozenset[str] = frozenset()
    # False for terms that read the pass on batch.x only detached (as targets) and train through the views:
    # when every term of a stage says so, the loop runs that pass without autograd (no graph kept).
    grads_through_inputs: bool = True

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError
