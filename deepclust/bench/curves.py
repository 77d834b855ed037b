"""Learning curves of a table's cells (ST-DAC Fig. 6: ACC over training for each row), gathered from
the cells' run folders into one JSON beside the cell files (so they are kept with the results) and
drawn as one panel per data set, one line per row (mean over seeds)."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..errors import UserError
from .runner import DEFAULT_RESULTS
from .tables import get_table


def collect(table: str, profile: str = "quick", results=None) -> dict[str, Any]:
    """{dataset: {row: {seed: [[epoch, acc], ...]}}, "device": ..., "torch": ..., "st_end": ...} from each cell's
    metrics.jsonl (events that scored the clusters), ending with the cell's final ACC on every image.
    "st_end" keeps, per dataset/row/seed of a run with spatial transformers, its last `st_monitor` record
    and how many collapse warnings it logged, so the stability claims stay with the results."""
    folder = Path(results or DEFAULT_RESULTS) / table / profile
    cells = sorted(folder.glob("*__s*.json"))
    if not cells:
        base, _, variant = profile.partition("+")
        raise UserError(f"no results in {folder}: run 'deepclust bench {table} --profile {base}"
                        + (f" --variant {variant}" if variant else "") + "' first")
    out: dict[str, Any] = defaultdict(lambda: defaultdict(dict))
    st_end: dict[str, Any] = defaultdict(lambda: defaultdict(dict))
    # A cell whose run folder is not on this machine (run elsewhere, or runs/ cleaned) keeps the curve the
    # committed curves.json has for it, so regenerating the figure never drops seeds.
    kept = folder / "curves.json"
    prior = json.loads(kept.read_text()) if kept.is_file() else {}
    devices, torches = set(), set()
    for cell in cells:
        rec = json.loads(cell.read_text())
        if "row" not in rec:
            continue
        devices.add(str(rec.get("device", "unknown")))
        torches.add(str(rec.get("torch", "unknown")))
        metrics = Path(rec.get("run_dir", "")) / "metrics.jsonl"
        points = []
        if metrics.is_file():
            last_epoch = 0.0
            last_st, warnings = None, 0
            for line in metrics.read_text().splitlines():
                r = json.loads(line)
                last_epoch = max(last_epoch, float(r.get("epoch", 0.0)))
                if "acc" in r and r.get("event") not in (None, "kmeans_init"):
                    points.append([float(r["epoch"]), float(r["acc"])])
                if r.get("event") == "st_monitor":
                    last_st = r
                warnings += "warning" in r
            points.append([last_epoch, float(rec["acc"])])
            if last_st is not None:
                st_end[rec["dataset"]][rec["row"]][str(rec["seed"])] = {
                    **{k: v for k, v in last_st.items() if k not in ("stage", "event")}, "warnings": warnings}
        else:
            ds, row, seed = rec["dataset"], rec["row"], str(rec["seed"])
            points = (prior.get(ds) or {}).get(row, {}).get(seed) or []
            old_st = ((prior.get("st_end") or {}).get(ds) or {}).get(row, {}).get(seed)
            if old_st is not None:
                st_end[ds][row][seed] = old_st
        out[rec["dataset"]][rec["row"]][str(rec["seed"])] = points
    # where the curves were measured, as every result file says (taken from the cells)
    out["device"] = ", ".join(sorted(devices))
    out["torch"] = ", ".join(sorted(torches))
    out["st_end"] = st_end
    return json.loads(json.dumps(out))


def write(table: str, profile: str = "quick", results=None) -> list[Path]:
    """curves.json and curves.png in the table's results folder; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    t = get_table(table)
    data = collect(table, profile, results)
    folder = Path(results or DEFAULT_RESULTS) / table / profile
    (folder / "curves.json").write_text(json.dumps(data, indent=1))
    cols = [c for c in t.datasets if c in data]
    fig, axes = plt.subplots(1, len(cols), figsize=(5.5 * len(cols), 3.8), squeeze=False)
    for ax, col in zip(axes[0], cols):
        for row in t.rows:
            seeds = data[col].get(row)
            if not seeds:
                continue
            runs = [np.asarray(p) for p in seeds.values() if p]
            n = min(len(r) for r in runs)
            x = runs[0][:n, 0]
            y = np.mean([r[:n, 1] for r in runs], axis=0)
            ax.plot(x, y, marker="o", ms=3, label=f"{row} ({len(runs)} seed{'s' if len(runs) > 1 else ''})")
        ax.set_title(f"{col} ({profile} profile)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("ACC")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "curves.png", dpi=110)
    plt.close(fig)
    return [folder / "curves.json", folder / "curves.png"]
