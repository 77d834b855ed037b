"""The command line, run as a user runs it (subprocess)."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--set", "pretrain.epochs=3", "--set", "cluster.max_steps=10", "--set", "cluster.update_interval=5",
        "--set", "method.n_init=2", "--quiet"]


def cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "deepclust.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def cli_here(*args, cwd=None):
    """The same entry point in this process, for calls that must fail before any training: it checks what
    cli() checks (exit status, one error line, no traceback) without ~4 s of imports per call."""
    import contextlib
    import io

    from deepclust.cli import main

    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        os.chdir(cwd or here)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:  # argparse's own errors
                code = e.code
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """Real digits written as small colour photos in nested folders, plus broken files."""
    from sklearn.datasets import load_digits

    d = load_digits()
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(60):
        img = (d.images[i] / 16 * 255).astype(np.uint8)
        rgb = np.stack([img, img // 2, 255 - img], -1)
        sub = root / f"batch{i % 3}"
        sub.mkdir(exist_ok=True)
        ext = ["png", "jpg", "bmp"][i % 3]
        Image.fromarray(rgb).resize((24, 24)).save(sub / f"img{i:03d}.{ext}")
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.png").write_text("not an image")
    (root / "<b>bold&.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    del rng
    return root


def test_list_shows_registries():
    r = cli("list")
    assert r.returncode == 0
    for word in ("gapdcec", "conv_ae", "kl_target", "kmeans_init", "mnist-test", "gapdcec-table1"):
        assert word in r.stdout


def test_cluster_folder_then_predict(photo_folder, tmp_path):
    r = cli("cluster", photo_folder, "--k", 3, "--image-size", 16, "--out", tmp_path / "runs", *FAST)
    assert r.returncode == 0, r.stderr
    assert "skipped 3 unreadable file(s)" in r.stderr
    run = Path(next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder")))
    for f in ("config.yaml", "result.json", "assignments.csv", "model.safetensors", "report.html", "gallery.npz",
              "skipped.csv", "metrics.jsonl"):
        assert (run / f).is_file(), f
    # it prints where the model is, and the model is as readable as the run's other files
    assert f"model:       {run / 'model.safetensors'}" in r.stdout
    assert (run / "model.safetensors").stat().st_mode & 0o777 == (run / "assignments.csv").stat().st_mode & 0o777
    rows = list(csv.DictReader(open(run / "assignments.csv")))
    assert len(rows) == 60 and set(rows[0]) == {"file", "cluster", "confidence"}
    assert {int(r["cluster"]) for r in rows} <= {0, 1, 2}
    html = (run / "report.html").read_text()
    assert "&lt;b&gt;bold&amp;.png" in html and "<b>bold" not in html
    result = json.loads((run / "result.json").read_text())
    assert result["n_skipped"] == 3 and result["image_shape"] == [3, 16, 16]

    r = cli("predict", run, photo_folder / "batch0")
    assert r.returncode == 0, r.stderr
    out = run / "predictions-batch0.csv"
    preds = list(csv.DictReader(open(out)))
    assert len(preds) == 20 and set(preds[0]) == {"file", "cluster", "confidence", "distance", "novelty", "fits"}
    # The same images the model was trained on get the same clusters back.
    train = {r["file"]: r["cluster"] for r in rows}
    same = sum(train[f"batch0/{p['file']}"] == p["cluster"] for p in preds)
    assert same == 20
    assert sum(p["fits"] == "yes" for p in preds) >= 18  # training images fit their clusters

    assert result["method"] == "deepcluster"  # the folder default
    assert result["novelty"]["features"] == "layer-statistics" and result["novelty"]["n_reference"] == 60

    # The novelty check: noise and flat images fit no cluster, for the default (DeepCluster) and for DCEC.
    noise = tmp_path / "noise"
    noise.mkdir()
    g = np.random.default_rng(1)
    for i in range(5):
        Image.fromarray(g.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(noise / f"n{i}.png")
        Image.fromarray(np.full((24, 24, 3), 40 * i, dtype=np.uint8)).save(noise / f"flat{i}.png")
    dcec = cli("cluster", photo_folder, "--k", 3, "--image-size", 16, "--method", "dcec", "--out", tmp_path / "dcec",
               "--no-report", *FAST)
    assert dcec.returncode == 0, dcec.stderr
    dcec_run = Path(next(line.split(": ", 1)[1] for line in dcec.stdout.splitlines() if line.startswith("run folder")))
    for trained in (run, dcec_run):
        r = cli("predict", trained, noise, "--output", tmp_path / "noise.csv")
        assert r.returncode == 0, r.stderr
        assert "10 images assigned; 10 fit no cluster" in r.stdout, (trained, r.stdout)
        assert all(p["fits"] == "no" for p in csv.DictReader(open(tmp_path / "noise.csv")))
    # A run written before the novelty reference was stored is still predicted, with the older check
    # (the distance to the centre against result.json's outlier_distance).
    from safetensors.torch import load_file, save_file

    tensors = {k: v for k, v in load_file(str(dcec_run / "model.safetensors")).items() if not k.startswith("novelty.")}
    save_file(tensors, str(dcec_run / "model.safetensors"))
    old = json.loads((dcec_run / "result.json").read_text())
    old.pop("novelty")
    (dcec_run / "result.json").write_text(json.dumps({**old, "outlier_distance": 0.0}))
    r = cli("predict", dcec_run, noise, "--output", tmp_path / "old.csv")
    assert r.returncode == 0, r.stderr
    assert "farther from their centre than 99% of the training images" in r.stdout
    assert all(p["fits"] == "no" and p["novelty"] == p["distance"] for p in csv.DictReader(open(tmp_path / "old.csv")))


def test_deepcluster_on_a_folder_then_predict(photo_folder, tmp_path):
    """DeepCluster through the command a curator runs: colour photos in, report out, and predict gives the
    training images their clusters back (the model carries its whitening)."""
    r = cli("cluster", photo_folder, "--k", 3, "--image-size", 16, "--method", "deepcluster", "--out", tmp_path,
            "--set", "cluster.epochs=3", "--set", "cluster.batch_size=20", "--set", "encoder.filters=[8,16]",
            "--set", "encoder.hidden=[32,32]", "--set", "encoder.embed_dim=8", "--quiet")
    assert r.returncode == 0, r.stderr
    run = Path(next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder")))
    assert (run / "report.html").is_file()
    import yaml

    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["cluster"]["augment"] == "crop-flip" and saved["encoder"]["sobel"] is False  # photos: crops, flips, grey levels
    rows = {row["file"]: row["cluster"] for row in csv.DictReader(open(run / "assignments.csv"))}
    assert len(rows) == 60 and set(rows.values()) <= {"0", "1", "2"}
    r = cli("predict", run, photo_folder / "batch1", "--output", tmp_path / "p.csv")
    assert r.returncode == 0, r.stderr
    preds = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert len(preds) == 20 and all(rows[f"batch1/{p['file']}"] == p["cluster"] for p in preds)


def test_transfer_clustering_with_a_known_folder_then_predict(tmp_path):
    """A curator who sorted some photos: `cluster NEW --known SORTED --k auto` runs DTC (the default with
    --known) with k estimated from probe classes, skips and lists the known folder's bad files, shows the
    estimate and Grad-CAM maps in the report, and predict works."""
    from sklearn.datasets import load_digits

    d = load_digits()
    known, new = tmp_path / "sorted", tmp_path / "new"
    for i in range(240):
        img = Image.fromarray((d.images[i] / 16 * 255).astype(np.uint8)).resize((16, 16))
        if d.target[i] < 5:
            (known / f"digit{d.target[i]}").mkdir(parents=True, exist_ok=True)
            img.save(known / f"digit{d.target[i]}" / f"{i}.png")
        else:
            new.mkdir(exist_ok=True)
            img.save(new / f"{i}_{d.target[i]}.png")
    (known / "digit0" / "broken.png").write_bytes(b"not a png")
    (known / "loose.png").write_bytes((known / "digit1").iterdir().__next__().read_bytes())
    r = cli("cluster", new, "--known", known, "--k", "auto", "--image-size", 16, "--out", tmp_path / "runs", "--quiet",
            "--set", "encoder.filters=[8,16]", "--set", "encoder.hidden=[32]", "--set", "pretrain.epochs=3",
            "--set", "cluster.epochs=3", "--set", "cluster.batch_size=40", "--set", "method.n_init=2")
    assert r.returncode == 0, r.stderr
    assert "known classes:" in r.stdout and "of 5 classes" in r.stdout
    assert "digit0/broken.png" in r.stderr and "loose.png: not in a class subfolder" in r.stderr
    run = Path(next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder")))
    import yaml

    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["method"]["name"] == "dtc" and cfg["encoder"]["n_known"] == 5
    est = json.loads((run / "k_estimate.json").read_text())
    assert est["method"] == "probe" and cfg["method"]["n_clusters"] == est["k"] and "are probes" in r.stdout
    assert {*est["validation_classes"], *est["trained_classes"]} <= {f"digit{i}" for i in range(5)}
    html = (run / "report.html").read_text()
    assert "Grad-CAM" in html and (run / "gradcam.npz").is_file()
    assert "known classes as probes" in html and est["validation_classes"][0] in html
    assert Path(cfg["data"]["known"]).is_absolute()  # --resume works from any directory
    listed = (run / "skipped.csv").read_text()  # the known folder's bad files are listed with the run, marked
    assert "loose.png,in the known-class folder: not in a class subfolder" in listed and "digit0/broken.png" in listed
    rows = {row["file"]: row["cluster"] for row in csv.DictReader(open(run / "assignments.csv"))}
    assert len(rows) == len(list(new.iterdir()))
    # a method named in --config wins over --known's default (dtc), and must be one that learns from them
    (tmp_path / "dec.yaml").write_text("method: {name: dec}\n")
    r = cli_here("cluster", new, "--known", known, "--config", tmp_path / "dec.yaml", "--k", 5)
    assert r.returncode != 0 and "does not learn from them" in r.stderr
    r = cli("predict", run, new, "--output", tmp_path / "p.csv")
    assert r.returncode == 0, r.stderr
    preds = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert all(rows[p["file"]] == p["cluster"] for p in preds)


def test_fit_builtin_and_resume(tmp_path):
    r = cli("fit", "--method", "idec", "--data", "digits", "--set", "data.limit=150", "--out", tmp_path, *FAST)
    assert r.returncode == 0, r.stderr
    assert "ACC" in r.stdout
    run = Path(next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder")))
    r2 = cli("fit", "--resume", run, "--no-report", "--quiet")
    assert r2.returncode == 0, r2.stderr
    assert "resuming" in r2.stdout
    clash = cli_here("fit", "--resume", run, "--data", "mnist-test")  # not silently ignored
    assert clash.returncode == 2 and "trains on digits" in clash.stderr and "resume without --data" in clash.stderr


def test_fit_on_a_labelled_set_takes_its_number_of_classes_unless_k_is_given(tmp_path):
    data = ROOT.parent / "shared" / "datasets"
    if not (data / "COIL20").is_dir():
        pytest.skip(f"offline datasets not found at {data}")
    common = ["fit", "--method", "kmeans", "--data", "coil20", "--data-root", data, "--set", "data.image_size=8",
              "--set", "method.n_init=1", "--no-report", "--quiet", "--out", tmp_path]
    r = cli(*common)
    assert r.returncode == 0, r.stderr
    assert "k=20: the number of classes in coil20" in r.stdout  # not the default 10 on a 20-class set
    for given in (["--k", "5"], ["--set", "method.n_clusters=5"]):
        r = cli(*common, *given)
        assert r.returncode == 0 and "number of classes" not in r.stdout and "k=5" in r.stdout, r.stdout


def test_fit_on_a_folder_resumes_from_any_directory(photo_folder, tmp_path):
    """`fit --data FOLDER` stores the folder absolute, as `cluster` does, so --resume works from elsewhere; a
    --data beside --resume must be the run's folder (or where it moved), never silently ignored."""
    import shutil

    shutil.copytree(photo_folder / "batch0", tmp_path / "edge")
    r = cli("fit", "--data", "edge", "--k", 2, "--set", "data.image_size=16", "--out", tmp_path / "runs", *FAST,
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    run = next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder"))
    assert f"name: {tmp_path / 'edge'}" in (Path(run) / "config.yaml").read_text()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = cli("fit", "--resume", run, "--no-report", "--quiet", cwd=elsewhere)
    assert again.returncode == 0 and "resuming" in again.stdout, again.stderr
    clash = cli_here("fit", "--resume", run, "--data", "mnist-test", cwd=elsewhere)
    assert clash.returncode == 2 and "resume without --data" in clash.stderr
    (tmp_path / "edge").rename(tmp_path / "moved")
    gone = cli_here("fit", "--resume", run, cwd=elsewhere)
    assert gone.returncode == 2 and "no longer exists" in gone.stderr and "fit --data NEW_PATH --resume" in gone.stderr


# One case per command runs as a user runs it (a subprocess: exit status, stderr, no traceback); the rest go
# through the same entry point in this process, which checks the same things without paying ~4 s of
# imports per case.
BAD_INPUT = [
    (["cluster", "{empty}"], "no image files"),
    (["cluster", "{missing}"], "does not exist"),
    (["cluster", "{photos}", "--k", "500"], "--k 60 or fewer"),
    (["cluster", "{photos}", "--k", "1"], "at least 2"),
    (["cluster", "{photos}", "--k", "ten"], "--k ten: give a number of clusters"),
    (["fit", "--method", "nope", "--data", "digits"], "unknown method 'nope'"),
    (["fit", "--data", "imagenet"], "unknown dataset 'imagenet'"),
    (["fit", "--data", "digits", "--set", "encoder.poool=gap"], "unknown config key 'encoder.poool'"),
    (["fit", "--data", "mnist", "--data-root", "{missing}"], "--data-root"),
    (["predict", "{empty}", "{photos}"], "not a finished run folder"),
    (["bench", "report", "nope"], "unknown table"),
    (["cluster"], "give the folder"),
    (["cluster", "{photos}", "--resume", "{missing}"], "has no config.yaml"),
    (["predict", "{empty}", "{missing}"], "does not exist"),
    (["report", "{empty}"], "is not a run folder"),
    (["cluster", "{photos}", "--method", "dcec", "--set", "pretrain.optim.lr=-1"], "pretrain.optim"),
    (["cluster", "{photos}", "--set", "cluster.optim.name=bogus"], "unknown optimiser 'bogus'"),
    (["cluster", "{photos}", "--set", "encoder.embed_dim=0"], "embed_dim"),
    (["cluster", "{photos}", "--seed", "-1"], "seed -1"),
    (["cluster", "{photos}", "--set", "pretrain.epochs=-1"], "pretrain.epochs must be 0 or more"),
    (["cluster", "{photos}", "--image-size", "0"], "--image-size 0"),
    (["cluster", "{photos}", "--image-size", "3"], "too small"),
    (["fit", "--data", "digits", "--config", "{png}"], "not a text file"),
    (["fit", "--data", "digits", "--set", "method=dec"], "'method' must be a mapping"),
    (["fit", "--data", "digits", "--set", "method.name=[1]"], "method.name must be"),
    (["cluster", "{photos}", "--set", "encoder.dropout=1.5"], "encoder.dropout"),
    (["cluster", "{photos}", "--set", "method.alpha=0"], "method.alpha"),
    (["cluster", "{photos}", "--set", "encoder.filters=[32,0,128]"], "encoder.filters widths"),
    (["cluster", "{photos}", "--set", "cluster.update_interval=-5"], "cluster.update_interval"),
    (["cluster", "{photos}", "--set", "cluster.tol=.nan"], "cluster.tol"),
    (["cluster", "{photos}", "--set", "pretrain.epochs=.inf"], "finite"),
    (["cluster", "{photos}", "--set", "method.n_init=0"], "method.n_init"),
    (["cluster", "{photos}", "--set", "train.checkpoint_every=0"], "train.checkpoint_every"),
    (["predict", "{missing}", "{photos}"], "(config.yaml missing)"),
    (["cluster", "{photos}", "--set", "cluster.losses.kl_target=-1"], "cluster.losses.kl_target must be a weight"),
    (["cluster", "{photos}", "--set", "pretrain.losses.recon=.nan"], "pretrain.losses.recon must be a weight"),
    (["cluster", "{photos}", "--set", "cluster.optim.name=sgd", "--set", "cluster.optim.momentum=2"],
     "cluster.optim.momentum must be in [0, 1)"),
    (["cluster", "{photos}", "--set", "cluster.optim.lr=.inf"], "cluster.optim.lr must be a finite"),
    (["cluster", "{photos}", "--set", "cluster.optim.weight_decay=.inf"], "cluster.optim.weight_decay"),
    (["bench", "gapdcec-table1", "--datasets", "mnist-full"], "use one of MNIST-full"),
    (["bench", "gapdcec-table1", "--rows", "DEK"], "--rows: no 'DEK'"),
    (["bench", "gapdcec-table1", "--seeds", "0", "-1"], "use seeds of 0 or more"),
    (["bench", "report", "gapdcec-table1", "--variant", "keras-init"], "does not take --variant"),
    (["bench", "curves", "stdac-table2", "--variant", "nope"], "--profile quick --variant nope' first"),
]
AS_SUBPROCESS = {"no image files", "unknown method 'nope'", "not a finished run folder", "unknown table"}


@pytest.mark.parametrize("args, message", [pytest.param(a, m, id=m) for a, m in BAD_INPUT])
def test_bad_input_one_line_error(args, message, photo_folder, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    subs = {"{empty}": empty, "{missing}": tmp_path / "missing", "{photos}": photo_folder,
            "{png}": photo_folder / "batch0" / "img000.png"}
    out = ["--out", tmp_path / "runs"] if args[0] in ("cluster", "fit") else []
    argv = [str(subs.get(a, a)) for a in args] + [str(o) for o in out]
    r = (cli if message in AS_SUBPROCESS else cli_here)(*argv, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    err = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and message in err[0], r.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "missing").exists()  # nothing created
    assert not (empty / "report.html").exists()


def test_cluster_resumes_from_any_directory_and_reads_a_folder_named_like_a_dataset(photo_folder, tmp_path):
    import shutil

    digits = tmp_path / "digits"  # a built-in dataset's name: the folder must still be what is clustered
    shutil.copytree(photo_folder / "batch0", digits)
    r = cli("cluster", "digits", "--k", 2, "--image-size", 16, "--out", tmp_path / "runs", *FAST, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "20 images" in r.stdout
    run = next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = cli("cluster", "--resume", run, "--no-report", "--quiet", cwd=elsewhere)  # the folder is in the run
    assert again.returncode == 0 and "resuming" in again.stdout, again.stderr
    clash = cli_here("cluster", photo_folder, "--resume", run, cwd=elsewhere)
    assert clash.returncode == 2 and "resume without a folder" in clash.stderr
    clash = cli_here("cluster", "--resume", run, "--k", 5, cwd=elsewhere)
    assert clash.returncode == 2 and "k=2" in clash.stderr
    clash = cli_here("cluster", "--resume", run, "--set", "cluster.max_steps=40", "--seed", 0, cwd=elsewhere)
    assert clash.returncode == 2 and "--set, --seed cannot change a run being resumed" in clash.stderr
    # predict, too, reads the folder called digits, not scikit-learn's digits
    p = cli("predict", run, "digits", cwd=tmp_path)
    assert p.returncode == 0 and "20 images assigned" in p.stdout, p.stderr
    missing = cli_here("predict", run, "digits", "--output", tmp_path / "nodir" / "x.csv", cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    # the folder moved: resuming with its new location reads it there
    digits.rename(tmp_path / "moved")
    moved = cli_here("cluster", "--resume", run, "--no-report", "--quiet", cwd=elsewhere)
    assert moved.returncode == 2 and "no longer exists" in moved.stderr, moved.stderr
    assert "deepclust cluster NEW_PATH --resume" in moved.stderr
    moved = cli("cluster", tmp_path / "moved", "--resume", run, "--no-report", "--quiet", cwd=elsewhere)
    assert moved.returncode == 0 and "no longer exists" in moved.stderr, moved.stderr


def test_cluster_odd_names_and_linked_folders(tmp_path):
    """A name that is not UTF-8 is written escaped (no crash after training); linked folders are followed,
    a link loop ends; __MACOSX is ignored."""
    root = tmp_path / "odd"
    (root / "real").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(root / "real" / f"p{i}.png")
    linked = tmp_path / "elsewhere"
    linked.mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(linked / f"q{i}.png")
    (root / "link").symlink_to(linked, target_is_directory=True)
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "p0.png").write_bytes(b"resource fork")
    with open(os.fsencode(root) + b"/bad\xff\xfename.png", "wb") as f:
        f.write((root / "real" / "p0.png").read_bytes())
    r = cli("cluster", root, "--k", 2, "--image-size", 8, "--method", "dcec", "--out", tmp_path / "runs", *FAST)
    assert r.returncode == 0, r.stderr
    assert "17 images" in r.stdout and "skipped" not in r.stderr
    run = Path(next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder")))
    names = [row["file"] for row in csv.DictReader(open(run / "assignments.csv", encoding="utf-8"))]
    assert "bad\\xff\\xfename.png" in names and "link/q0.png" in names
    assert (run / "report.html").is_file() and (run / "model.safetensors").is_file()


def test_cluster_with_augmentation_shows_examples(photo_folder, tmp_path):
    import yaml

    # the default (ST-DAC: no pretraining) trains its clustering stage on the preset's views
    r = cli("cluster", photo_folder, "--k", 3, "--image-size", 16, "--augment", "heritage", "--out", tmp_path / "d",
            "--no-report", *FAST)
    assert r.returncode == 0, r.stderr
    run = Path(next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder")))
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["cluster"]["augment"] == "heritage" and not cfg["pretrain"]["losses"]
    # an autoencoder method pretrains on original + augmented images
    r = cli("cluster", photo_folder, "--k", 3, "--image-size", 16, "--augment", "heritage", "--method", "dcec",
            "--out", tmp_path, *FAST)
    assert r.returncode == 0, r.stderr
    run = Path(next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder")))
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["pretrain"]["augment"] == "heritage" and cfg["pretrain"]["inputs"] == "both"
    z = np.load(run / "augmented.npz")
    assert z["views"].shape[:2] == (8, 4) and z["views"].shape[2:] == z["original"].shape[1:]
    html = (run / "report.html").read_text()
    assert 'id="augmented"' in html and "<code>heritage</code>" in html


def test_cluster_estimates_k_and_reports_it(tmp_path):
    from test_cluster import pattern_images

    images, _ = pattern_images()
    folder = tmp_path / "patterns"
    folder.mkdir()
    for i, img in enumerate(images[:, 0].numpy()):
        Image.fromarray(img).save(folder / f"p{i:02d}.png")
    r = cli("cluster", folder, "--k", "auto", "--method", "kmeans", "--image-size", 16, "--out", tmp_path / "runs",
            "--quiet")
    assert r.returncode == 0, r.stderr
    assert "estimated k=3" in r.stdout
    run = Path(next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder")))
    est = json.loads((run / "k_estimate.json").read_text())
    assert est["k"] == 3 and json.loads((run / "result.json").read_text())["n_clusters"] == 3
    html = (run / "report.html").read_text()
    assert 'id="k"' in html and "k = 3 was estimated" in html
    r = cli_here("cluster", "--resume", run, "--k", "auto")
    assert r.returncode == 2 and "--k auto: the run" in r.stderr
