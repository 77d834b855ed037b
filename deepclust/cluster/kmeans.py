"""k-means: torch on the GPU when the points are there, scikit-learn for small problems, faiss
(trained on all points) for large ones on a CPU, torch where faiss is not installed."""
from __future__ import annotations

import numpy as np
import torch

from .torch_kmeans import torch_kmeans

# Above this many values (points × dims) scikit-learn's 20 restarts get slow; faiss takes over.
_SKLEARN_MAX = 4_000_000


def kmeans(x, k: int, n_init: int = 20, seed: int = 0, max_iter: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Cluster rows of `x` (array or tensor, N×D) into k groups. Returns (labels N, centers k×D)."""
    if isinstance(x, torch.Tensor) and x.is_cuda:
        labels, centers = torch_kmeans(x, k, n_init=n_init, seed=seed, max_iter=max_iter)
        return labels.cpu().numpy(), centers.cpu().numpy()
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    if k > n:
        raise ValueError(f"k={k} is larger than the number of points ({n})")
    if n * d <= _SKLEARN_MAX:
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed, max_iter=max_iter).fit(x)
        return km.labels_.astype(np.int64), km.cluster_centers_.astype(np.float32)
    try:
        import faiss
    except ImportError:  # e.g. a GPU machine's own Python without faiss-cpu
        dev = "cuda" if torch.cuda.is_available() else "cpu"
        labels, centers = torch_kmeans(torch.from_numpy(x).to(dev), k, n_init=n_init, seed=seed, max_iter=max_iter)
        return labels.cpu().numpy(), centers.cpu().numpy()
    # faiss subsamples to 256·k points by default; the papers' protocol clusters every point.
    km = faiss.Kmeans(d, k, niter=max(20, min(max_iter, 100)), nredo=n_init, seed=seed,
                      max_points_per_centroid=n, verbose=False)
    km.train(x)
    _, labels = km.index.search(x, 1)
    return labels.ravel().astype(np.int64), km.centroids.astype(np.float32)
