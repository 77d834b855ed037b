"""Run a paper table cell by cell (resumable: a finished cell is skipped, an interrupted one continues from
its checkpoint) and print it beside the paper.

Each (row, dataset, seed, profile) writes one JSON file under benchmarks/results/<table>/<profile>/.
A variant (`--set key=value ... --variant NAME`: the table's cells with some settings changed) writes
under <table>/<profile>+<NAME>/, so it never mixes with the table's own cells; the report shows it as
its own section, with the settings it changed.
"""
from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from ..config import deep_update, from_dict, load_yaml, merge, to_dict
from ..errors import UserError
from .tables import get_table

DEFAULT_RESULTS = Path("benchmarks/results")


def _slug(s: str) -> str:
    return s.lower().replace(" ", "").replace("-", "")


def profile_folder(profile: str, variant: str | None = None) -> str:
    """The folder of a profile's cells under RESULTS/TABLE/: PROFILE, or PROFILE+VARIANT."""
    return profile if not variant else f"{profile}+{variant}"


def cell_path(results: Path, table: str, profile: str, row: str, col: str, seed: int,
              variant: str | None = None) -> Path:
    return results / table / profile_folder(profile, variant) / f"{_slug(row)}__{_slug(col)}__s{seed}.json"


_VARIANT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def _normal(sets: dict | None) -> Any:
    """Settings as a result file holds them (JSON round trip: tuples become lists), for comparing."""
    return json.loads(json.dumps(sets or {}))


def recorded_sets(folder: Path) -> dict | None:
    """The settings the cells in a variant's folder were run with (None when it holds no cell yet).

    Raises when its cells disagree: a variant folder stands for one set of changed settings."""
    seen: dict[str, Path] = {}
    for f in sorted(folder.glob("*.json")):
        try:
            d = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(d, dict) and "variant_sets" in d:
            seen.setdefault(json.dumps(d["variant_sets"], sort_keys=True), f)
    if len(seen) > 1:
        files = ", ".join(p.name for p in seen.values())
        raise UserError(f"the cells in {folder} were run with different settings ({files}): move the odd ones "
                        f"to a variant of their own")
    return json.loads(next(iter(seen))) if seen else None


def check_variant(sets: dict | None, variant: str | None, folder: Path | None = None) -> dict | None:
    """Check --set/--variant and return the settings to run the variant with.

    A variant whose folder already holds cells keeps their settings: without --set they are reused (so
    `--variant NAME --seeds 3` adds a seed to it), and --set values that differ from them are refused,
    so that one variant never mixes cells run with different settings."""
    if sets and not variant:
        raise UserError("bench with --set changes the table's settings: name the variant with --variant NAME "
                        "(its cells go to <table>/<profile>+NAME/, apart from the table's own)")
    if variant is None:
        return sets
    if not _VARIANT.match(variant):
        raise UserError(f"--variant '{variant}': use lower-case letters, digits, '.', '_' or '-' "
                        f"(at most 64, e.g. --variant adam-cluster)")
    recorded = recorded_sets(folder) if folder is not None and folder.is_dir() else None
    if recorded is not None and sets and _normal(sets) != recorded:
        raise UserError(f"--variant {variant} already holds cells run with {_flat_sets(recorded)}; these --set "
                        f"values differ ({_flat_sets(_normal(sets))}): repeat its settings, leave --set out "
                        f"to reuse them, or name a new variant")
    if not sets:
        if recorded is None:
            raise UserError(f"--variant {variant} without --set changes nothing: add --set key=value")
        return recorded
    return sets


def _check_names(flag: str, given, known: set, shown: list) -> None:
    """A --rows/--datasets name that matches nothing would silently run nothing: refuse it."""
    bad = [n for n in (given or ()) if n not in known]
    if bad:
        raise UserError(f"{flag}: no {', '.join(map(repr, bad))} in this table; "
                        f"use one of {', '.join(shown)}")


def run(table: str, profile: str = "quick", seeds=(0, 1, 2), rows=None, datasets=None, results=None,
        data_root: str | None = None, device: str | None = None, log=print, sets: dict | None = None,
        variant: str | None = None) -> list[Path]:
    from ..data import load_dataset
    from ..methods.pipeline import fit, make_config, write_outputs
    from ..train.rundir import RunDir, git_commit

    import torch

    # The code every cell of this process trains with is what was loaded now: HEAD may move while a long cell
    # (hours of shared pretraining) runs.
    launch_commit = git_commit()
    t = get_table(table)
    results = Path(results) if results else DEFAULT_RESULTS
    sets = check_variant(sets, variant, results / table / profile_folder(profile, variant))
    if variant and sets:
        log(f"variant {variant}: {_flat_sets(_normal(sets))}")
    if any(s < 0 for s in seeds):
        raise UserError(f"--seeds {' '.join(map(str, seeds))}: use seeds of 0 or more")
    _check_names("--rows", rows, {n for r in t.rows for n in (r, t.row_method(r))}, list(t.rows))
    _check_names("--datasets", datasets, {n for c, d in t.datasets.items() for n in (c, d)}, list(t.datasets))
    written = []
    cache: dict[str, Any] = {}
    # Seeds outermost, so a long run interrupted half-way leaves every cell with some seeds.
    for seed in seeds:
        for col, ds in t.datasets.items():
            if datasets and col not in datasets and ds not in datasets:
                continue
            for row in t.rows:
                method = t.row_method(row)
                if rows and row not in rows and method not in rows:
                    continue
                out = cell_path(results, table, profile, row, col, seed, variant)
                if out.exists():
                    log(f"[skip] {row} / {col} / seed {seed}: {out} exists")
                    continue
                reframe = (sets or {}).get("data", {}).get("reframe", "none")  # the one data setting a table's sets may change
                if (ds, reframe) not in cache:
                    cache.clear()
                    cache[(ds, reframe)] = load_dataset(ds, root=data_root, reframe=reframe)
                data = cache[(ds, reframe)]
                over = deep_update(t.cell_overrides(row, ds, profile), sets or {})
                over = deep_update(over, {"method": {"n_clusters": int(data.labels.max()) + 1},
                                          "data": {"name": ds}, "train": {"seed": seed, "progress": False}})
                if device:
                    over["train"]["device"] = device
                cfg = make_config(method, overrides=over)
                log(f"[run ] {row} / {col} / seed {seed} ({out.parent.name})")
                # Each cell also keeps a full run folder (learning curves, report) under runs/bench/.
                run_dir = RunDir(Path(cfg.out_dir) / "bench" / table / out.parent.name / out.stem)
                resumed = _interrupted(run_dir, cfg)
                if resumed is None:  # afresh: nothing of an earlier attempt under other settings may leak in
                    run_dir.checkpoint_path.unlink(missing_ok=True)
                    (run_dir.path / "metrics.jsonl").unlink(missing_ok=True)
                run_dir.write_config(cfg)
                shared = None
                if resumed is not None:
                    log(f"       resuming the interrupted cell at {resumed['stage']} step {resumed['step']} "
                        f"({run_dir.checkpoint_path})")
                if t.share_pretraining and cfg.pretrain.losses:
                    shared = _shared_pretraining(cfg, data, ds, run_dir, log, resumed=resumed is not None)
                commit = launch_commit
                t0 = time.perf_counter()
                res = fit(cfg, data, run=run_dir,
                          resume=resumed is not None or (shared is not None and shared["resume"]))
                wall = time.perf_counter() - t0
                if shared is not None:
                    if shared["resume"]:  # the pretraining ran once, for an earlier cell: count it here too
                        wall += shared["pretrain_s"]
                        res.stage_s = {"pretrain": shared["pretrain_s"], **res.stage_s}
                    else:
                        _save_pretrained(shared["path"], res.model, res.stage_s.get("pretrain", 0.0))
                write_outputs(run_dir, cfg, data, res)
                rec: dict[str, Any] = {
                    "table": table, "row": row, "dataset": col, "dataset_name": ds, "seed": seed,
                    "profile": profile, "protocol": t.protocol, "method": method,
                    "row_overrides": t.row_overrides(row), **res.metrics,
                    **({"variant": variant, "variant_sets": sets} if variant else {}),
                    "paper": t.paper.get((row, col)), "wall_s": round(wall, 2), "stage_s": res.stage_s,
                    "device": res.device, "torch": torch.__version__, "git_commit": commit,
                    "n_images": len(data), "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "run_dir": str(run_dir.path),
                    "pretrain_shared": None if shared is None else {
                        "key": shared["key"], "reused": shared["resume"], "pretrain_s": shared["pretrain_s"]},
                    "config": to_dict(cfg),
                }
                end_commit = git_commit()
                if end_commit != commit:  # committed to while it ran: say so, the code it ran is `git_commit`
                    rec["git_commit_at_end"] = end_commit
                if resumed is not None:  # wall_s and stage_s count only the time after the restart
                    rec["resumed_at"] = resumed
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(rec, indent=1))
                # The cell is done: its result and model are written; a checkpoint left behind would make a
                # later rerun of the cell (its JSON deleted) resume a finished model instead of training anew.
                run_dir.checkpoint_path.unlink(missing_ok=True)
                log(f"       ACC {rec['acc']:.4f}  NMI {rec['nmi']:.4f}  ARI {rec['ari']:.4f}  {wall:.1f} s")
                written.append(out)
    return written


def _interrupted(run_dir, cfg) -> dict[str, Any] | None:
    """Where an interrupted cell stopped ({'stage', 'step'}), when its run folder holds a checkpoint written
    under the same config; None otherwise (no checkpoint, or a changed setting: the cell starts afresh)."""
    import torch

    from ..config import dump_yaml

    conf = run_dir.path / "config.yaml"
    if not (run_dir.checkpoint_path.exists() and conf.exists()):
        return None
    # Compared as configs, not as text: a setting added since (written out at its default now, absent from
    # the old file) must not restart an interrupted cell from step 0.
    if conf.read_text() != dump_yaml(cfg):
        try:
            if from_dict(load_yaml(conf)) != cfg:
                return None
        except UserError:
            return None
    ckpt = run_dir.load_checkpoint(torch.device("cpu"))
    return {"stage": ckpt["stage"], "step": int(ckpt["step"])}


# section -> {setting: its default, as to_dict writes it}: the settings added after the first caches
_LATER_DEFAULTS = {
    "encoder": {"init": "torch", "n_known": 0},  # init: 2026-12-04; n_known (DTC): 2026-12-07
    "data": {"known_classes": [], "known": None, "attention": "none",  # DTC, 2026-12-07
             "reframe": "none"},  # the object crop, 2026-12-07
    "pretrain": {"rampup": {},  # DTC, 2026-12-07
                 "min_update_steps": 0},  # 2026-12-07
}


def _pretrain_key(cfg, ds: str) -> str:
    """Everything the pretrained autoencoder depends on."""
    import hashlib

    sections = {"data": to_dict(cfg.data), "encoder": to_dict(cfg.encoder), "pretrain": to_dict(cfg.pretrain)}
    # Settings added after caches existed are left out while at their defaults, so that adding a setting
    # does not orphan every cached autoencoder (a 200-epoch pretraining is hours on a CPU).
    for section, fields in _LATER_DEFAULTS.items():
        for name, default in fields.items():
            if sections[section].get(name) == default:
                del sections[section][name]
    parts = {"dataset": ds, **sections, "seed": cfg.train.seed, "device": cfg.train.device,
             "k": cfg.method.n_clusters, "alpha": cfg.method.alpha, "n_init": cfg.method.n_init}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _save_pretrained(path: Path, model, pretrain_s: float) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"ae": {k: v.detach().cpu() for k, v in model.ae.state_dict().items()},
                "pretrain_s": float(pretrain_s)}, tmp)
    tmp.replace(path)


def _shared_pretraining(cfg, data, ds: str, run_dir, log, resumed: bool = False) -> dict[str, Any] | None:
    """Share one pretrained autoencoder between cells with equal pretraining settings.

    The autoencoder is cached under <out_dir>/bench/_pretrained/<key>.pt. A cell whose clustering stage
    trains nothing (k-means on the embedding) runs in full and fills the cache; any other cell starts
    from the cached autoencoder (pretraining it first, on its own, when it is not cached yet): its run
    folder gets a checkpoint that marks pretraining done, and fit() resumes from it. A cell `resumed` from
    its own checkpoint only looks the cache up (for the record and the pretraining time): None if absent.
    """
    import torch

    from ..methods.pipeline import build_model, fit
    from ..train.rundir import RunDir

    key = _pretrain_key(cfg, ds)
    path = Path(cfg.out_dir) / "bench" / "_pretrained" / f"{key}.pt"
    cluster_trains = any(w for w in cfg.cluster.losses.values())
    if resumed:
        if not path.exists():
            return None
        return {"key": key, "path": path, "resume": True,
                "pretrain_s": torch.load(path, map_location="cpu", weights_only=True)["pretrain_s"]}
    if not path.exists():
        if not cluster_trains:
            return {"key": key, "path": path, "resume": False, "pretrain_s": None}
        pre = merge(cfg, {"cluster": {"losses": {k: None for k in cfg.cluster.losses}, "refreshers": [],
                                      "augment": None, "inputs": "clean", "epochs": 0, "max_steps": None}})
        # Its own run folder, so that the pretraining logs its curve and, interrupted, resumes from its
        # checkpoint (the time before the interruption is not counted in pretrain_s then).
        pre_dir = RunDir(path.with_suffix(""))
        again = _interrupted(pre_dir, pre)
        pre_dir.write_config(pre)
        log(f"       pretraining the shared autoencoder {key} ({pre_dir.path}"
            + (f", resuming at step {again['step']})" if again else ")"))
        res = fit(pre, data, run=pre_dir, resume=again is not None)
        _save_pretrained(path, res.model, res.stage_s.get("pretrain", 0.0))
        pre_dir.checkpoint_path.unlink(missing_ok=True)
    cached = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(cfg, tuple(data.images.shape[1:]), len(data))
    model.ae.load_state_dict(cached["ae"])
    run_dir.save_checkpoint({"stage": "pretrain", "step": 0, "done": ["pretrain"], "model": model.state_dict(),
                             "optim": {}, "state": {}})
    return {"key": key, "path": path, "resume": True, "pretrain_s": cached["pretrain_s"]}


def _flat_sets(sets: dict, prefix: str = "") -> str:
    """{'cluster': {'optim': {'name': 'adam'}}} -> 'cluster.optim.name=adam' (the --set items of a variant)."""
    items = []
    for k, v in sorted(sets.items()):
        if isinstance(v, dict):
            items.append(_flat_sets(v, f"{prefix}{k}."))
        else:
            items.append(f"{prefix}{k}={json.dumps(v) if not isinstance(v, str) else v}")
    return ", ".join(i for i in items if i)


def _fmt(vals: list[float]) -> str:
    if not vals:
        return "–"
    m = statistics.mean(vals) * 100
    if len(vals) == 1:  # one seed: no spread to report
        return f"{m:.2f}"
    return f"{m:.2f} ± {statistics.stdev(vals) * 100:.2f}"


def write_into(path: Path, table: str, text: str) -> None:
    """Replace what lies between the lines `<!-- TABLE: ... -->` and `<!-- /TABLE -->` in `path` with `text`,
    keeping both marker lines; a file without exactly one such pair is an error and is left untouched."""
    doc = path.read_text(encoding="utf-8")
    start = re.compile(rf"^<!-- {re.escape(table)}:.*-->$", re.M)
    end = re.compile(rf"^<!-- /{re.escape(table)} -->$", re.M)
    starts, ends = list(start.finditer(doc)), list(end.finditer(doc))
    if len(starts) != 1 or len(ends) != 1 or ends[0].start() < starts[0].end():
        raise UserError(f"{path} needs one '<!-- {table}: ... -->' line followed by one '<!-- /{table} -->' line "
                        f"(found {len(starts)} and {len(ends)}); add them where the table should go")
    new = doc[:starts[0].end()] + "\n" + text.rstrip("\n") + "\n" + doc[ends[0].start():]
    path.write_text(new, encoding="utf-8")


def report(table: str, results=None) -> str:
    t = get_table(table)
    results = Path(results) if results else DEFAULT_RESULTS
    lines = [f"### {t.source}", "", f"Protocol: {t.protocol}.", ""]
    any_profile = False
    variants = [p.name for base in ("full", "quick") for p in sorted((results / table).glob(f"{base}+*")) if p.is_dir()]
    for profile in ["full", "quick"] + variants:
        # cell files only (a table's folder may also hold e.g. curves.json from `deepclust bench curves`)
        recs = [json.loads(p.read_text()) for p in sorted((results / table / profile).glob("*__s*.json"))]
        recs = [r for r in recs if isinstance(r, dict) and "row" in r]
        if not recs:
            continue
        any_profile = True
        variant = "+" in profile
        cells: dict[tuple[str, str], list[dict]] = {}
        for r in recs:
            cells.setdefault((r["row"], r["dataset"]), []).append(r)
        devices = sorted({r["device"] for r in recs})
        torches = sorted({r["torch"] for r in recs})
        seeds = sorted({r["seed"] for r in recs})
        counts = sorted({len(v) for v in cells.values()})
        where = (f"the paper's numbers (on {t.paper_dataset}) in the last columns" if t.paper_dataset
                 else "the paper's number in brackets")
        if variant:
            base, name = profile.split("+", 1)
            changed = sorted({_flat_sets(r.get("variant_sets") or {}) for r in recs})
            title = (f"**Variant `{name}` of profile `{base}`** (the table's cells with "
                     f"{'; '.join(c or 'nothing' for c in changed)})")
        else:
            title = f"**Profile `{profile}`**"
        lines += [f"{title} — ours ×100: mean ± std over the seeds each cell has (seeds present: "
                  f"{seeds}; seeds per cell: {counts[0] if len(counts) == 1 else f'{counts[0]}–{counts[-1]}'}; a single value is one seed); "
                  f"{where}. Device: {', '.join(devices)}; torch {', '.join(torches)}.", ""]
        head = ["Method"] + [f"{c} {m.upper()}" for c in t.datasets for m in t.metrics]
        if t.paper_dataset:
            head += [f"Paper {t.paper_dataset} {m.upper()}" for m in t.metrics]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        shown = [row for row in t.rows if not variant or any(k[0] == row for k in cells)]
        for row in shown:
            cols = [row]
            for c in t.datasets:
                rs = cells.get((row, c), [])
                paper = {} if t.paper_dataset else t.paper.get((row, c), {})
                for m in t.metrics:
                    ours = _fmt([r[m] for r in rs])
                    p = f" [{paper[m] * 100:.2f}]" if m in paper else ""
                    cols.append(ours + p if rs else f"–{p}")
            if t.paper_dataset:
                paper = t.paper.get((row, t.paper_dataset), {})
                cols += [f"{paper[m] * 100:.2f}" if m in paper else "–" for m in t.metrics]
            lines.append("| " + " | ".join(cols) + " |")
        lines += ["", "Wall time per run (median, seconds, end to end incl. k-means), as measured while these runs "
                  "shared the machine with other jobs: a record, not a speed benchmark.", ""]
        lines.append("| Method | " + " | ".join(t.datasets) + " |")
        lines.append("|" + "---|" * (len(t.datasets) + 1))
        for row in shown:
            ws = [statistics.median([r["wall_s"] for r in cells.get((row, c), [])]) if cells.get((row, c)) else None
                  for c in t.datasets]
            lines.append(f"| {row} | " + " | ".join(f"{w:.0f}" if w is not None else "–" for w in ws) + " |")
        lines.append("")
    if not any_profile:
        lines.append(f"No results under {results / table}: run `deepclust bench {table} --profile quick` first.")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(report(sys.argv[1]))
