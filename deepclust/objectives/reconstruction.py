from __future__ import annotations

import torch

from ..registry import LOSSES
from .base import Batch, ClusterState, LossTerm


@LOSSES.register("recon")
class ReconstructionLoss(LossTerm):
    """Mean squared error between the images and their reconstruction.

    x, recon: N×C×H×W. The papers write the sum ||x - x'||² (GAP-DCEC eq. 5); the reference code
    (Keras "mse") averages over pixels and the batch, which only rescales the weight.
    """

    needs = frozenset({"recon"})

    def forward(self, out, batch: Batch, state: ClusterState) -> torch.Tensor:
        return torch.mean((out.recon - batch.x) ** 2)
