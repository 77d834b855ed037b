"""Spatial-transformer layer (Jaderberg et al. 2015) with the localisation network of ST-DAC
(Souza & Zanchettin, Table 4, after Detlefsen et al.): 2x2 max-pool, 5x5 conv 20 tanh, 2x2 max-pool,
5x5 conv 20 tanh, dense 50 tanh, dense 6 tanh; an `affine_grid`/`grid_sample` sampler.

θ = I + tanh(W h + b) with W = b = 0 at the start, so a fresh layer is exactly the identity and tanh
still bounds how far one step can move θ. (The reference code puts the identity into the bias of a
final tanh, so it starts at tanh(1) = 0.76 on the diagonal: a 1.3× zoom; that is the "powerful zoom"
the paper sees early in training. We start from the identity, as the issue and the STN paper ask.)
Works on images and on feature maps of any size from `MIN_SIDE` up: the convolutions pad to keep the
size and the pools round up."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError

MIN_SIDE = 3  # two 2x2 pools leave one pixel of a 3x3 map; anything smaller has nothing to locate


class SpatialTransformer(nn.Module):
    keeps_init = True  # starts as the identity whatever init the rest of the network gets

    def __init__(self, channels: int, size: tuple[int, int], where: str = "input"):
        super().__init__()
        h, w = size
        if min(h, w) < MIN_SIDE:
            raise UserError(f"a spatial-transformer layer at the {where} gets {h}x{w} maps, smaller than the "
                            f"{MIN_SIDE}x{MIN_SIDE} its localisation network needs: use larger images "
                            f"(data.image_size) or fewer encoder.st_layers")
        self.loc = nn.Sequential(
            nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(channels, 20, 5, padding=2), nn.Tanh(),
            nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(20, 20, 5, padding=2), nn.Tanh(),
            nn.Flatten(),
        )
        lh, lw = math.ceil(math.ceil(h / 2) / 2), math.ceil(math.ceil(w / 2) / 2)
        self.fc = nn.Sequential(nn.Linear(20 * lh * lw, 50), nn.Tanh())
        self.theta = nn.Linear(50, 6)
        nn.init.zeros_(self.theta.weight)
        nn.init.zeros_(self.theta.bias)
        self.register_buffer("identity", torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), persistent=False)
        self.last_theta: torch.Tensor | None = None  # N×2×3 of the latest forward (monitoring only)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        delta = torch.tanh(self.theta(self.fc(self.loc(x)))).view(-1, 2, 3)
        theta = self.identity.to(delta.dtype) + delta
        self.last_theta = theta.detach()
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)


def theta_health(theta: torch.Tensor) -> dict[str, float]:
    """Summary of a batch of θ (N×2×3): mean |det A| (area scale of the sampled window; 1 = identity)
    and mean |translation|. A det near 0 means the layer samples a vanishing window (one smeared pixel)."""
    det = torch.linalg.det(theta[:, :, :2].float()).abs()
    return {"det_mean": float(det.mean()), "det_min": float(det.min()),
            "shift_mean": float(theta[:, :, 2].float().norm(dim=1).mean())}
