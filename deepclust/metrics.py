"""Clustering metrics: ACC (Hungarian matching), NMI, ARI, confusion matrix."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def _as_np(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a).astype(np.int64).ravel()


def confusion(y_true, y_pred) -> np.ndarray:
    """Counts, rows = true labels 0..max, columns = clusters 0..max."""
    t, p = _as_np(y_true), _as_np(y_pred)
    m = np.zeros((t.max() + 1, p.max() + 1), dtype=np.int64)
    np.add.at(m, (t, p), 1)
    return m


def cluster_to_label(y_true, y_pred) -> dict[int, int]:
    """The one-to-one cluster→label map that maximises agreement (Hungarian algorithm)."""
    m = confusion(y_true, y_pred)
    rows, cols = linear_sum_assignment(m, maximize=True)
    return {int(c): int(r) for r, c in zip(rows, cols)}


def acc(y_true, y_pred) -> float:
    """Unsupervised accuracy: best one-to-one matching of clusters to labels."""
    m = confusion(y_true, y_pred)
    rows, cols = linear_sum_assignment(m, maximize=True)
    return float(m[rows, cols].sum() / m.sum())


def nmi(y_true, y_pred) -> float:
    return float(normalized_mutual_info_score(_as_np(y_true), _as_np(y_pred)))


def ari(y_true, y_pred) -> float:
    return float(adjusted_rand_score(_as_np(y_true), _as_np(y_pred)))


def evaluate(y_true, y_pred) -> dict[str, float]:
    return {"acc": acc(y_true, y_pred), "nmi": nmi(y_true, y_pred), "ari": ari(y_true, y_pred)}
