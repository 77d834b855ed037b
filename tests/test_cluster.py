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


def test_estimate_k_finds_separated_groups():
    from deepclust.cluster.estimate_k import estimate_k

    for k in (3, 4, 7):
        x, _ = _blobs(60, 6, k, seed=k)
        est = estimate_k(x, seed=0)
        assert est.k == k, est.candidates
        assert est.candidates[0] == k and len(set(est.candidates)) == 3
        assert "largest k tried" not in est.describe()
    # an answer at the top of the range says that there may be more groups than it could see
    x, _ = _blobs(30, 6, 12, seed=1)
    assert estimate_k(x, k_max=20).k == 12
    est = estimate_k(x, k_max=12)
    assert est.k == 12 and "largest k tried" in est.describe()


def test_estimate_k_on_real_digits_is_near_ten():
    from deepclust.cluster.estimate_k import estimate_k_images
    from deepclust.data import load_dataset

    est = estimate_k_images(load_dataset("digits").images, seed=0)  # 1,797 real 8×8 digits
    assert 9 <= est.k <= 11, est.candidates


def test_estimate_k_refuses_too_few_images():
    from deepclust.cluster.estimate_k import estimate_k_images
    from deepclust.errors import UserError

    with pytest.raises(UserError, match="too few to estimate k"):
        estimate_k_images(torch.zeros(5, 1, 8, 8, dtype=torch.uint8))


def test_anchored_kmeans_keeps_anchor_classes_in_their_clusters():
    from deepclust.cluster.estimate_k import anchored_kmeans

    x, y = _blobs(40, 6, 5, seed=3)
    # classes 0 and 1 are anchors (their own images, labelled); the points are every class's other images
    anchors, a_lab = torch.from_numpy(x[np.isin(y, [0, 1])]), torch.from_numpy(y[np.isin(y, [0, 1])])
    pts = torch.from_numpy(x) + 0.1
    labels, _ = anchored_kmeans(pts, anchors, a_lab, 5, seed=0)
    assert (labels[y == 0] == 0).all() and (labels[y == 1] == 1).all()  # anchored clusters keep their index
    assert acc(y, labels.numpy()) == 1.0
    labels, _ = anchored_kmeans(pts, anchors[:0], a_lab[:0], 5, seed=0)  # no anchors: plain k-means
    assert acc(y, labels.numpy()) == 1.0
    # every centre is the mean of its points and its anchors: 20 anchors at 0 hold their cluster's centre near 0
    pts = torch.tensor([[1.0], [2.0], [30.0], [31.0]])
    labels, c = anchored_kmeans(pts, torch.zeros(20, 1), torch.zeros(20, dtype=torch.long), 2)
    assert labels.tolist() == [0, 0, 1, 1] and torch.allclose(c, torch.tensor([[3.0 / 22], [30.5]]))
    with pytest.raises(ValueError, match="must exceed"):
        anchored_kmeans(pts, torch.zeros(2, 1), torch.tensor([0, 1]), 2)
    with pytest.raises(ValueError, match="each with an image"):
        anchored_kmeans(pts, torch.zeros(2, 1), torch.tensor([0, 2]), 4)


@pytest.mark.parametrize("n_new", [3, 6])
def test_probe_estimate_finds_the_number_of_new_classes(n_new):
    """Separated classes in feature space: 2 anchor, 2 validation probe and n_new new classes; the estimate
    counts the new ones, and its record says what each criterion picked."""
    from deepclust.cluster.estimate_k import estimate_k_probe

    x, y = _blobs(30, 8, 4 + n_new, seed=n_new)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    est = estimate_k_probe(x[y < 2], y[y < 2], x[(y >= 2) & (y < 4)], y[(y >= 2) & (y < 4)], x[y >= 4], k_max=10)
    assert est.k == n_new, est.to_dict()
    assert est.acc[n_new - 1] == 1.0 and est.candidates == list(range(1, 11))
    assert len(est.acc) == len(est.cvi) == 10 and est.k_mid == (est.k_acc + est.k_cvi + 1) // 2
    assert f"estimated k={n_new}" in est.describe() and est.to_dict()["method"] == "probe"


def pattern_images(per: int = 12, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Three kinds of 16×16 images (horizontal stripes, vertical stripes, a checkerboard) with noise."""
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[:16, :16]
    kinds = [(yy // 2) % 2, (xx // 2) % 2, ((yy // 4) + (xx // 4)) % 2]
    imgs = [np.clip(kind * 200 + g.integers(0, 50, (16, 16)), 0, 255) for kind in kinds for _ in range(per)]
    return torch.tensor(np.stack(imgs)[:, None], dtype=torch.uint8), np.repeat(np.arange(3), per)


def test_estimator_with_auto_k_estimates_it_before_fitting():
    from deepclust import KMeans

    images, y = pattern_images()
    m = KMeans(n_clusters="auto").fit(images)
    assert m.n_clusters_ == 3 and m.k_estimate_.k == 3
    assert acc(y, m.labels_) == 1.0
    m.set_params(n_clusters=2).fit(images)  # a refit with a given k drops the old estimate
    assert m.n_clusters_ == 2 and not hasattr(m, "k_estimate_")
    assert KMeans(n_clusters="auto", method__n_clusters=3).get_params()["n_clusters"] == "auto"
    from deepclust.errors import UserError

    with pytest.raises(UserError, match="n_clusters must be an integer"):
        KMeans(n_clusters="many").fit(images)


def test_probe_estimate_samples_large_sets():
    from deepclust.cluster.estimate_k import estimate_k_probe

    x, y = _blobs(400, 8, 6, seed=2)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    est = estimate_k_probe(x[y < 1], y[y < 1], x[(y >= 1) & (y < 3)], y[(y >= 1) & (y < 3)], x[y >= 3], k_max=6,
                           max_points=300)
    assert est.n_points == 600 and est.k == 3, est.to_dict()  # 300 probes + 300 new images
    tiny = estimate_k_probe(x[:0], y[:0], x[(y >= 1) & (y < 3)][::100], y[(y >= 1) & (y < 3)][::100], x[y >= 3][::60])
    assert tiny.n_points == 8 + 20 and tiny.candidates == list(range(1, 11))  # a few each: no sampling, no error
    # as many clusters as points: the silhouette cannot score it, and the candidate gets its worst (-1)
    # (6 anchor classes at 0, 100, ..., 500; the 2 validation images beside the first two; 4 new images far apart)
    col = lambda *v: torch.tensor(v, dtype=torch.float32)[:, None]  # noqa: E731
    one = estimate_k_probe(col(0, 100, 200, 300, 400, 500), torch.arange(6), col(0.5, 100.5), torch.tensor([6, 7]),
                           col(1000, 2000, 3000, 4000), k_max=2)
    assert one.candidates == [1, 2] and one.cvi[1] == -1.0  # (scikit-learn raised here before)
