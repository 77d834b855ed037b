"""Power Iteration Clustering (DeepCluster's `--clustering PIC`): against the algorithm written out point by
point, on shapes whose answer is known, and as DeepCluster's pseudo-labels."""
import json

import numpy as np
import pytest

from deepclust.cluster.pic import cap_clusters, knn, pic
from deepclust.errors import UserError
from deepclust.methods import fit, make_config


def pic_by_hand(x, nn=5, sigma=0.2, alpha=0.001, iters=200):
    """The same steps with loops: graph, power iteration, pointers to the best uphill neighbour, roots,
    singletons to their nearest neighbour's cluster."""
    n = len(x)
    d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    near = np.argsort(d2, axis=1, kind="stable")[:, :nn]
    w = np.zeros((n, n))
    for i in range(n):
        for j in near[i]:
            w[i, j] += np.exp(-d2[i, j] / sigma ** 2)
    w = w + w.T
    v = np.ones(n) / n
    for _ in range(iters):
        v = alpha * w @ v + (1 - alpha) / n
        v = v / v.sum()
    pointer = list(range(n))
    for i in range(n):
        best = 0.0
        for j in range(n):
            if w[i, j] > 0 and w[i, j] * (v[j] - v[i]) > best:
                best, pointer[i] = w[i, j] * (v[j] - v[i]), j
    root = []
    for i in range(n):
        r = i
        while pointer[r] != r:
            r = pointer[r]
        root.append(r)
    labels = np.array(root)
    sizes = {r: root.count(r) for r in set(root)}
    out = labels.copy()
    for i in range(n):
        if sizes[labels[i]] == 1:
            for j in near[i]:
                if sizes[labels[j]] > 1:
                    out[i] = labels[j]
                    break
    return out


def same_partition(a, b):
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pic_matches_the_algorithm_written_out_by_hand(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # DeepCluster's features are L2-normalised
    ours = pic(x)
    assert ours.dtype == np.int64 and ours.min() == 0 and set(ours.tolist()) == set(range(ours.max() + 1))
    assert same_partition(ours, pic_by_hand(x))


def test_a_lone_point_joins_its_nearest_neighbours_cluster():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(size=(60, 3)) * 0.1, [[3.0, 0.0, 0.0]]]).astype(np.float32)  # its weights underflow
    alone = pic(x, distribute_singletons=False)
    assert (alone == alone[60]).sum() == 1  # a cluster of its own before redistribution
    ours = pic(x)
    nearest = np.argsort(((x[:60] - x[60]) ** 2).sum(1))[0]
    assert ours[60] == ours[nearest] and np.bincount(ours).min() > 1
    assert same_partition(ours, pic_by_hand(x))


def test_pic_never_joins_points_that_the_graph_keeps_apart():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.05, size=(60, 3)) + [1, 0, 0]
    b = rng.normal(0, 0.05, size=(60, 3)) + [0, 1, 0]
    labels = pic(np.vstack([a, b]).astype(np.float32), sigma=0.5)
    assert not set(labels[:60]) & set(labels[60:])
    assert 2 <= labels.max() + 1 < 60  # a few local maxima per group, not one cluster per point
    assert np.bincount(labels).min() > 1  # singletons went to their nearest neighbour's cluster


def test_knn_drops_each_point_itself_even_among_duplicates():
    x = np.array([[0, 0], [0, 0], [0, 0], [5, 5], [5, 6], [6, 5]], dtype=np.float32)
    idx, d2 = knn(x, 2)
    assert idx.shape == (6, 2) and not (idx == np.arange(6)[:, None]).any()
    assert np.allclose(d2[:3], 0) and set(idx[0]) == {1, 2}
    assert (np.diff(d2, axis=1) >= 0).all()
    # more copies than neighbours searched: the point itself may not come back; its farthest one goes instead
    idx, d2 = knn(np.zeros((4, 2), dtype=np.float32), 2)
    assert idx.shape == (4, 2) and not (idx == np.arange(4)[:, None]).any() and np.allclose(d2, 0)


def test_cap_clusters_keeps_the_largest_and_moves_the_rest_to_the_nearest_mean():
    x = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [4.0], [9.0]])
    labels = np.array([3, 3, 3, 1, 1, 0, 2])  # sizes 3, 2, 1, 1 under ids that are not in size order
    out = cap_clusters(labels, x, 2)
    assert out.tolist() == [0, 0, 0, 1, 1, 0, 1]  # 4.0 is nearer 0.1 than 10.05; 9.0 nearer 10.05
    assert cap_clusters(labels, x, 4).tolist() == [0, 0, 0, 1, 1, 2, 3]


def test_pic_refuses_features_that_are_not_finite():
    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        pic(x)


SMALL = ["encoder.filters=[8,16]", "encoder.hidden=[64,64]", "encoder.embed_dim=16", "cluster.batch_size=50",
         "train.progress=false", "train.log_every=2", "train.checkpoint_every=2", "cluster.min_update_steps=0"]


def test_deepcluster_trains_on_pic_pseudo_labels(tmp_path):
    from deepclust.data import load_dataset
    from deepclust.train.rundir import RunDir

    data = load_dataset("digits", limit=300, image_size=16)
    run = RunDir(tmp_path / "r")
    res = fit(make_config("deepcluster", sets=SMALL + ["cluster.epochs=4", "method.pseudo_clustering=pic",
                                                       "method.pseudo_k=20"]), data, run=run)
    assert res.labels.shape == (300,) and res.labels.max() < 10  # the asked k, from the final k-means
    events = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()
              if "pseudo_labels" in line]
    assert len(events) == 4
    assert all(r["pic_clusters"] > 1 and r["clusters_used"] == min(r["pic_clusters"], 20) for r in events)
    assert res.metrics["nmi"] > 0.3


def test_impossible_pic_settings_fail_before_training():
    from deepclust.data import load_dataset

    data = load_dataset("digits", limit=60, image_size=16)
    with pytest.raises(UserError, match="pseudo_clustering='spectral'.*kmeans or pic"):
        fit(make_config("deepcluster", sets=SMALL + ["method.pseudo_clustering=spectral"]), data)
    with pytest.raises(UserError, match="needs more than 5 images"):
        fit(make_config("deepcluster", sets=SMALL + ["method.pseudo_clustering=pic", "method.n_clusters=2"]),
            data.subset(np.arange(5)))
