"""Run a paper table cell by cell (resumable: a finished cell is skipped) and print it beside the paper.

Each (row, dataset, seed, profile) writes one JSON file under benchmarks/results/<table>/<profile>/.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from ..config import deep_update, to_dict
from .tables import get_table, profile_overrides

DEFAULT_RESULTS = Path("benchmarks/results")


def _slug(s: str) -> str:
    return s.lower().replace(" ", "").replace("-", "")


def cell_path(results: Path, table: str, profile: str, row: str, col: str, seed: int) -> Path:
    return results / table / profile / f"{_slug(row)}__{_slug(col)}__s{seed}.json"


def run(table: str, profile: str = "quick", seeds=(0, 1, 2), rows=None, datasets=None, results=None,
        data_root: str | None = None, device: str | None = None, log=print) -> list[Path]:
    from ..data import load_dataset
    from ..methods.pipeline import fit, make_config, write_outputs
    from ..train.rundir import RunDir, git_commit

    import torch

    t = get_table(table)
    results = Path(results) if results else DEFAULT_RESULTS
    written = []
    cache: dict[str, Any] = {}
    # Seeds outermost, so a long run interrupted half-way leaves every cell with some seeds.
    for seed in seeds:
        for col, ds in t.datasets.items():
            if datasets and col not in datasets and ds not in datasets:
                continue
            for row, method in t.rows.items():
                if rows and row not in rows and method not in rows:
                    continue
                out = cell_path(results, table, profile, row, col, seed)
                if out.exists():
                    log(f"[skip] {row} / {col} / seed {seed}: {out} exists")
                    continue
                if ds not in cache:
                    cache.clear()
                    cache[ds] = load_dataset(ds, root=data_root)
                data = cache[ds]
                over = deep_update(profile_overrides(method, ds, profile), t.overrides)
                over = deep_update(over, {"method": {"n_clusters": int(data.labels.max()) + 1},
                                          "data": {"name": ds}, "train": {"seed": seed, "progress": False}})
                if device:
                    over["train"]["device"] = device
                cfg = make_config(method, overrides=over)
                log(f"[run ] {row} / {col} / seed {seed} ({profile})")
                # Each cell also keeps a full run folder (learning curves, report) under runs/bench/.
                run_dir = RunDir(Path(cfg.out_dir) / "bench" / table / profile / out.stem)
                run_dir.write_config(cfg)
                t0 = time.perf_counter()
                res = fit(cfg, data, run=run_dir)
                wall = time.perf_counter() - t0
                write_outputs(run_dir, cfg, data, res)
                rec: dict[str, Any] = {
                    "table": table, "row": row, "dataset": col, "dataset_name": ds, "seed": seed,
                    "profile": profile, "protocol": t.protocol, "method": method, **res.metrics,
                    "paper": t.paper.get((row, col)), "wall_s": round(wall, 2), "stage_s": res.stage_s,
                    "device": res.device, "torch": torch.__version__, "git_commit": git_commit(),
                    "n_images": len(data), "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "run_dir": str(run_dir.path),
                    "config": to_dict(cfg),
                }
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(rec, indent=1))
                log(f"       ACC {rec['acc']:.4f}  NMI {rec['nmi']:.4f}  ARI {rec['ari']:.4f}  {wall:.1f} s")
                written.append(out)
    return written


def _fmt(vals: list[float]) -> str:
    if not vals:
        return "–"
    m = statistics.mean(vals) * 100
    if len(vals) == 1:  # one seed: no spread to report
        return f"{m:.2f}"
    return f"{m:.2f} ± {statistics.stdev(vals) * 100:.2f}"


def report(table: str, results=None) -> str:
    t = get_table(table)
    results = Path(results) if results else DEFAULT_RESULTS
    lines = [f"### {t.source}", "", f"Protocol: {t.protocol}.", ""]
    any_profile = False
    for profile in ("full", "quick"):
        recs = [json.loads(p.read_text()) for p in sorted((results / table / profile).glob("*.json"))]
        if not recs:
            continue
        any_profile = True
        cells: dict[tuple[str, str], list[dict]] = {}
        for r in recs:
            cells.setdefault((r["row"], r["dataset"]), []).append(r)
        devices = sorted({r["device"] for r in recs})
        torches = sorted({r["torch"] for r in recs})
        seeds = sorted({r["seed"] for r in recs})
        counts = sorted({len(v) for v in cells.values()})
        lines += [f"**Profile `{profile}`** — ours ×100: mean ± std over the seeds each cell has (seeds present: "
                  f"{seeds}; seeds per cell: {'–'.join(map(str, counts))}; a single value is one seed); "
                  f"the paper's number in brackets. Device: {', '.join(devices)}; torch {', '.join(torches)}.", ""]
        head = ["Method"] + [f"{c} {m.upper()}" for c in t.datasets for m in t.metrics]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for row in t.rows:
            cols = [row]
            for c in t.datasets:
                rs = cells.get((row, c), [])
                paper = t.paper.get((row, c), {})
                for m in t.metrics:
                    ours = _fmt([r[m] for r in rs])
                    p = f" [{paper[m] * 100:.2f}]" if m in paper else ""
                    cols.append(ours + p if rs else f"–{p}")
            lines.append("| " + " | ".join(cols) + " |")
        lines += ["", "Wall time per run (median, seconds, end to end incl. k-means), as measured while these runs "
                  "shared the machine with other jobs: a record, not a speed benchmark.", ""]
        lines.append("| Method | " + " | ".join(t.datasets) + " |")
        lines.append("|" + "---|" * (len(t.datasets) + 1))
        for row in t.rows:
            ws = [statistics.median([r["wall_s"] for r in cells.get((row, c), [])]) if cells.get((row, c)) else None
                  for c in t.datasets]
            lines.append(f"| {row} | " + " | ".join(f"{w:.0f}" if w is not None else "–" for w in ws) + " |")
        lines.append("")
    if not any_profile:
        lines.append(f"No results under {results / table}: run `deepclust bench {table} --profile quick` first.")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(report(sys.argv[1]))
