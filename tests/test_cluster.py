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
