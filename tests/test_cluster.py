import numpy as np
import pytest
import torch

from deepclust.cluster import kmeans
from deepclust.metrics import acc


def _blobs(n_per, d, k, seed=0):
    g = np.random.default_rng(seed)
    centers = g.normal(0, 10, (k, d))
    x = np.concatenate([c + g.normal(0, 1, (n_per, d)) for c in centers]).astype(np.float32)
    y = np.repeat(np.arange(k), n_per)
    return x, y


@pytest.mark.parametrize("n_per, d", [(100, 8), (1000, 900)])  # scikit-learn path; faiss path (> 4M values)
def test_kmeans_recovers_blobs(n_per, d):
    x, y = _blobs(n_per, d, 5)
    labels, centers = kmeans(x, 5, n_init=3, seed=0)
    assert centers.shape == (5, d) and labels.shape == (len(x),)
    assert acc(y, labels) == 1.0


def test_kmeans_accepts_tensors_and_rejects_k_above_n():
    x, _ = _blobs(10, 4, 3)
    labels, _ = kmeans(torch.from_numpy(x), 3, n_init=2)
    assert len(set(labels.tolist())) == 3
    with pytest.raises(ValueError, match="larger than the number of points"):
        kmeans(x[:2], 3)


def _inertia(x, labels, centers):
    return float(((x - centers[labels]) ** 2).sum())


def test_torch_kmeans_matches_scikit_learn_on_overlapping_blobs():
    """The torch path (GPU features; no faiss) reaches scikit-learn's inertia on a problem with real
    local minima (overlapping blobs, k-means++ seeding, several restarts)."""
    from sklearn.cluster import KMeans

    from deepclust.cluster.torch_kmeans import torch_kmeans

    g = np.random.default_rng(1)
    x = np.concatenate([c + g.normal(0, 3, (300, 6)) for c in g.normal(0, 4, (8, 6))]).astype(np.float32)
    labels, centers = torch_kmeans(torch.from_numpy(x), 8, n_init=10, seed=0)
    labels, centers = labels.numpy(), centers.numpy()
    assert labels.shape == (len(x),) and centers.shape == (8, 6) and labels.dtype == np.int64
    ref = KMeans(8, n_init=10, random_state=0).fit(x)
    assert _inertia(x, labels, centers) <= ref.inertia_ * 1.01
    # labels are the nearest centres, and each centre is the mean of its points
    d = ((x[:, None, :] - centers[None]) ** 2).sum(-1)
    assert (d.argmin(1) == labels).mean() > 0.999
    for j in np.unique(labels):
        np.testing.assert_allclose(centers[j], x[labels == j].mean(0), atol=1e-3)
    again, _ = torch_kmeans(torch.from_numpy(x), 8, n_init=10, seed=0)
    assert np.array_equal(again.numpy(), labels)  # seeded


def test_kmeans_without_faiss_falls_back_to_torch(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_faiss(name, *a, **k):
        if name == "faiss":
            raise ImportError("no faiss here")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_faiss)
    x, y = _blobs(1000, 900, 5)  # above the scikit-learn limit
    labels, centers = kmeans(x, 5, n_init=3, seed=0)
    assert centers.shape == (5, 900) and acc(y, labels) == 1.0
