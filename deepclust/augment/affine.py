"""Batched, on-device random affine augmentation: one warp per batch, per-sample parameters.

Geometry (normalised coordinates, x to the right, y down, centre at 0): a sample's forward map is
p' = A p + b with A = R(angle) · Shear(shear) · scale, b = 2 · shift (shift as a fraction of the
side). Positive angles turn the image counter-clockwise as displayed. `grid_sample` needs the
inverse map (output -> input), which is what `theta` holds. Images are assumed square; on
non-square images the normalised coordinates stretch rotations with the aspect ratio.
"""
from __future__ import annotations

import math

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import UserError


def forward_matrices(angle_deg: torch.Tensor, shear_deg: torch.Tensor, scale: torch.Tensor,
                     shift: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """N×2×3 forward maps [A | b] from per-sample parameters (N each; shift N×2; flip bool N)."""
    a = torch.deg2rad(angle_deg)
    cos, sin = torch.cos(a), torch.sin(a)
    rot = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
    shear = torch.zeros_like(rot)
    shear[:, 0, 0] = 1.0
    shear[:, 1, 1] = 1.0
    shear[:, 0, 1] = torch.tan(torch.deg2rad(shear_deg))
    A = rot @ shear * scale[:, None, None]
    mirror = torch.diag(torch.tensor([-1.0, 1.0], device=A.device, dtype=A.dtype))  # x -> -x first
    A = torch.where(flip[:, None, None], A @ mirror, A)
    return torch.cat([A, 2.0 * shift[:, :, None]], dim=2)


def inverse_theta(forward: torch.Tensor) -> torch.Tensor:
    A, b = forward[:, :, :2], forward[:, :, 2:]
    Ai = torch.linalg.inv(A)
    return torch.cat([Ai, -Ai @ b], dim=2)


def warp(x: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
    """Apply forward maps (N×2×3) to images x (N×C×H×W) in one batched warp; outside is black."""
    grid = F.affine_grid(inverse_theta(forward).to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@dataclass(frozen=True)
class RandomAffine:
    """Random rotation (degrees, uniform in [lo, hi]), shear (degrees, uniform in ±shear), scale
    (uniform in [lo, hi]), shift (fraction of the side, uniform in ±shift) and horizontal flip."""

    rotation: tuple[float, float] = (0.0, 0.0)
    shear: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    shift: float = 0.0
    hflip: float = 0.0  # probability

    def __post_init__(self):
        values = (*self.rotation, self.shear, *self.scale, self.shift, self.hflip)
        if not all(math.isfinite(float(v)) for v in values):
            raise UserError(f"augmentation ranges must be finite numbers, got rotation={self.rotation}, "
                            f"shear={self.shear}, scale={self.scale}, shift={self.shift}, hflip={self.hflip}")
        if not 0 <= self.shear < 89.0:
            raise UserError(f"shear must be in [0, 89) degrees, got {self.shear}: a shear near 90° is degenerate")
        lo, hi = self.scale
        if lo <= 0 or hi < lo:
            raise UserError(f"scale range must satisfy 0 < low <= high, got {self.scale}")
        if self.rotation[1] < self.rotation[0]:
            raise UserError(f"rotation range must be (low, high) with low <= high, got {self.rotation}")
        if not 0 <= self.shift < 1:
            raise UserError(f"shift must be a fraction of the side in [0, 1), got {self.shift}")
        if not 0 <= self.hflip <= 1:
            raise UserError(f"hflip is a probability in [0, 1], got {self.hflip}")

    def sample(self, n: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
        """N×2×3 forward maps with random parameters, drawn on `device`."""
        def u(lo, hi, *shape):
            return lo + (hi - lo) * torch.rand(n, *shape, device=device, generator=generator)

        return forward_matrices(u(*self.rotation), u(-self.shear, self.shear), u(*self.scale),
                                u(-self.shift, self.shift, 2), u(0, 1) < self.hflip)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return warp(x, self.sample(x.shape[0], x.device, generator))
