"""k-means in torch, on whatever device the points are: k-means++ seeding and Lloyd iterations, all
restarts at once as one batch of matrix products. It is the path for features that already live on a
GPU (no copy to the host and back per iteration) and the fallback where faiss is not installed."""
from __future__ import annotations

import torch


def _sq_dists(x: torch.Tensor, x2: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Squared distances of the N points to each restart's centres: x N×D, c R×k×D -> R×N×k."""
    r, k, dim = c.shape
    xc = (x @ c.reshape(r * k, dim).T).view(-1, r, k).transpose(0, 1)  # one N×(R·k) product, no R copies of x
    return (x2[None, :, None] - 2.0 * xc + c.pow(2).sum(-1)[:, None, :]).clamp_min_(0.0)


def _plusplus(x: torch.Tensor, x2: torch.Tensor, k: int, restarts: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) for every restart at once: R×k×D."""
    n = x.shape[0]
    first = torch.randint(n, (restarts,), generator=gen, device=x.device)
    centres = [x[first]]  # R×D each
    best = _sq_dists(x, x2, centres[0][:, None, :]).squeeze(-1)  # R×N
    for _ in range(1, k):
        w = best.clamp_min(0) + 1e-12  # every point keeps a chance, even when all sit on a centre
        pick = torch.multinomial(w, 1, generator=gen).squeeze(1)
        centres.append(x[pick])
        best = torch.minimum(best, _sq_dists(x, x2, centres[-1][:, None, :]).squeeze(-1))
    return torch.stack(centres, dim=1)


@torch.no_grad()
def torch_kmeans(x: torch.Tensor, k: int, n_init: int = 20, seed: int = 0, max_iter: int = 300,
                 tol: float = 1e-4, check_every: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on rows of x (N×D, any device), n_init restarts in one batch; the restart with
    the lowest inertia wins. `tol` is scikit-learn's: stop when the centres move less (squared, summed)
    than tol × the mean per-feature variance. Returns (labels N int64, centres k×D float32), on x's
    device. Convergence is checked every `check_every` iterations, the only host syncs."""
    x = x.detach().float()
    n, d = x.shape
    if k > n:
        raise ValueError(f"k={k} is larger than the number of points ({n})")
    gen = torch.Generator(device=x.device).manual_seed(seed)
    x2 = x.pow(2).sum(1)
    c = _plusplus(x, x2, k, n_init, gen)  # R×k×D
    threshold = tol * x.var(0).mean()
    eye = torch.eye(k, device=x.device, dtype=x.dtype)
    for it in range(max_iter):
        labels = _sq_dists(x, x2, c).argmin(-1)  # R×N
        onehot = eye[labels]  # R×N×k
        counts = onehot.sum(1)  # R×k
        sums = (onehot.transpose(1, 2).reshape(-1, n) @ x).view(-1, k, d)  # R×k×D
        # An empty cluster keeps its centre (scikit-learn moves it to a far point; rare after k-means++).
        new = torch.where(counts[..., None] > 0, sums / counts.clamp_min(1)[..., None], c)
        shift = (new - c).pow(2).sum((1, 2))
        c = new
        if (it + 1) % check_every == 0 and bool((shift <= threshold).all()):
            break
    dist = _sq_dists(x, x2, c)
    inertia = dist.min(-1).values.sum(1)  # R
    best = int(inertia.argmin())
    return dist[best].argmin(-1), c[best].contiguous()
