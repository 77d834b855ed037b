"""Paper tables: one config per (row, dataset), the paper's numbers beside them, and two profiles.

`full` is the paper's schedule; `quick` is the same recipe with a shorter schedule that runs on a
2-core CPU in minutes. Both are real runs; the report never mixes them in one table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError

PROTOCOL_SAME = ("train and evaluate on the same images, as the paper (MNIST-full: all 70,000; "
                 "MNIST-test: the 10,000 test images; USPS: all 9,298 of usps.h5)")


@dataclass(frozen=True)
class Table:
    name: str
    source: str
    protocol: str
    rows: dict[str, str]  # row label -> method name
    datasets: dict[str, str]  # column label -> dataset name
    paper: dict[tuple[str, str], dict[str, float]]  # (row, column) -> metric -> value in [0, 1]
    metrics: tuple[str, ...] = ("acc", "nmi", "ari")
    overrides: dict[str, Any] = field(default_factory=dict)  # extra settings for every cell


def _pairs(rows: list[str], cols: list[str], values: list[list[float]], metrics: tuple[str, ...]):
    out = {}
    for r, vals in zip(rows, values):
        for j, c in enumerate(cols):
            out[(r, c)] = {m: vals[j * len(metrics) + i] / 100 for i, m in enumerate(metrics)}
    return out


_T1_ROWS = ["K-means", "DEC", "IDEC", "DCN", "DCEC", "GAP-DCEC"]
_T1_COLS = ["MNIST-full", "MNIST-test", "USPS"]
TABLES: dict[str, Table] = {
    "gapdcec-table1": Table(
        name="gapdcec-table1",
        source="Kolla & VenuGopal, GAP-DCEC, Table 1 (papers/001_4f6475a92c2b189e.txt)",
        protocol=PROTOCOL_SAME,
        rows=dict(zip(_T1_ROWS, ["kmeans", "dec", "idec", "dcn", "dcec", "gapdcec"])),
        datasets=dict(zip(_T1_COLS, ["mnist", "mnist-test", "usps"])),
        paper=_pairs(_T1_ROWS, _T1_COLS, [
            [54.24, 48.52, 54.63, 50.18, 66.82, 62.66],
            [84.08, 81.28, 69.94, 67.69, 69.28, 70.18],
            [84.21, 83.81, 71.45, 69.40, 72.10, 73.23],
            [83.24, 81.34, 69.86, 67.34, 69.14, 70.12],
            [88.97, 88.49, 85.29, 83.61, 79.00, 82.57],
            [89.54, 89.12, 87.17, 85.03, 80.36, 83.56],
        ], ("acc", "nmi")),
        metrics=("acc", "nmi", "ari"),
    ),
}

# Schedules. Steps per epoch at batch 256: MNIST-full 273, MNIST-test 39, USPS 36.
_QUICK_SMALL = {"mlp": {"pretrain": {"epochs": 30}, "cluster": {"max_steps": 2000}},
                "conv_ae": {"pretrain": {"epochs": 30}, "cluster": {"max_steps": 2000}}}
_QUICK_LARGE = {"mlp": {"pretrain": {"epochs": 6}, "cluster": {"max_steps": 2000}},
                "conv_ae": {"pretrain": {"epochs": 6}, "cluster": {"max_steps": 2000}}}
_LARGE = {"mlp": {"pretrain": {"epochs": 10}, "cluster": {"max_steps": 3000}},
                "conv_ae": {"pretrain": {"epochs": 5}, "cluster": {"max_steps": 1500}}}
_LARGE = {"mnist", "fashion-mnist"}


def profile_overrides(method: str, dataset: str, profile: str) -> dict[str, Any]:
    """Settings a profile adds to a method's defaults on one dataset."""
    from ..methods.recipes import recipe

    if profile == "full":
        return {"profile": "full"}
    if profile != "quick":
        raise UserError(f"unknown profile '{profile}': use quick or full")
    enc = recipe(method).defaults.get("encoder", {}).get("name", "mlp")
    if enc == "identity":
        return {"profile": "quick"}
    sched = (_QUICK_LARGE if dataset in _LARGE else _QUICK_SMALL)[enc]
    out: dict[str, Any] = {"profile": "quick", "pretrain": dict(sched["pretrain"])}
    if method == "dcn":
        # DCN counts epochs, not steps: the same number of steps as the others.
        out["cluster"] = {"epochs": None, "max_steps": sched["cluster"]["max_steps"]}
    elif method not in ("ae-kmeans",):
        out["cluster"] = dict(sched["cluster"])
    return out


def get_table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise UserError(f"unknown table '{name}': use one of {', '.join(sorted(TABLES))}") from None
