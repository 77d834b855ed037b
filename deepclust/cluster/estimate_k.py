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


# --- With labelled known classes: DTC's probe estimate -------------------------------------------------------
#
# Han et al. 2019 (Deep Transfer Clustering, §2.3) estimate the number of new classes with known classes the
# feature extractor never saw, the probe classes: a part of them (the anchors) keep their labels and pin their
# clusters, the rest (the validation probes) are clustered with the new images as if they were new. For each
# candidate number of new classes, a k-means whose anchor images stay in their class's cluster partitions the
# validation probes and the new images; the validation probes' ACC says how well the candidate recovers classes
# whose answer is known, the silhouette of the unlabelled images says how well the partition fits them. The
# estimate sits halfway between the best candidate of each, counted as the clusters the new images then fill.


@dataclass(frozen=True)
class ProbeKEstimate:
    """k from probe classes. `candidates[i]` new classes were tried with `candidates[i]` + the probe classes'
    number of clusters; `acc[i]` is the validation probes' ACC there, `cvi[i]` the silhouette of the unlabelled
    images (validation probes and new images). `k_acc` / `k_cvi`: the candidates each picks; `k_mid` the one
    halfway; `k`: the clusters the new images fill there (each holding a larger share of the new images than of the
    probe images, and at least `min_share` of the largest cluster's new images), and at least 2."""

    k: int
    k_acc: int
    k_cvi: int
    k_mid: int
    candidates: list[int]
    acc: list[float]
    cvi: list[float]
    anchor_classes: list[str]
    validation_classes: list[str]
    trained_classes: list[str]
    n_points: int
    min_share: float
    method: str = "probe"

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        edge = (f" It is the largest number tried ({self.candidates[-1]}): there may be more new classes."
                if self.k_mid == self.candidates[-1] else "")
        return (f"estimated k={self.k} with {len(self.anchor_classes) + len(self.validation_classes)} of the known "
                f"classes as probes (a classifier of the other {len(self.trained_classes)} never saw them): the probes' "
                f"ACC is best at {self.k_acc} new class{'es' if self.k_acc != 1 else ''}, the silhouette at "
                f"{self.k_cvi}; --k N sets it.{edge}")


@torch.no_grad()
def anchored_kmeans(x: torch.Tensor, anchors: torch.Tensor, anchor_labels: torch.Tensor, k: int, seed: int = 0,
                    n_init: int = 5, max_iter: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means of the rows of x (N×D) into k clusters of which the first A belong to the anchor classes
    (anchor_labels 0..A-1, each present; A may be 0): an anchor image always counts in its class's cluster, so
    those A clusters start at the class means and every centre is the mean of its points and anchors; the other
    k - A start by k-means++ among the points. The restart with the lowest inertia (points and anchors) wins.
    Returns (the N points' clusters, the k centres)."""
    x, anchors = x.float(), anchors.float().reshape(-1, x.shape[1])
    n_a = int(anchor_labels.max()) + 1 if len(anchor_labels) else 0
    if not n_a < k <= n_a + len(x):
        raise ValueError(f"k={k} must exceed the {n_a} anchor classes by at most the {len(x)} points")
    onehot_a = torch.nn.functional.one_hot(anchor_labels.long(), k).float().reshape(-1, k)  # anchors × k
    a_sums, a_counts = onehot_a.T @ anchors, onehot_a.sum(0)
    if n_a and bool((a_counts[:n_a] == 0).any()):
        raise ValueError("anchor_labels must number the anchor classes 0..A-1, each with an image")
    x2 = x.pow(2).sum(1)

    def sq_dists(c):
        return (x2[:, None] - 2 * x @ c.T + c.pow(2).sum(1)).clamp_min(0)

    gen = torch.Generator(device=x.device).manual_seed(seed)
    best, best_labels, best_c = float("inf"), None, None
    for _ in range(n_init):
        c = torch.zeros(k, x.shape[1], device=x.device)
        c[:n_a] = a_sums[:n_a] / a_counts[:n_a, None]
        d = sq_dists(c[:n_a]).min(1).values if n_a else torch.full_like(x2, 1.0)
        for j in range(n_a, k):  # k-means++ for the free clusters, given the anchored ones
            c[j] = x[torch.multinomial(d + 1e-12, 1, generator=gen)[0]]
            dj = (x - c[j]).pow(2).sum(1)
            d = dj if j == 0 else torch.minimum(d, dj)
        for _ in range(max_iter):
            onehot = torch.nn.functional.one_hot(sq_dists(c).argmin(1), k).float()
            sums, counts = onehot.T @ x + a_sums, onehot.sum(0) + a_counts
            new = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], c)
            if torch.equal(new, c):
                break
            c = new
        dist = sq_dists(c)
        labels = dist.argmin(1)
        inertia = float(dist.gather(1, labels[:, None]).sum() + (anchors - c[anchor_labels.long()]).pow(2).sum())
        if inertia < best:
            best, best_labels, best_c = inertia, labels, c
    return best_labels, best_c


def estimate_k_probe(anchors: torch.Tensor, anchor_labels: torch.Tensor, probes: torch.Tensor,
                     probe_labels: torch.Tensor, new: torch.Tensor, k_max: int = 30, seed: int = 0,
                     min_share: float = 0.01, silhouette_points: int = 3000, max_points: int = 10000,
                     class_names: dict[str, list[str]] | None = None) -> ProbeKEstimate:
    """The number of classes among `new` (N×D features) from probe classes the features were not trained on:
    `anchors` (labels 0..A-1) keep their labels, `probes` (validation probe classes, any labels) are clustered
    with the new images. Candidates are 1..k_max new classes; see the notes above and `ProbeKEstimate`. The
    probes and the new images enter with at most `max_points` rows each (a seeded sample), so that large sets
    take seconds."""
    from sklearn.metrics import silhouette_score

    from ..metrics import acc as cluster_acc

    draw = np.random.default_rng([seed, 1])  # its own stream: below max_points nothing is drawn from it

    def sample(*ts):
        if len(ts[0]) <= max_points:
            return list(ts)
        keep = torch.from_numpy(np.sort(draw.choice(len(ts[0]), max_points, replace=False)))
        return [t[keep] for t in ts]

    probes, probe_labels = sample(probes, probe_labels)  # the anchors enter only through their classes' sums
    (new,) = sample(new)
    n_a = int(anchor_labels.max()) + 1 if len(anchor_labels) else 0
    n_v = len(torch.unique(probe_labels))
    x = torch.cat([probes, new]).float()
    k_max = max(1, min(k_max, len(new) // 2))
    rng = np.random.default_rng(seed)
    sil_idx = (np.sort(rng.choice(len(x), silhouette_points, replace=False)) if len(x) > silhouette_points
               else np.arange(len(x)))
    x_np = x.cpu().numpy()
    cands, accs, cvis, parts = list(range(1, k_max + 1)), [], [], []
    for c in cands:
        labels, _ = anchored_kmeans(x, anchors, anchor_labels, n_a + n_v + c, seed=seed)
        lab = labels.cpu().numpy()
        parts.append(lab)
        accs.append(cluster_acc(probe_labels.cpu().numpy(), lab[:len(probes)]))
        sub = lab[sil_idx]
        # silhouette needs 2 to n - 1 clusters among the points scored; else it says nothing (-1, its worst)
        cvis.append(float(silhouette_score(x_np[sil_idx], sub)) if 1 < len(np.unique(sub)) < len(sub) else -1.0)
    # Halfway between the two picks, rounded up (the reference's rule). The silhouette's pick is the last of
    # equal bests, as the reference's; ACC ties more often (separated probe classes score 1.0 over a range of
    # candidates), and of its equal bests we take the one nearest the silhouette's pick, where the reference
    # takes the last: a range of equally good candidates says nothing for its far end.
    i_cvi = int(np.flatnonzero(np.asarray(cvis) == max(cvis))[-1])
    best_acc = np.flatnonzero(np.asarray(accs) == max(accs))
    i_acc = int(best_acc[np.argmin(np.abs(best_acc - i_cvi))])
    i_mid = (i_acc + i_cvi + 1) // 2
    lab = parts[i_mid]
    n_clusters = n_a + n_v + cands[i_mid]
    new_counts = np.bincount(lab[len(probes):], minlength=n_clusters)
    probe_counts = np.bincount(lab[:len(probes)], minlength=n_clusters)
    probe_counts[:n_a] += np.bincount(anchor_labels.cpu().numpy(), minlength=n_a)  # the anchors' clusters
    # A cluster is the new images' when it holds a larger share of them than of the probe images (a probe
    # class's cluster may take in a few new images), and at least min_share of the largest cluster's.
    owned = new_counts / new_counts.sum() > probe_counts / probe_counts.sum()
    filled = owned & (new_counts >= min_share * new_counts.max())
    names = class_names or {}
    return ProbeKEstimate(k=max(2, int(filled.sum())), k_acc=cands[i_acc], k_cvi=cands[i_cvi], k_mid=cands[i_mid],
                          candidates=cands, acc=[round(a, 4) for a in accs], cvi=[round(v, 4) for v in cvis],
                          anchor_classes=names.get("anchor", [str(i) for i in range(n_a)]),
                          validation_classes=names.get("validation", [str(i) for i in range(n_v)]),
                          trained_classes=names.get("trained", []), n_points=len(x), min_share=min_share)
