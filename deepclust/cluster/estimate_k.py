"""Estimating the number of clusters when the user does not know it (`--k auto`).

The eigengap heuristic (von Luxburg, "A tutorial on spectral clustering", 2007, §8.3): on a graph
joining each image to its nearest neighbours, the normalised Laplacian has as many eigenvalues near 0
as the graph has well-separated groups, then a jump. k is where the jump between consecutive
eigenvalues is largest. It runs on the images before any training (the heads of every method need k
to be built), on the first principal components of their pixels.

Chosen by measurement against silhouette, Calinski-Harabasz and Davies-Bouldin scores of k-means on the
same features (`benchmarks/estimate_k/`, results in `benchmarks/results/estimate-k/`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..errors import UserError

MIN_IMAGES = 8  # below this a neighbour graph says nothing about groups


@dataclass(frozen=True)
class KEstimate:
    """k and what it rests on: `eigenvalues` are the smallest of the graph Laplacian, ascending;
    `gaps[i]` = eigenvalues[i+1] - eigenvalues[i] is the evidence for k = i+1 clusters."""

    k: int
    candidates: list[int]  # the k with the three largest gaps, best first
    eigenvalues: list[float]
    gaps: list[float]
    n_points: int
    n_neighbors: int
    n_components: int
    method: str = "eigengap"

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        edge = (f" It is the largest k tried ({self.k}): there may be more groups, or no clear number of them."
                if self.k == len(self.gaps) else "")
        return (f"estimated k={self.k} from the images (eigengap of a {self.n_neighbors}-nearest-neighbour graph of "
                f"their pixels; next candidates {', '.join(map(str, self.candidates[1:]))}); a rough guess: --k N "
                f"sets it.{edge}")


def sample_indices(n: int, max_points: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of the rows that enter the estimate: all n, or a seeded sample of `max_points`.
    Refuses too few rows to say anything about groups."""
    if n < MIN_IMAGES:
        raise UserError(f"{n} images are too few to estimate k (at least {MIN_IMAGES}): give --k instead")
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


def pixel_features(images: torch.Tensor, n_components: int = 50, seed: int = 0) -> np.ndarray:
    """N×C×H×W uint8 images -> N×D principal components of their pixels scaled to [0, 1]."""
    from sklearn.decomposition import PCA

    x = images.reshape(len(images), -1).float().numpy() / 255.0
    d = min(n_components, x.shape[1], len(x) - 1)
    return PCA(n_components=d, random_state=seed).fit_transform(x).astype(np.float32)


def estimate_k(x: np.ndarray, k_max: int = 30, n_neighbors: int = 10, max_points: int = 3000,
               seed: int = 0) -> KEstimate:
    """k for the rows of `x` (N×D features) by the eigengap of a symmetric kNN graph's normalised
    Laplacian. At most `max_points` rows (a seeded random sample) enter the graph; k is in [2, k_max]."""
    from scipy.linalg import eigh
    from scipy.sparse.csgraph import laplacian
    from sklearn.neighbors import kneighbors_graph

    x = np.asarray(x, dtype=np.float32)
    x = x[sample_indices(len(x), max_points, seed)]
    m = len(x)
    nn = max(2, min(n_neighbors, m // 4))
    k_max = max(2, min(k_max, m // 2))
    a = kneighbors_graph(x, nn, mode="connectivity", include_self=False)
    a = 0.5 * (a + a.T)  # 1 where both are among each other's neighbours, 0.5 where one is
    lap = laplacian(a, normed=True).toarray()
    vals = eigh(lap, eigvals_only=True, subset_by_index=[0, k_max])
    vals = np.clip(np.sort(vals), 0.0, None)
    gaps = np.diff(vals)  # gaps[i]: evidence for i + 1 clusters
    order = np.argsort(-gaps[1:], kind="stable") + 2  # k = 1 is never an answer
    return KEstimate(k=int(order[0]), candidates=[int(k) for k in order[:3]],
                     eigenvalues=[float(v) for v in vals], gaps=[float(g) for g in gaps],
                     n_points=m, n_neighbors=nn, n_components=int(x.shape[1]))


def estimate_k_images(images: torch.Tensor, seed: int = 0, max_points: int = 3000, **kw) -> KEstimate:
    """`estimate_k` on the principal components of the images' pixels (of a seeded sample of
    `max_points` images when there are more)."""
    images = images[torch.from_numpy(sample_indices(len(images), max_points, seed))]
    return estimate_k(pixel_features(images, seed=seed), seed=seed, max_points=max_points, **kw)
