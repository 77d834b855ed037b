"""The benchmark runner on a tiny table: one JSON per cell, resumable, markdown beside the paper."""
import json

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
