"""The benchmark runner on a tiny table: one JSON per cell, resumable, markdown beside the paper."""
import json

import pytest

from deepclust.bench import runner, tables


def test_runner_writes_cells_resumes_and_reports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # run folders go to ./runs/bench
    t = tables.Table(
        name="tiny", source="a test table", protocol="same images",
        rows={"K-means": "kmeans", "DEC": "dec"}, datasets={"Digits": "digits"},
        paper={("K-means", "Digits"): {"acc": 0.5, "nmi": 0.4}},
        overrides={"data": {"limit": 150}, "pretrain": {"epochs": 3}, "cluster": {"max_steps": 10},
                   "method": {"n_init": 2}},
    )
    monkeypatch.setitem(tables.TABLES, "tiny", t)
    logs = []
    written = runner.run("tiny", profile="quick", seeds=[0, 1], results=tmp_path, log=logs.append)
    assert len(written) == 4
    rec = json.loads(written[0].read_text())
    for key in ("table", "row", "dataset", "seed", "profile", "protocol", "acc", "nmi", "ari", "wall_s", "device",
                "torch", "git_commit", "config"):
        assert key in rec
    assert rec["config"]["data"]["limit"] == 150
    for w in written:
        assert (tmp_path / json.loads(w.read_text())["run_dir"] / "result.json").is_file()
    dec = json.loads(written[1].read_text())
    assert dec["row"] == "DEC" and (tmp_path / dec["run_dir"] / "metrics.jsonl").is_file()
    # Resumable: a second run skips every finished cell.
    again = runner.run("tiny", profile="quick", seeds=[0, 1], results=tmp_path, log=logs.append)
    assert again == [] and sum("[skip]" in line for line in logs) == 4
    md = runner.report("tiny", results=tmp_path)
    assert "| K-means |" in md and "[50.00]" in md and "±" in md and "Profile `quick`" in md


def test_quick_profile_shortens_schedules():
    from deepclust.methods import make_config

    full = make_config("gapdcec", overrides=tables.profile_overrides("gapdcec", "usps", "full"))
    quick = make_config("gapdcec", overrides=tables.profile_overrides("gapdcec", "usps", "quick"))
    assert quick.pretrain.epochs < full.pretrain.epochs and quick.cluster.max_steps < full.cluster.max_steps
    assert quick.profile == "quick" and full.profile == "full"
    assert quick.encoder == full.encoder and quick.cluster.losses == full.cluster.losses  # same recipe


def test_rows_carry_their_own_overrides(tmp_path, monkeypatch):
    import pytest

    from deepclust.errors import UserError

    monkeypatch.chdir(tmp_path)
    t = tables.Table(
        name="tiny-rows", source="a test table", protocol="same images",
        rows={"K-means": "kmeans", "K-means x3": {"method": "kmeans", "overrides": {"method": {"n_init": 3}}}},
        datasets={"Digits": "digits"}, paper={}, overrides={"data": {"limit": 60}, "method": {"n_init": 1}},
    )
    assert t.row_method("K-means x3") == "kmeans" and t.row_overrides("K-means") == {}
    # profile < table overrides < row overrides
    assert t.cell_overrides("K-means x3", "digits", "quick")["method"] == {"n_init": 3}
    monkeypatch.setitem(tables.TABLES, "tiny-rows", t)
    written = runner.run("tiny-rows", seeds=[0], results=tmp_path, log=lambda s: None)
    recs = {json.loads(p.read_text())["row"]: json.loads(p.read_text()) for p in written}
    assert recs["K-means"]["config"]["method"]["n_init"] == 1
    assert recs["K-means x3"]["config"]["method"]["n_init"] == 3
    assert recs["K-means x3"]["row_overrides"] == {"method": {"n_init": 3}}
    assert {p.name for p in written} == {"kmeans__digits__s0.json", "kmeansx3__digits__s0.json"}
    # --rows picks a row by label or by its method's name
    assert runner.run("tiny-rows", seeds=[1], rows=["K-means x3"], results=tmp_path, log=lambda s: None)[0].name \
        == "kmeansx3__digits__s1.json"
    bad = tables.Table(name="bad", source="", protocol="", rows={"X": {"overrides": {}}}, datasets={}, paper={})
    with pytest.raises(UserError, match="row 'X' must be a method name"):
        bad.row_method("X")


def test_existing_tables_keep_their_rows_and_cell_settings():
    t = tables.get_table("gapdcec-table1")
    assert [t.row_method(r) for r in t.rows] == ["kmeans", "dec", "idec", "dcn", "dcec", "gapdcec"]
    from deepclust.config import deep_update

    sgd = {"cluster": {"optim": {"name": "sgd", "lr": 0.01}}}  # GAP-DCEC 4.1.2; the dcec recipe uses Adam
    pinned = {"DEC": {"encoder": {"init": "torch"}}, "IDEC": {"encoder": {"init": "torch"}}, "DCEC": sgd,
              "GAP-DCEC": sgd}
    for row in t.rows:
        want = deep_update(tables.profile_overrides(t.row_method(row), "usps", "quick"), pinned.get(row, {}))
        assert t.cell_overrides(row, "usps", "quick") == want


def test_committed_table1_cells_match_what_bench_builds_now():
    """A seed added to a finished table must train what its other seeds trained: every setting of every
    committed cell (but where it ran and its progress bar) equals what `deepclust bench` builds for it today."""
    import json

    from deepclust.config import deep_update, to_dict
    from deepclust.methods.pipeline import make_config

    t = tables.get_table("gapdcec-table1")
    files = sorted((runner.DEFAULT_RESULTS / t.name).glob("*/*.json"))
    assert files, "no committed gapdcec-table1 results"
    for f in files:
        rec = json.loads(f.read_text())
        profile = rec["profile"]
        over = deep_update(t.cell_overrides(rec["row"], rec["dataset_name"], profile), rec.get("variant_sets") or {})
        over = deep_update(over, {"method": {"n_clusters": 10}, "data": {"name": rec["dataset_name"]},
                                  "train": {"seed": rec["seed"]}})
        now = to_dict(make_config(t.row_method(rec["row"]), overrides=over))
        then = rec["config"]
        # settings added since a cell ran have their defaults there; a cell from before encoder.init existed
        # started from PyTorch's init
        then = {**then, "encoder": {"init": "torch", **then["encoder"]}}
        for part in ("encoder", "pretrain", "cluster", "method", "data", "train"):
            # where the run happened and whether it drew a progress bar do not change what it trained
            keys = set(then[part]) - ({"progress", "device"} if part == "train" else set())
            diff = {k: (then[part][k], now[part].get(k)) for k in keys if now[part].get(k) != then[part][k]}
            assert not diff, (f.name, part, diff)
    assert runner.cell_path(runner.DEFAULT_RESULTS, t.name, "quick", "GAP-DCEC", "MNIST-test", 2).name \
        == "gapdcec__mnisttest__s2.json"


def test_shared_pretraining_reuses_one_autoencoder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    over = {"data": {"limit": 120}, "pretrain": {"epochs": 2}, "cluster": {"max_steps": 6, "update_interval": 3},
            "method": {"n_init": 1}}
    t = tables.Table(name="tiny-shared", source="", protocol="", datasets={"Digits": "digits"}, paper={},
                     rows={"DEC": "dec", "AE+k-means": "ae-kmeans", "IDEC": "idec"},
                     overrides=over, share_pretraining=True)
    monkeypatch.setitem(tables.TABLES, "tiny-shared", t)
    logs = []
    written = runner.run("tiny-shared", seeds=[0], results=tmp_path, log=logs.append)
    recs = [json.loads(p.read_text()) for p in written]
    keys = {r["pretrain_shared"]["key"] for r in recs}
    assert len(keys) == 1 and sum("pretraining the shared autoencoder" in s for s in logs) == 1
    assert [r["pretrain_shared"]["reused"] for r in recs] == [True, True, True]
    # The clustering stage starts from the shared autoencoder: its k-means init equals AE+k-means' result.
    first = [json.loads(line) for line in (tmp_path / recs[2]["run_dir"] / "metrics.jsonl").read_text().splitlines()]
    init = next(r for r in first if r.get("event") == "kmeans_init")
    assert abs(init["acc"] - recs[1]["acc"]) < 1e-9
    assert all("pretrain" in r["stage_s"] for r in recs)


def test_report_shows_a_paper_column_for_a_dataset_we_do_not_have(tmp_path, monkeypatch):
    t = tables.Table(name="tiny-idh", source="src", protocol="p", rows={"A": "kmeans"},
                     datasets={"Digits": "digits"}, paper={("A", "IDH"): {"acc": 0.5, "nmi": 0.25, "ari": 0.125}},
                     paper_dataset="IDH")
    monkeypatch.setitem(tables.TABLES, "tiny-idh", t)
    rec = {"row": "A", "dataset": "Digits", "seed": 0, "device": "cpu", "torch": "x", "wall_s": 1.0,
           "acc": 0.6, "nmi": 0.5, "ari": 0.4}
    out = runner.cell_path(tmp_path, "tiny-idh", "quick", "A", "Digits", 0)
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps(rec))
    md = runner.report("tiny-idh", results=tmp_path)
    assert "Paper IDH ACC" in md and "| A | 60.00 | 50.00 | 40.00 | 50.00 | 25.00 | 12.50 |" in md


def test_report_into_replaces_only_its_marked_block(tmp_path):
    from deepclust.bench.runner import write_into
    from deepclust.errors import UserError

    doc = tmp_path / "README.md"
    doc.write_text("intro\n<!-- t1: generated -->\nold table\n<!-- /t1 -->\noutro\n<!-- t2: x -->\nkeep\n<!-- /t2 -->\n")
    write_into(doc, "t1", "| new |\n")
    assert doc.read_text() == ("intro\n<!-- t1: generated -->\n| new |\n<!-- /t1 -->\noutro\n"
                               "<!-- t2: x -->\nkeep\n<!-- /t2 -->\n")
    before = doc.read_text()
    with pytest.raises(UserError, match="<!-- /t3 -->"):
        write_into(doc, "t3", "x")
    assert doc.read_text() == before  # untouched on error


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_table1_and_decda_rows_with_equal_pretraining_share_one_autoencoder(profile):
    from deepclust.config import deep_update
    from deepclust.methods.pipeline import make_config

    def key(table: str, row: str, ds: str = "mnist-test") -> str:
        t = tables.get_table(table)
        over = deep_update(t.cell_overrides(row, ds, profile), {"data": {"name": ds}, "train": {"seed": 0}})
        return runner._pretrain_key(make_config(t.row_method(row), overrides=over), ds)

    assert tables.get_table("gapdcec-table1").share_pretraining and tables.get_table("decda").share_pretraining
    mlp = {key("gapdcec-table1", r) for r in ("DEC", "IDEC", "DCN")}
    assert len(mlp) == 1  # one pretrained MLP autoencoder per (dataset, seed) serves all three rows
    conv = {key("gapdcec-table1", "DCEC"), key("gapdcec-table1", "GAP-DCEC")}
    assert len(conv) == 2 and not conv & mlp  # flatten and GAP encoders are different autoencoders
    assert key("decda", "ConvDEC-DA") == key("decda", "ConvIDEC-DA") != key("gapdcec-table1", "DCEC")
    assert key("decda", "ConvDEC-DA", "usps") != key("decda", "ConvDEC-DA")


def test_a_variant_runs_apart_from_the_table_and_is_reported_with_what_it_changed(tmp_path, monkeypatch):
    import subprocess
    import sys

    from deepclust.errors import UserError

    monkeypatch.chdir(tmp_path)
    t = tables.Table(name="tiny-var", source="src", protocol="p", rows={"K-means": "kmeans", "DEC": "dec"},
                     datasets={"Digits": "digits"}, paper={("K-means", "Digits"): {"acc": 0.5}},
                     overrides={"data": {"limit": 90}, "method": {"n_init": 1}})
    monkeypatch.setitem(tables.TABLES, "tiny-var", t)
    base = runner.run("tiny-var", seeds=[0], rows=["K-means"], results=tmp_path, log=lambda s: None)
    var = runner.run("tiny-var", seeds=[0], rows=["K-means"], results=tmp_path, log=lambda s: None,
                     sets={"method": {"n_init": 3}}, variant="n-init-3")
    assert base[0].parent.name == "quick" and var[0].parent.name == "quick+n-init-3"
    rec = json.loads(var[0].read_text())
    assert rec["config"]["method"]["n_init"] == 3 and rec["variant_sets"] == {"method": {"n_init": 3}}
    assert json.loads(base[0].read_text())["config"]["method"]["n_init"] == 1  # the table's cell is untouched
    md = runner.report("tiny-var", results=tmp_path)
    assert "**Profile `quick`**" in md
    assert "**Variant `n-init-3` of profile `quick`** (the table's cells with method.n_init=3)" in md
    section = md.split("**Variant")[1]
    assert "| K-means |" in section and "| DEC |" not in section  # rows the variant did not run are left out
    for sets, variant, msg in [({"method": {"n_init": 3}}, None, "--variant NAME"),
                               ({"method": {"n_init": 3}}, "Bad Name", "lower-case"),
                               (None, "empty", "changes nothing")]:
        with pytest.raises(UserError, match=msg):
            runner.run("tiny-var", seeds=[0], results=tmp_path, log=lambda s: None, sets=sets, variant=variant)
    # a variant that holds cells keeps their settings: without --set they are reused for a new seed ...
    more = runner.run("tiny-var", seeds=[1], rows=["K-means"], results=tmp_path, log=lambda s: None,
                      variant="n-init-3")
    assert json.loads(more[0].read_text())["config"]["method"]["n_init"] == 3
    assert runner.run("tiny-var", seeds=[1], rows=["K-means"], results=tmp_path, log=lambda s: None,
                      sets={"method": {"n_init": 3.0}}, variant="n-init-3") == []  # same settings: cell skipped
    # ... and other --set values are refused before anything runs, so one variant never mixes settings
    with pytest.raises(UserError, match="already holds cells run with method.n_init=3.*method.n_init=4"):
        runner.run("tiny-var", seeds=[2], rows=["K-means"], results=tmp_path, log=lambda s: None,
                   sets={"method": {"n_init": 4}}, variant="n-init-3")
    assert not (var[0].parent / var[0].name.replace("s0", "s2")).exists()
    odd = json.loads(more[0].read_text()) | {"variant_sets": {"method": {"n_init": 5}}}
    (var[0].parent / "odd.json").write_text(json.dumps(odd))
    with pytest.raises(UserError, match="different settings"):
        runner.run("tiny-var", seeds=[2], results=tmp_path, log=lambda s: None, variant="n-init-3")
    # the CLI refuses --set without --variant in one line, before loading anything
    p = subprocess.run([sys.executable, "-m", "deepclust", "bench", "gapdcec-table1", "--set", "cluster.tol=0"],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "--variant NAME" in p.stderr and "Traceback" not in p.stderr


def test_an_interrupted_cell_and_shared_pretraining_resume_from_their_checkpoints(tmp_path, monkeypatch):
    from deepclust.train.rundir import RunDir

    monkeypatch.chdir(tmp_path)
    over = {"data": {"limit": 120}, "pretrain": {"epochs": 4, "batch_size": 32},
            "cluster": {"max_steps": 8, "update_interval": 4, "batch_size": 32}, "method": {"n_init": 1},
            "train": {"log_every": 1, "checkpoint_every": 2}}
    t = tables.Table(name="tiny-resume", source="", protocol="", datasets={"Digits": "digits"}, paper={},
                     rows={"DEC": "dec"}, overrides=over, share_pretraining=True)
    monkeypatch.setitem(tables.TABLES, "tiny-resume", t)
    save = RunDir.save_checkpoint
    stopped = []

    def stop_once_in(stage):
        def flaky(self, payload):
            save(self, payload)
            if payload["stage"] == stage and payload["step"] > 0 and not stopped:
                stopped.append(payload["step"])
                raise KeyboardInterrupt  # as a user's Ctrl-C right after a checkpoint
        return flaky

    logs = []
    # 1. Killed in the shared pretraining: the rerun continues it from its checkpoint.
    monkeypatch.setattr(RunDir, "save_checkpoint", stop_once_in("pretrain"))
    with pytest.raises(KeyboardInterrupt):
        runner.run("tiny-resume", seeds=[0], results=tmp_path, log=logs.append)
    assert stopped == [2]
    # 2. Killed in the cell's clustering stage: the rerun continues the cell, not the whole cell anew.
    stopped.clear()
    monkeypatch.setattr(RunDir, "save_checkpoint", stop_once_in("cluster"))
    with pytest.raises(KeyboardInterrupt):
        runner.run("tiny-resume", seeds=[0], results=tmp_path, log=logs.append)
    assert any("pretraining the shared autoencoder" in s and "resuming at step 2" in s for s in logs)
    assert stopped == [2]
    monkeypatch.setattr(RunDir, "save_checkpoint", save)
    (written,) = runner.run("tiny-resume", seeds=[0], results=tmp_path, log=logs.append)
    rec = json.loads(written.read_text())
    assert rec["resumed_at"] == {"stage": "cluster", "step": 2}
    assert rec["pretrain_shared"]["reused"] and "pretrain" in rec["stage_s"]
    run_dir = tmp_path / rec["run_dir"]
    steps = [json.loads(line).get("step") for line in (run_dir / "metrics.jsonl").read_text().splitlines()
             if json.loads(line).get("stage") == "cluster" and "loss" in json.loads(line)]
    assert steps == list(range(1, 9))  # 1-2 before the interruption, 3-8 after it: none ran twice
    assert not (run_dir / "checkpoint.pt").exists()  # a finished cell leaves no checkpoint behind


def test_a_checkpoint_resumes_a_cell_only_under_the_config_that_wrote_it(tmp_path):
    from deepclust.methods import make_config
    from deepclust.train.rundir import RunDir

    cfg = make_config("dec", overrides={"train": {"seed": 1}})
    run = RunDir(tmp_path / "cell")
    assert runner._interrupted(run, cfg) is None  # nothing to resume
    run.write_config(cfg)
    run.save_checkpoint({"stage": "cluster", "step": 5, "done": ["pretrain"], "model": {}, "optim": {}, "state": {}})
    assert runner._interrupted(run, cfg) == {"stage": "cluster", "step": 5}
    assert runner._interrupted(run, make_config("dec", overrides={"train": {"seed": 2}})) is None


def test_settings_added_later_keep_checkpoints_and_cached_pretraining(tmp_path):
    """A config.yaml written before a setting existed (the setting absent) still resumes its cell, and the
    cached autoencoder's key does not move while the new setting is at its default."""
    import yaml

    from deepclust.config import to_dict
    from deepclust.methods import make_config
    from deepclust.train.rundir import RunDir

    cfg = make_config("dcec")
    old = to_dict(cfg)
    for section, fields in runner._LATER_DEFAULTS.items():
        for name in fields:
            old[section].pop(name)
    run = RunDir(tmp_path / "cell")
    (run.path / "config.yaml").write_text(yaml.safe_dump(old, sort_keys=False))
    run.save_checkpoint({"stage": "pretrain", "step": 7, "done": [], "model": {}, "optim": {}, "state": {}})
    assert runner._interrupted(run, cfg) == {"stage": "pretrain", "step": 7}
    assert runner._interrupted(run, make_config("dcec", sets=["pretrain.epochs=3"])) is None  # a real change
    key = runner._pretrain_key(cfg, "usps")
    assert runner._pretrain_key(make_config("dcec", sets=["encoder.n_known=3"]), "usps") != key
    # the key is the one computed from the settings that existed before: written out by hand here
    import hashlib
    import json

    parts = {"dataset": "usps", "data": old["data"], "encoder": {k: v for k, v in old["encoder"].items()},
             "pretrain": old["pretrain"], "seed": cfg.train.seed, "device": cfg.train.device,
             "k": cfg.method.n_clusters, "alpha": cfg.method.alpha, "n_init": cfg.method.n_init}
    parts["encoder"].pop("init", None)  # at torch, left out since 2026-12-04
    assert key == hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def test_git_commit_says_dirty_when_the_code_differs_from_head(monkeypatch):
    """A cell run on uncommitted code must not claim a commit that lacks it."""
    import subprocess
    import types

    from deepclust.train import rundir

    def fake(porcelain):
        def run(cmd, **kw):
            out = "0123456789ab\n" if "rev-parse" in cmd else porcelain
            return types.SimpleNamespace(stdout=out, returncode=0)
        return run

    monkeypatch.setattr(subprocess, "run", fake(""))
    assert rundir.git_commit() == "0123456789ab"
    monkeypatch.setattr(subprocess, "run", fake(" M deepclust/nets/conv_ae.py\n"))
    assert rundir.git_commit() == "0123456789ab+dirty"
    monkeypatch.undo()
    import re
    assert re.fullmatch(r"[0-9a-f]{12}(\+dirty)?|unknown", rundir.git_commit())


def test_generated_tables_in_the_docs_match_the_committed_results():
    """Every `<!-- TABLE: generated ... -->` block in README.md and docs/ is what `deepclust bench report
    TABLE` prints from benchmarks/results/ today: a result added or changed without regenerating fails."""
    import re
    from pathlib import Path

    from deepclust.bench.runner import report

    root = Path(__file__).resolve().parents[1]
    docs = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    checked = 0
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        for m in re.finditer(r"^<!-- ([\w-]+): generated by .*-->\n(.*?)^<!-- /\1 -->$", text, re.M | re.S):
            table, block = m.group(1), m.group(2)
            assert block.rstrip("\n") == report(table).rstrip("\n"), (
                f"{doc.name}'s {table} block is stale: run `deepclust bench report {table} --into {doc.relative_to(root)}`")
            checked += 1
    assert checked >= 3  # README's gapdcec-table1, stdac-table2 and decda at least


def _gpu_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu" / "run.py"
    spec = importlib.util.spec_from_file_location("gpu_run", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gpu_call_picks_the_fastest_compile_mode_for_the_steps():
    gpu = _gpu_script()
    speed = {"steps": 300, "runs": [
        {"method": "ae-kmeans", "compile": "none", "ms_per_step": 1.0, "pretrain_s": 0.5},
        {"method": "ae-kmeans", "compile": "default", "ms_per_step": 0.4, "pretrain_s": 40.12},
        {"method": "ae-kmeans", "compile": "reduce-overhead", "error": "RuntimeError('no graphs')"},
        {"method": "dcec", "compile": "default", "ms_per_step": 0.1, "pretrain_s": 0.1}]}
    # compiling costs 40 s once and saves 0.6 ms a step: worth it over 74,600 steps, not over 1,000
    mode, guess = gpu.pick_compile(speed, "ae-kmeans", 74_600)
    assert mode == "default" and guess == {"none": 74.8, "default": 69.8}
    assert gpu.pick_compile(speed, "ae-kmeans", 1_000)[0] == "none"
    assert gpu.pick_compile(None, "dcec", 1_000) == ("none", {})


def test_gpu_call_times_its_goals_even_where_the_table_has_the_cell(tmp_path, monkeypatch):
    """The timing goals' cells already ran on the CPU; the cells stage skips committed cells, so the timing
    stage must run them anyway, into $OUT/timing/, from a fresh folder (no cached autoencoder), and leave
    the working directory as it was."""
    import os
    import time

    gpu = _gpu_script()
    t = tables.Table(name="tiny", source="a test table", protocol="same images", rows={"K-means": "kmeans"},
                     datasets={"Digits": "digits"}, paper={}, overrides={"data": {"limit": 150},
                                                                         "method": {"n_init": 2}})
    monkeypatch.setitem(tables.TABLES, "tiny", t)
    monkeypatch.chdir(tmp_path)
    runner.run("tiny", profile="full", seeds=[0], results=tmp_path / "committed", log=lambda *_: None)
    monkeypatch.setattr(gpu, "TIMED_TABLE", "tiny")
    monkeypatch.setattr(gpu, "TIMED", (("K-means", "Digits", 0),))
    monkeypatch.setattr(gpu, "TIMED_METHOD", {"K-means": "ae-kmeans"})
    out = tmp_path / "out"
    rec = gpu.stage_timing(out, "cpu", False, 470, time.perf_counter())
    assert os.getcwd() == str(tmp_path)
    run = rec["runs"][0]
    assert run["compile"] == "none" and run["end_to_end_s"] > 0 and 0 < run["acc"] <= 1
    assert json.loads((out / "timing.json").read_text()) == rec
    assert (out / "timing" / "tiny" / "full" / "kmeans__digits__s0.json").is_file()
    # past the deadline nothing runs, and the record says so
    late = gpu.stage_timing(tmp_path / "late", "cpu", False, -1, time.perf_counter())
    assert late["runs"][0]["skipped"] == "deadline reached" and not (tmp_path / "late" / "timing").exists()


def test_committed_cells_find_their_cached_autoencoders():
    """A setting added to the config must not move the key of the autoencoders the committed full-profile cells
    were clustered from (hours of pretraining each on a CPU): each cell's key is computed again from today's
    code and compared with the one its JSON records. Cells pretrained before encoder.sobel existed (2026-12-06)
    are left out: that setting was added without a _LATER_DEFAULTS entry, and the caches made since carry it."""
    import json
    from pathlib import Path

    from deepclust.config import deep_update
    from deepclust.methods.pipeline import make_config

    cells = sorted((Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "gapdcec-table1" / "full").glob("*.json"))
    checked = 0
    for p in cells:
        rec = json.loads(p.read_text())
        if not (rec.get("pretrain_shared") or {}).get("key") or "sobel" not in rec.get("config", {}).get("encoder", {}):
            continue
        t = tables.get_table(rec["table"])
        ds = rec["dataset_name"]
        over = deep_update(t.cell_overrides(rec["row"], ds, "full"),
                           {"method": {"n_clusters": 10}, "data": {"name": ds}, "train": {"seed": rec["seed"], "progress": False}})
        assert runner._pretrain_key(make_config(t.row_method(rec["row"]), overrides=over), ds) == rec["pretrain_shared"]["key"], p.name
        checked += 1
    assert checked >= 1  # DCEC MNIST-full seed 2 (autoencoder 9ba032f2ad576abb)
