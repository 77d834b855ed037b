import itertools

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from deepclust import metrics


def brute_force_acc(t, p):
    k = max(t.max(), p.max()) + 1
    return max(np.mean(np.array(perm)[p] == t) for perm in itertools.permutations(range(k)))


def test_acc_is_best_permutation(rng):
    for _ in range(5):
        t = rng.integers(0, 4, 60)
        p = rng.integers(0, 4, 60)
        assert abs(metrics.acc(t, p) - brute_force_acc(t, p)) < 1e-12


def test_acc_invariant_to_relabelling():
    t = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([2, 2, 0, 0, 1, 1])
    assert metrics.acc(t, p) == 1.0
    assert metrics.cluster_to_label(t, p) == {2: 0, 0: 1, 1: 2}


def test_nmi_ari_match_sklearn(rng):
    t = rng.integers(0, 5, 100)
    p = rng.integers(0, 6, 100)
    assert metrics.nmi(t, p) == normalized_mutual_info_score(t, p)
    assert metrics.ari(t, p) == adjusted_rand_score(t, p)
    e = metrics.evaluate(t, p)
    assert set(e) == {"acc", "nmi", "ari"}


def test_confusion_counts():
    m = metrics.confusion([0, 0, 1], [1, 1, 0])
    assert m.tolist() == [[0, 2], [1, 0]]
