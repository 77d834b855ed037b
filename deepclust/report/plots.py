"""Matplotlib plots for the report, each returned as a PNG data URI.

Figures are built with the object API on an Agg canvas (never pyplot), so that drawing a report
neither needs a display nor changes the global matplotlib state of a process that trains.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.optimize import linear_sum_assignment

DPI = 100


def figure_to_data_uri(fig: Figure) -> str:
    """Encode a figure as a base64 PNG data URI, so the page needs no side files."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    # No "Software" text chunk: it would carry matplotlib's web address into the page.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def colours(n: int) -> list[Any]:
    """n distinct colours: tab10/tab20 while they last, then evenly spaced on a cyclic map."""
    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(n)]
    cmap = matplotlib.colormaps["hsv"]
    return [cmap(i / n) for i in range(n)]


def cluster_sizes_plot(sizes: Sequence[int]) -> str:
    """Bar chart of images per cluster: shows at a glance whether clusters collapsed."""
    k = len(sizes)
    fig = Figure(figsize=(min(12.0, max(5.0, 0.35 * k + 2)), 3.2))
    ax = fig.add_subplot()
    ax.bar(range(k), sizes, color=colours(k) if k <= 20 else "#4a7ab5")
    ax.set_xlabel("cluster")
    ax.set_ylabel("images")
    if k <= 40:
        ax.set_xticks(range(k))
    ax.set_xlim(-0.6, k - 0.4)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return figure_to_data_uri(fig)


def k_estimate_plot(gaps: Sequence[float], k: int) -> str:
    """The eigengap evidence for each k (`--k auto`): the estimate is the tallest bar; close rivals
    show how much to trust it."""
    ks = np.arange(2, len(gaps) + 1)
    vals = np.asarray(gaps, dtype=float)[1:]
    fig = Figure(figsize=(min(12.0, max(5.0, 0.25 * len(ks) + 2)), 3.0))
    ax = fig.add_subplot()
    ax.bar(ks, vals, color=["#c0392b" if int(x) == int(k) else "#4a7ab5" for x in ks])
    ax.set_xlabel("k (number of clusters)")
    ax.set_ylabel("eigengap")
    ax.set_xticks(ks[::max(1, len(ks) // 15)])
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return figure_to_data_uri(fig)


def k_probe_plot(candidates: Sequence[int], acc: Sequence[float], cvi: Sequence[float], k_mid: int | None) -> str:
    """DTC's probe estimate of k: the validation probes' ACC and the silhouette of the unlabelled images for
    each candidate number of new classes; the chosen candidate marked."""
    fig = Figure(figsize=(min(12.0, max(5.0, 0.25 * len(candidates) + 2)), 3.0))
    ax = fig.add_subplot()
    ax.plot(candidates, acc, "o-", color="#4a7ab5", label="ACC of the validation probe classes")
    ax.plot(candidates, cvi, "s-", color="#7a9a3a", label="silhouette of the unlabelled images")
    if k_mid is not None:
        ax.axvline(k_mid, color="#c0392b", linestyle="--", label=f"halfway between the two bests: {k_mid}")
    ax.set_xlabel("candidate number of new classes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return figure_to_data_uri(fig)


def hungarian_order(
    labels: np.ndarray, clusters: np.ndarray, n_clusters: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confusion counts (true label × cluster) with clusters reordered by the best matching.

    Returns (matrix, label values, cluster order). Matched clusters come first, each in the
    column of its label, so the diagonal is the agreement that ACC measures; unmatched clusters
    (k > number of labels) follow, largest first.
    """
    label_values = np.unique(labels)
    k = max(int(n_clusters), int(clusters.max()) + 1 if clusters.size else 0)
    row = np.searchsorted(label_values, labels)
    counts = np.zeros((len(label_values), k), dtype=np.int64)
    np.add.at(counts, (row, clusters), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    matched = [int(c) for _, c in sorted(zip(rows, cols))]
    rest = [c for c in np.argsort(-counts.sum(0), kind="stable") if c not in set(matched)]
    order = np.array(matched + [int(c) for c in rest], dtype=np.int64)
    return counts[:, order], label_values, order


def confusion_plot(counts: np.ndarray, label_values: np.ndarray, order: np.ndarray) -> str:
    """Heatmap of the reordered confusion matrix, row-normalised so small classes show too."""
    n_rows, n_cols = counts.shape
    frac = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    side = min(11.0, max(4.5, 0.42 * max(n_rows, n_cols) + 2))
    fig = Figure(figsize=(side * max(1.0, n_cols / max(n_rows, 1)) ** 0.5, side))
    ax = fig.add_subplot()
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    if n_rows * n_cols <= 400:
        for i in range(n_rows):
            for j in range(n_cols):
                if counts[i, j]:
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if frac[i, j] > 0.5 else "#222")
    if n_cols <= 50:
        ax.set_xticks(range(n_cols), [str(c) for c in order])
    if n_rows <= 50:
        ax.set_yticks(range(n_rows), [str(v) for v in label_values])
    ax.set_xlabel("cluster (Hungarian order)")
    ax.set_ylabel("true label")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the label's images")
    fig.tight_layout()
    return figure_to_data_uri(fig)


def _stages(rows: list[dict[str, Any]]) -> list[str]:
    """Stages in order of first appearance (pretrain before cluster)."""
    seen: list[str] = []
    for r in rows:
        s = str(r.get("stage", "train"))
        if s not in seen:
            seen.append(s)
    return seen


def _series(rows: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(step, value) pairs for the rows that carry a numeric `key`."""
    xs, ys = [], []
    for i, r in enumerate(rows):
        v = r.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            xs.append(float(r.get("step", i)))
            ys.append(float(v))
    return xs, ys


def loss_plot(rows: list[dict[str, Any]]) -> str | None:
    """Loss vs step, one subplot per stage: total loss plus each named term of `losses`."""
    stages = [s for s in _stages(rows) if _series([r for r in rows if r.get("stage") == s], "loss")[0]]
    if not stages:
        return None
    fig = Figure(figsize=(min(12.0, 5.2 * len(stages)), 3.4))
    axes = fig.subplots(1, len(stages), squeeze=False)[0]
    for ax, stage in zip(axes, stages):
        srows = [r for r in rows if str(r.get("stage")) == stage]
        xs, ys = _series(srows, "loss")
        ax.plot(xs, ys, color="#222", lw=1.6, label="loss")
        terms: list[str] = []
        for r in srows:
            for t in r.get("losses") or {}:
                if t not in terms:
                    terms.append(t)
        for t in terms if len(terms) > 1 else []:  # a single term is the total again
            pts = [(float(r.get("step", i)), float(r["losses"][t])) for i, r in enumerate(srows)
                   if isinstance((r.get("losses") or {}).get(t), (int, float))]
            if pts:
                ax.plot(*zip(*pts), lw=1.0, alpha=0.8, label=t)
        values = [y for line in ax.get_lines() for y in line.get_ydata()]
        if values and min(values) > 0 and max(values) / min(values) > 50:
            ax.set_yscale("log")
        ax.set_title(f"{stage} loss")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return figure_to_data_uri(fig)


def quality_plot(rows: list[dict[str, Any]]) -> str | None:
    """acc/nmi/ari over steps, label_change at refreshes and DeepCluster's NMI between consecutive
    assignments, whichever the log holds."""
    panels: list[tuple[str, list[str]]] = []
    if any(_series(rows, m)[0] for m in ("acc", "nmi", "ari")):
        panels.append(("agreement with ground truth", ["acc", "nmi", "ari"]))
    if _series(rows, "label_change")[0]:
        panels.append(("label change at refreshes", ["label_change"]))
    if _series(rows, "nmi_previous")[0]:  # DeepCluster: how stable its pseudo-labels are (the papers' NMI t-1/t)
        panels.append(("NMI between consecutive pseudo-labellings", ["nmi_previous"]))
    if not panels:
        return None
    fig = Figure(figsize=(min(12.0, 5.2 * len(panels)), 3.4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    stages = _stages(rows)
    for ax, (title, keys) in zip(axes, panels):
        for key in keys:
            per_stage = [(s, _series([r for r in rows if str(r.get("stage")) == s], key))
                         for s in stages]
            per_stage = [(s, xy) for s, xy in per_stage if xy[0]]
            for stage, (xs, ys) in per_stage:
                name = key if len(per_stage) == 1 else f"{key} ({stage})"
                ax.plot(xs, ys, marker="o", ms=3, lw=1.2, label=name)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return figure_to_data_uri(fig)


def embedding_plot(xy: np.ndarray, groups: np.ndarray, title: str) -> str:
    """Scatter of the 2-D embedding coloured by `groups` (clusters or true labels)."""
    values = np.unique(groups)
    palette = colours(len(values))
    fig = Figure(figsize=(5.6, 5.0))
    ax = fig.add_subplot()
    size = 22 if len(xy) <= 500 else 6 if len(xy) <= 2000 else 2
    for value, colour in zip(values, palette):
        m = groups == value
        ax.scatter(xy[m, 0], xy[m, 1], s=size, color=colour, label=str(value), linewidths=0)
    if len(values) <= 20:
        ax.legend(fontsize=7, markerscale=max(1.0, 30 / size) ** 0.5, loc="center left",
                  bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return figure_to_data_uri(fig)
