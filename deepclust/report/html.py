"""Build `report.html`: one self-contained page describing a run, from its run folder only.

The page must open anywhere (an e-mail attachment, an offline laptop), so every image is an
embedded PNG data URI and there is no script or external URL. Everything taken from the run
folder is untrusted text (file names come from users' folders), so jinja2 autoescapes it all.
Each section is built independently and a missing or damaged file only drops its own section.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from jinja2 import Environment, FileSystemLoader

from deepclust.errors import UserError
from deepclust.report import plots
from deepclust.report.gallery import build_tiles
from deepclust.report.runfolder import (
    Assignments,
    read_assignments,
    read_config,
    read_embedding,
    read_gallery,
    read_k_estimate,
    read_metrics,
    read_result,
    read_skipped,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
TEMPLATES = Path(__file__).parent / "templates"
MAX_SKIPPED_ROWS = 200


def write_report(run_dir: str | os.PathLike[str]) -> Path:
    """Write `run_dir/report.html` from the run folder's files and return its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist: pass the folder of a run (runs/<id>)")
    context = build_context(run_dir)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    html = env.get_template("report.html").render(**context)
    out = run_dir / "report.html"
    tmp = run_dir / ".report.html.tmp"
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)  # atomic: a browser never sees half a page
    return out


def build_context(run_dir: Path) -> dict[str, Any]:
    """Everything the template shows; a section is None when its input is absent or broken."""
    problems: list[str] = []

    def safely(what: str, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except Exception as exc:  # one bad file must not cost the whole report
            log.warning("report: %s skipped: %s", what, exc)
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
            return None

    result = safely("result.json", lambda: read_result(run_dir))
    config, config_text = safely("config.yaml", lambda: read_config(run_dir)) or (None, None)
    metrics = safely("metrics.jsonl", lambda: read_metrics(run_dir))
    assign = safely("assignments.csv", lambda: read_assignments(run_dir))
    skipped = safely("skipped.csv", lambda: read_skipped(run_dir))
    gallery = safely("gallery.npz", lambda: read_gallery(run_dir))
    embedding = safely("embedding_2d.npz", lambda: read_embedding(run_dir))
    augmented = safely("augmented.npz", lambda: _augmented(run_dir))
    st = safely("st.npz", lambda: _spatial_transformer(run_dir))
    gradcam = safely("gradcam.npz", lambda: _gradcam(run_dir))
    k_est = safely("k_estimate.json", lambda: read_k_estimate(run_dir))

    header = _header(run_dir, result, config, assign)
    sizes = _cluster_sizes(result, assign, header["k_int"])
    context: dict[str, Any] = {
        "run_name": run_dir.name,
        "header": header["rows"],
        "title": " · ".join(str(v) for v in (header["method"], header["dataset"]) if v),
        "result_present": result is not None,
        "metrics": _metrics(result),
        "skipped": _skipped(skipped, result),
        "sizes_plot": safely("cluster sizes", lambda: plots.cluster_sizes_plot(sizes)
                             if sizes else None),
        "n_clusters_shown": len(sizes),
        "gallery": safely("gallery", lambda: build_tiles(gallery, dict(enumerate(sizes)))
                          if gallery is not None else None),
        "augmented": augmented,
        "k_estimate": safely("k estimate", lambda: _k_estimate(k_est) if k_est else None),
        "st": st,
        "gradcam": gradcam,
        "warnings": sorted({str(r["warning"]) for r in (metrics or []) if isinstance(r, dict) and r.get("warning")}),
        "confusion": safely("confusion matrix", lambda: _confusion(assign, header["k_int"])),
        "loss_plot": safely("loss curves", lambda: plots.loss_plot(metrics) if metrics else None),
        "quality_plot": safely("quality curves",
                               lambda: plots.quality_plot(metrics) if metrics else None),
        "embedding": safely("embedding map", lambda: _embedding(embedding)),
        "config_text": config_text,
        "files": _files(run_dir),
        "problems": problems,
    }
    return context


def _k_estimate(est: dict[str, Any]) -> dict[str, Any]:
    if est.get("method") == "probe":
        return {"k": int(est["k"]), "method": "probe", "k_acc": est.get("k_acc"), "k_cvi": est.get("k_cvi"),
                "k_mid": est.get("k_mid"), "anchor": est.get("anchor_classes", []),
                "validation": est.get("validation_classes", []), "trained": est.get("trained_classes", []),
                "plot": plots.k_probe_plot(est["candidates"], est["acc"], est["cvi"], est.get("k_mid"))}
    return {"k": int(est["k"]), "candidates": [int(c) for c in est.get("candidates", [])[1:]],
            "n_points": est.get("n_points", "?"), "n_neighbors": est.get("n_neighbors", "k"),
            "plot": plots.k_estimate_plot([float(g) for g in est["gaps"]], int(est["k"]))}


def _lookup(config: dict[str, Any] | None, key: str) -> Any:
    """First value of `key` anywhere in the nested config; a section dict yields its `name`.

    The RunConfig layout belongs to the training code, so the report searches it rather than
    hard-coding paths that would break when a field moves between sub-configs.
    """
    if not isinstance(config, dict):
        return None
    stack: list[Any] = [config]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            if key in node:
                value = node[key]
                if isinstance(value, dict):
                    value = value.get("name")
                if value is not None and not isinstance(value, (dict, list)):
                    return value
            stack.extend(v for v in node.values() if isinstance(v, dict))
    return None


def _header(run_dir: Path, result: dict[str, Any] | None, config: dict[str, Any] | None,
            assign: Assignments | None) -> dict[str, Any]:
    """Header rows (label, text), preferring result.json and falling back to config.yaml."""
    r = result or {}

    def pick(rkey: str, *ckeys: str) -> Any:
        if r.get(rkey) is not None:
            return r[rkey]
        for ck in ckeys:
            value = _lookup(config, ck)
            if value is not None:
                return value
        return None

    n_images = pick("n_images") or (len(assign.files) if assign is not None else None)
    k = pick("n_clusters", "n_clusters", "k")
    stage_s = r.get("stage_s") if isinstance(r.get("stage_s"), dict) else {}
    wall = _duration(r.get("wall_s"))
    if wall and stage_s:
        wall += " (" + ", ".join(f"{s} {_duration(v)}" for s, v in stage_s.items()) + ")"
    method, dataset = pick("method", "method"), pick("dataset", "dataset", "data")
    crop = {"object": "each image cropped to the square around its object (data.reframe=object; --reframe none "
                      "for the centre square)",
            "isolate": "each image cropped to the square around its object, a plain backdrop set to black "
                       "(data.reframe=isolate)"}.get(_lookup(config, "reframe"))
    rows = [("method", method), ("dataset", dataset), ("images", n_images), ("k", k),
            *([("images cropped", crop)] if crop else []),
            ("wall time", wall), ("device", pick("device", "device")),
            ("torch", pick("torch")), ("seed", pick("seed", "seed")),
            ("git commit", pick("git_commit", "git_commit")), ("created", pick("created")),
            ("run folder", str(run_dir))]
    try:
        k_int = int(k) if k is not None else 0
    except (TypeError, ValueError):
        k_int = 0
    return {"rows": [(a, "—" if b in (None, "") else str(b)) for a, b in rows],
            "method": method, "dataset": dataset, "k_int": k_int}


def _duration(seconds: Any) -> str | None:
    """Seconds as '2 h 03 min', '4 min 05 s' or '12.3 s'."""
    if not isinstance(seconds, (int, float)):
        return None
    s = float(seconds)
    if s >= 3600:
        return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"
    if s >= 60:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{s:.1f} s"


def _metrics(result: dict[str, Any] | None) -> list[tuple[str, str]] | None:
    """[(name, value)] for the metrics present; [] without ground truth; None without result."""
    if result is None:
        return None
    out = []
    for key in ("acc", "nmi", "ari"):
        value = result.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((key.upper(), f"{value:.4f}"))
    return out


def _skipped(rows: list[tuple[str, str]] | None, result: dict[str, Any] | None
             ) -> dict[str, Any] | None:
    """Skipped files table (capped, so a folder of 10,000 bad files keeps the page small)."""
    n = len(rows) if rows is not None else (result or {}).get("n_skipped") or 0
    if not n:
        return None
    rows = rows or []
    return {"count": n, "rows": rows[:MAX_SKIPPED_ROWS], "more": max(0, len(rows) - MAX_SKIPPED_ROWS)}


def _cluster_sizes(result: dict[str, Any] | None, assign: Assignments | None, k: int) -> list[int]:
    """Images per cluster: from result.json, else counted from assignments.csv."""
    sizes = (result or {}).get("cluster_sizes")
    if isinstance(sizes, list) and sizes and all(isinstance(s, int) for s in sizes):
        return sizes
    if assign is not None and assign.cluster.size:
        return np.bincount(assign.cluster, minlength=k).tolist()
    return []


def _confusion(assign: Assignments | None, k: int) -> dict[str, Any] | None:
    """Confusion heatmap plus the matched agreement (equals ACC when the run computed it)."""
    if assign is None or assign.label is None or not assign.cluster.size:
        return None
    counts, labels, order = plots.hungarian_order(assign.label, assign.cluster, k)
    n = min(counts.shape)
    agreement = float(np.trace(counts[:n, :n])) / max(int(counts.sum()), 1)
    return {"plot": plots.confusion_plot(counts, labels, order), "agreement": f"{agreement:.4f}",
            "n_labels": len(labels), "n_clusters": counts.shape[1]}


def _embedding(embedding: Any) -> list[str] | None:
    """One map coloured by cluster and, with ground truth, one coloured by label."""
    if embedding is None or not len(embedding.xy):
        return None
    maps = [plots.embedding_plot(embedding.xy, embedding.cluster, "coloured by cluster")]
    if embedding.label is not None:
        maps.append(plots.embedding_plot(embedding.xy, embedding.label, "coloured by true label"))
    return maps


def _files(run_dir: Path) -> list[dict[str, str]]:
    """Relative links to the folder's other files, so the page is the run's table of contents."""
    out = []
    for p in sorted(run_dir.iterdir()):
        if p.is_file() and not p.name.startswith(".") and p.name != "report.html":
            out.append({"name": p.name, "href": urllib.parse.quote(p.name),
                        "size": _bytes(p.stat().st_size)})
    return out


def _bytes(n: int) -> str:
    """Human file size."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _augmented(run_dir: Path) -> dict[str, Any] | None:
    """Rows of [original, augmented copies] from augmented.npz, as data URIs."""
    import numpy as np

    from deepclust.report.gallery import image_to_data_uri

    path = run_dir / "augmented.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        rows = [{"name": str(n), "original": image_to_data_uri(o), "views": [image_to_data_uri(v) for v in vs]}
                for n, o, vs in zip(z["names"], z["original"], z["views"])]
        return {"preset": str(z["preset"]), "rows": rows}


def _gradcam(run_dir: Path) -> dict[str, Any] | None:
    """Per cluster, its most confident images beside their Grad-CAM++ overlays, from gradcam.npz."""
    from deepclust.explain.gradcam import overlay
    from deepclust.report.gallery import image_to_data_uri

    path = run_dir / "gradcam.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        clusters: dict[int, list[dict[str, str]]] = {}
        for img, cam, c, name in zip(z["images"], z["maps"], z["clusters"], z["names"]):
            hwc = np.transpose(img, (1, 2, 0))
            clusters.setdefault(int(c), []).append({
                "name": str(name), "image": image_to_data_uri(hwc),
                "overlay": image_to_data_uri(overlay(hwc, cam.astype(np.float32) / 255))})
    return {"clusters": [{"cluster": c, "tiles": t} for c, t in sorted(clusters.items())]}


def _spatial_transformer(run_dir: Path) -> dict[str, Any] | None:
    """ST-DAC's pictures from st.npz: probe images beside the first ST layer's output early in training
    and at the end (paper Fig. 4), and per-group mean and std of input and output (Fig. 5)."""
    from deepclust.report.gallery import image_to_data_uri

    path = run_dir / "st.npz"
    if not path.is_file():
        return None

    def hwc(a: np.ndarray) -> np.ndarray:
        return np.transpose(a, (1, 2, 0))

    def scaled(a: np.ndarray, top: float) -> str:
        return image_to_data_uri(hwc(np.clip(a / max(top, 1e-8) * 255, 0, 255).astype(np.uint8)))

    with np.load(path, allow_pickle=False) as z:
        early = z["early"] if "early" in z.files else None
        rows = [{"original": image_to_data_uri(hwc(o)), "final": image_to_data_uri(hwc(f)),
                 "early": image_to_data_uri(hwc(early[i])) if early is not None and i < len(early) else None}
                for i, (o, f) in enumerate(zip(z["original"], z["final"]))]
        mean, std = z["mean"], z["std"]  # 2×K×C×H×W: [0] input, [1] ST output
        top_std = float(std.max())
        groups = [{"g": g, "mean_in": scaled(mean[0, g], 1.0), "mean_out": scaled(mean[1, g], 1.0),
                   "std_in": scaled(std[0, g], top_std), "std_out": scaled(std[1, g], top_std)}
                  for g in range(mean.shape[1])]
        return {"rows": rows, "early_step": int(z["early_step"]), "groups": groups,
                "group_kind": str(z["group_kind"])}
