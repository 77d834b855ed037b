"""Read the files of a run folder (see docs/run-folder.md) for the report.

The report must never import training code, so these readers work from the files alone. Each
returns None when its file is absent, so that a partial run (crashed, still running, no labels)
still gets a page: the caller skips the section rather than failing.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml


@dataclass(frozen=True)
class Assignments:
    """assignments.csv as arrays: one entry an image, in dataset order."""

    files: list[str]
    cluster: np.ndarray  # int64, n
    confidence: np.ndarray  # float64, n
    label: np.ndarray | None  # int64, n, only when ground truth exists


@dataclass(frozen=True)
class Gallery:
    """gallery.npz: the most confident images of each cluster."""

    images: np.ndarray  # uint8, n×H×W×C
    cluster: np.ndarray  # int, n
    confidence: np.ndarray  # float, n
    names: list[str]


@dataclass(frozen=True)
class Embedding2D:
    """embedding_2d.npz: a 2-D projection of (a sample of) the embedding."""

    xy: np.ndarray  # float, m×2
    cluster: np.ndarray  # int, m
    label: np.ndarray | None  # int, m


def read_result(run_dir: Path) -> dict[str, Any] | None:
    """result.json, written at the end of a run; None for an unfinished run."""
    path = run_dir / "result.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def read_k_estimate(run_dir: Path) -> dict[str, Any] | None:
    """k_estimate.json, written when k was estimated (`--k auto`); None otherwise."""
    path = run_dir / "k_estimate.json"
    if not path.is_file():
        return None
    est = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(est, dict) or type(est.get("k")) is not int:
        raise ValueError("k_estimate.json lacks an integer k")
    probe = est.get("method") == "probe"
    if probe and not all(isinstance(est.get(f), list) and len(est[f]) == len(est.get("candidates", []))
                         for f in ("acc", "cvi")):
        raise ValueError("k_estimate.json (probe) lacks candidates with their acc and cvi")
    if not probe and not isinstance(est.get("gaps"), list):
        raise ValueError("k_estimate.json lacks a list of gaps")
    return est


def read_config(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """config.yaml parsed (for header fields) and as raw text (shown verbatim on the page)."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return None, None
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return (data if isinstance(data, dict) else None), text


def read_metrics(run_dir: Path) -> list[dict[str, Any]] | None:
    """metrics.jsonl; a torn last line (run killed mid-write) is skipped, not fatal."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return None
    rows: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_assignments(run_dir: Path) -> Assignments | None:
    """assignments.csv (header file,cluster,confidence[,label])."""
    path = run_dir / "assignments.csv"
    if not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        fields = reader.fieldnames or []
    files = [r["file"] for r in rows]
    cluster = np.array([int(r["cluster"]) for r in rows], dtype=np.int64)
    confidence = np.array([_float(r.get("confidence")) for r in rows], dtype=np.float64)
    label = None
    if "label" in fields:
        try:
            label = np.array([int(r["label"]) for r in rows], dtype=np.int64)
        except (TypeError, ValueError):
            label = None  # an empty or non-integer label column means no usable ground truth
    return Assignments(files, cluster, confidence, label)


def read_skipped(run_dir: Path) -> list[tuple[str, str]] | None:
    """skipped.csv as (file, reason) pairs; absent and header-only both mean 'none skipped'."""
    path = run_dir / "skipped.csv"
    if not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as fh:
        return [(r.get("file") or "", r.get("reason") or "") for r in csv.DictReader(fh)]


def read_gallery(run_dir: Path) -> Gallery | None:
    """gallery.npz, loaded without pickle (names must be a unicode array, as the contract says)."""
    path = run_dir / "gallery.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        images = np.asarray(z["images"])
        if images.ndim == 3:  # tolerate n×H×W grey images without the channel axis
            images = images[..., None]
        return Gallery(
            images=images,
            cluster=np.asarray(z["cluster"]).astype(np.int64),
            confidence=np.asarray(z["confidence"]).astype(np.float64),
            names=[str(s) for s in z["names"]],
        )


def read_embedding(run_dir: Path) -> Embedding2D | None:
    """embedding_2d.npz, loaded without pickle."""
    path = run_dir / "embedding_2d.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        label = np.asarray(z["label"]).astype(np.int64) if "label" in z.files else None
        return Embedding2D(
            xy=np.asarray(z["xy"], dtype=np.float64),
            cluster=np.asarray(z["cluster"]).astype(np.int64),
            label=label,
        )


def _float(value: str | None) -> float:
    """Parse a CSV number; a blank cell becomes NaN rather than an error."""
    try:
        return float(value) if value not in (None, "") else float("nan")
    except ValueError:
        return float("nan")
