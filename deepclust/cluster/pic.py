"""Power Iteration Clustering as DeepCluster runs it (Caron et al. 2018, the clustering the reproduction in
papers/002 used instead of k-means).

The points (DeepCluster's PCA-whitened, L2-normalised features) are joined to their `n_neighbors` nearest
neighbours with Gaussian weights exp(-|x_i - x_j|^2 / sigma^2), the graph made symmetric (W = A + A^T).
A power iteration with a teleport, v <- alpha W v + (1 - alpha) / n, L1-normalised, 200 times from the
uniform vector, gives each point a value that grows with the weight of the graph around it. Each point
then points to the neighbour j that maximises W_ij (v_j - v_i) when that is positive (else to itself); a
cluster is the set of points whose pointers lead to the same local maximum. So the number of clusters is
the data's, not a given k. Clusters of one point join the cluster of their nearest neighbour that is not
one (the reference's `distribute_singletons`). Defaults are the reference's: sigma 0.2, 5 neighbours,
alpha 0.001.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import sparse

SIGMA, NEIGHBORS, ALPHA, ITERATIONS = 0.2, 5, 0.001, 200


def knn(x: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices N×n, squared distances N×n) of each row's nearest other rows, nearest first."""
    n = len(x)
    m = min(n_neighbors + 1, n)
    try:
        import faiss

        index = faiss.IndexFlatL2(x.shape[1])
        index.add(x)
        d2, idx = index.search(x, m)
    except ImportError:
        from sklearn.neighbors import NearestNeighbors

        d, idx = NearestNeighbors(n_neighbors=m).fit(x).kneighbors(x)
        d2 = d ** 2
    # Drop each row's own entry (not always the first one: duplicates tie at distance 0), else its farthest.
    own = idx == np.arange(n)[:, None]
    drop = np.where(own.any(1), own.argmax(1), m - 1)
    keep = np.ones_like(own)
    keep[np.arange(n), drop] = False
    return idx[keep].reshape(n, m - 1), np.maximum(d2[keep].reshape(n, m - 1), 0.0)


def pic(x, n_neighbors: int = NEIGHBORS, sigma: float = SIGMA, alpha: float = ALPHA,
        iterations: int = ITERATIONS, distribute_singletons: bool = True) -> np.ndarray:
    """Cluster the rows of x (array or tensor N×D). Returns labels N (int64, 0..m-1, m found from the data)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x)
    if not np.isfinite(x).all():
        raise ValueError("power iteration clustering got features that are not finite (NaN or inf)")
    if n <= n_neighbors:
        raise ValueError(f"power iteration clustering needs more than {n_neighbors} points (got {n})")
    idx, d2 = knn(x, n_neighbors)
    rows = np.repeat(np.arange(n), idx.shape[1])
    a = sparse.csr_matrix((np.exp(-d2.ravel() / sigma ** 2), (rows, idx.ravel())), shape=(n, n))
    w = (a + a.T).tocsr()
    # v stays within a hair of uniform: at DeepCluster's feature distances (squared nearest-neighbour distance
    # about 0.6 in 32 whitened dims) the weights are ~1e-7 and v_i - 1/n ~1e-11 of 1/n, below float32's
    # resolution (the reference's float32 then turns every point into a cluster of its own). So the iteration
    # tracks u = v - 1/n in float64: v' = (alpha W v + (1 - alpha)/n) / s, s = alpha 1'Wv + 1 - alpha, gives
    # u' = alpha (Wv - (1'Wv / n) 1) / s, with no difference of two nearly equal numbers.
    u = np.zeros(n)
    for _ in range(iterations):
        wv = w @ (u + 1.0 / n)
        total = wv.sum()
        u = alpha * (wv - total / n) / (alpha * total + 1 - alpha)
    # Each point's pointer: the neighbour with the largest positive W_ij (v_j - v_i), the first one on ties.
    coo = w.tocoo()
    gain = coo.data * (u[coo.col] - u[coo.row])
    order = np.lexsort((-np.arange(len(gain)), gain, coo.row))  # by row, then gain; the last of a row wins
    last = order[np.r_[coo.row[order][1:] != coo.row[order][:-1], True]]
    pointer = np.arange(n)
    up = gain[last] > 0
    pointer[coo.row[last][up]] = coo.col[last][up]
    while True:  # pointers only go uphill in v, so following them ends at a local maximum
        nxt = pointer[pointer]
        if np.array_equal(nxt, pointer):
            break
        pointer = nxt
    labels = np.unique(pointer, return_inverse=True)[1]
    if distribute_singletons:
        alone = np.bincount(labels)[labels] == 1
        has = ~alone[idx]  # a neighbour in a cluster of more than one point
        move = alone & has.any(1)
        nearest = idx[np.arange(n), has.argmax(1)]
        labels[move] = labels[nearest[move]]
        labels = np.unique(labels, return_inverse=True)[1]
    return labels.astype(np.int64)


def cap_clusters(labels: np.ndarray, x, k: int) -> np.ndarray:
    """At most k clusters: the k largest stay, the points of the others join the nearest kept cluster's
    mean (Euclidean, in x's space). Labels come back as 0..min(k, m)-1, largest cluster first."""
    x = np.asarray(x.detach().float().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    sizes = np.bincount(labels)
    rank = np.empty_like(sizes)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    out = rank[labels]
    if len(sizes) <= k:
        return out
    kept = out < k
    means = np.zeros((k, x.shape[1]))
    np.add.at(means, out[kept], x[kept])  # one pass over the points, not one per kept cluster
    means /= np.sort(sizes)[::-1][:k, None]
    out[~kept] = ((means ** 2).sum(1)[None] - 2 * x[~kept] @ means.T).argmin(1)  # |x - m|^2 less |x|^2
    return out
