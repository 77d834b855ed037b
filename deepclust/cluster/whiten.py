"""PCA-whitening followed by L2 normalisation: the space DeepCluster clusters its features in
(Caron et al. 2018; the reference reduces to 256 dimensions with faiss' PCAMatrix, eigen_power -0.5,
then L2-normalises each row). In torch, so that it runs where the features are (GPU or CPU)."""
from __future__ import annotations

import torch

# Components whose variance is below this fraction of the largest are dropped (set to zero), not blown
# up by 1/sqrt(variance): with fewer images than dimensions most directions carry no variance at all.
REL_FLOOR = 1e-6


def whitened_dims(setting: int, k: int) -> int | None:
    """How many whitened dimensions a k-means into k clusters reads, for a `*_dims` setting: 0 = all (None),
    -1 = k - 1 (the span of k centres; at least 2), N = N."""
    if setting == 0:
        return None
    return max(2, k - 1) if setting < 0 else setting


@torch.no_grad()
def principal_components(z: torch.Tensor, dim: int, rel_floor: float = REL_FLOOR
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean D, directions D×dim, variances dim, total variance) of z (N×D), in float64, largest first.
    Directions whose variance is below `rel_floor` of the largest, and those beyond the data's rank or D,
    are zero (and their variances 0): fixed shapes whatever the data."""
    x = z.double()
    mean = x.mean(0)
    xc = x - mean
    cov = xc.T @ xc / max(len(x) - 1, 1)  # D×D: cheap for any N
    vals, vecs = torch.linalg.eigh(cov)  # ascending
    total = vals.clamp_min(0).sum()
    vals, vecs = vals.flip(0)[:dim], vecs.flip(1)[:, :dim]
    keep = vals > rel_floor * vals[0].clamp_min(1e-300)
    vals, vecs = torch.where(keep, vals, torch.zeros_like(vals)), vecs * keep
    if vecs.shape[1] < dim:  # fewer features than dim: pad with zero columns
        vecs = torch.cat([vecs, vecs.new_zeros(len(vecs), dim - vecs.shape[1])], 1)
        vals = torch.cat([vals, vals.new_zeros(dim - len(vals))])
    return mean, vecs, vals, total


@torch.no_grad()
def fit_whitening(z: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean D, projection D×dim) such that (z - mean) @ projection has identity covariance over its
    top-`dim` principal components (columns beyond the data's rank are zero). z: N×D."""
    mean, vecs, vals, _ = principal_components(z, dim)
    scale = torch.where(vals > 0, vals.clamp_min(1e-30).rsqrt(), torch.zeros_like(vals))
    return mean.to(z.dtype), (vecs * scale).to(z.dtype)


def whiten_l2(z: torch.Tensor, mean: torch.Tensor, proj: torch.Tensor) -> torch.Tensor:
    """Rows of z projected, whitened and scaled to unit length."""
    y = (z.float() - mean.float()) @ proj.float()
    return torch.nn.functional.normalize(y, dim=1)
