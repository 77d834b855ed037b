"""Cluster heads on top of an embedding."""
from __future__ import annotations

import torch
from torch import nn


class StudentTHead(nn.Module):
    """DEC's soft assignment (Xie et al. 2016, eq. 1).

    q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha+1)/2), normalised over j.
    z: N×D embedding; returns q: N×K. The centroids mu (K×D) are trained with the encoder.
    """

    def __init__(self, n_clusters: int, embed_dim: int, alpha: float = 1.0):
        super().__init__()
        self.alpha = alpha
        self.centroids = nn.Parameter(torch.zeros(n_clusters, embed_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        d2 = torch.cdist(z, self.centroids).pow(2) if z.shape[0] > 0 else z.new_zeros(0, len(self.centroids))
        q = (1.0 + d2 / self.alpha).pow(-(self.alpha + 1.0) / 2.0)
        return q / q.sum(dim=1, keepdim=True)


class LinearHead(nn.Module):
    """A linear classifier over the features (DeepCluster's top layer): N×D -> N×K logits.
    `reset_parameters` starts it again as the reference does after every reassignment: weights
    N(0, 0.01), biases zero."""

    gives = "logits"

    def __init__(self, n_out: int, embed_dim: int):
        super().__init__()
        self.linear = nn.Linear(embed_dim, n_out)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        w = torch.randn(self.linear.weight.shape, generator=generator) * 0.01  # drawn on the CPU: same on any device
        self.linear.weight.copy_(w)
        self.linear.bias.zero_()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z)
