"""The report reads only the run-folder contract (docs/run-folder.md) and must stay safe and
self-contained: these tests write fake run folders by hand, exactly as the contract says."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from deepclust.errors import UserError
from deepclust.report import write_report
from deepclust.report.plots import hungarian_order

EVIL_SKIPPED = "<script>alert(1)</script>.png"
EVIL_NAME = "odd&<>\"'name.png"
K, N = 3, 30


def make_run(root: Path, channels: int = 1, side: int = 8) -> Path:
    """A finished run on 30 labelled images, 3 clusters, with every optional file present."""
    rng = np.random.default_rng(0)
    run = root / "run"
    run.mkdir()
    labels = np.arange(N) % K
    clusters = (labels + 1) % K  # a permutation of the labels: Hungarian must undo it
    clusters[:3] = 0  # a few mistakes
    confidence = rng.uniform(0.4, 1.0, N)
    names = [f"img_{i:03d}.png" for i in range(N)]
    names[4] = EVIL_NAME
    (run / "config.yaml").write_text(yaml.safe_dump(
        {"method": {"name": "dec", "alpha": 1.0}, "data": {"dataset": "digits", "limit": None},
         "seed": 7, "device": "cpu"}))
    lines = [{"stage": "pretrain", "step": s, "epoch": s / 10, "loss": 1.0 / (s + 1),
              "losses": {"recon": 1.0 / (s + 1)}, "time_s": s * 0.1} for s in range(0, 50, 5)]
    for s in range(0, 40, 4):
        row = {"stage": "cluster", "step": s, "epoch": s / 10, "loss": 0.5 - s / 100,
               "losses": {"kl": 0.3 - s / 200, "recon": 0.2 - s / 200}, "time_s": 5 + s * 0.1,
               "acc": 0.5 + s / 100, "nmi": 0.4 + s / 100, "ari": 0.3 + s / 100}
        if s % 8 == 0:
            row["label_change"] = 0.2 / (s + 1)
        lines.append(row)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    sizes = np.bincount(clusters, minlength=K).tolist()
    (run / "result.json").write_text(json.dumps({
        "method": "dec", "dataset": "digits", "n_images": N, "n_clusters": K,
        "acc": 0.8123, "nmi": 0.7456, "ari": 0.6789, "cluster_sizes": sizes, "wall_s": 83.5,
        "stage_s": {"pretrain": 60.0, "cluster": 23.5}, "device": "cpu", "torch": "2.5.1",
        "seed": 7, "git_commit": "abc1234", "n_skipped": 1, "created": "2025-01-02T03:04:05"}))
    with (run / "assignments.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "cluster", "confidence", "label"])
        for i in range(N):
            w.writerow([names[i], int(clusters[i]), f"{confidence[i]:.4f}", int(labels[i])])
    with (run / "skipped.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "reason"])
        w.writerow([EVIL_SKIPPED, "cannot identify image file <b>bold</b>"])
    images = rng.integers(0, 256, (N, side, side, channels), dtype=np.uint8)
    np.savez(run / "gallery.npz", images=images, cluster=clusters, confidence=confidence,
             names=np.array(names))
    np.savez(run / "embedding_2d.npz", xy=rng.normal(size=(N, 2)) + clusters[:, None] * 3,
             cluster=clusters, label=labels)
    return run


def data_uris(html: str) -> list[bytes]:
    """Decoded PNGs of every data URI on the page."""
    return [base64.b64decode(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)]


def test_full_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    out = write_report(make_run(tmp_path))
    assert out == tmp_path / "run" / "report.html" and out.is_file()
    html = out.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()  # no scripts at all, and the evil name is inert
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.png" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert EVIL_NAME not in html
    assert "odd&amp;&lt;&gt;&#34;&#39;name.png" in html
    for value in ("0.8123", "0.7456", "0.6789"):
        assert value in html
    for text in ("Skipped files", "Cluster sizes", "Gallery", "Confusion matrix",
                 "Learning curves", "2-D map", "abc1234", "digits", "1 min 23 s"):
        assert text in html, text
    pngs = data_uris(html)
    # 5 plots (sizes, confusion, loss, quality) + 2 maps + 30 tiles
    assert len(pngs) >= 30 + 6
    for png in pngs:
        Image.open(io.BytesIO(png)).verify()
    assert 'href="assignments.csv"' in html and 'href="config.yaml"' in html
    assert 'href="report.html"' not in html
    assert "Sections left out" not in html


def test_tiles_are_upscaled_grey_and_colour(tmp_path: Path) -> None:
    for channels, side, mode in ((1, 8, "L"), (3, 16, "RGB")):
        root = tmp_path / f"c{channels}"
        root.mkdir()
        html = write_report(make_run(root, channels=channels, side=side)).read_text()
        tiles = [Image.open(io.BytesIO(p)) for p in data_uris(html)]
        tiles = [t for t in tiles if t.size == (64, 64)]
        assert len(tiles) == N
        assert {t.mode for t in tiles} == {mode}


def test_minimal_folder_without_labels_or_gallery(tmp_path: Path) -> None:
    run = tmp_path / "minimal"
    run.mkdir()
    (run / "result.json").write_text(json.dumps({
        "method": "kmeans", "dataset": "photos", "n_images": 4, "n_clusters": 2,
        "acc": None, "nmi": None, "ari": None, "cluster_sizes": [3, 1], "wall_s": 1.5}))
    (run / "assignments.csv").write_text("file,cluster,confidence\na.png,0,0.9\nb.png,0,0.8\n"
                                         "c.png,1,0.7\nd.png,0,0.6\n")
    html = write_report(run).read_text()
    assert "no ground truth: metrics not computed" in html
    assert "Cluster sizes" in html
    for absent in ('id="gallery"', 'id="confusion"', 'id="curves"', 'id="map"', 'id="skipped"'):
        assert absent not in html
    assert "Sections left out" not in html


def test_empty_and_missing_folder(tmp_path: Path) -> None:
    html = write_report(tmp_path).read_text()
    assert "result.json is absent" in html
    with pytest.raises(UserError):
        write_report(tmp_path / "nope")


def test_damaged_file_drops_only_its_section(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    (run / "gallery.npz").write_bytes(b"not a zip")
    (run / "metrics.jsonl").write_text((run / "metrics.jsonl").read_text() + '{"stage": "clu')
    html = write_report(run).read_text()
    assert "Sections left out" in html and "gallery.npz" in html
    assert 'id="gallery"' not in html
    assert "Learning curves" in html and "0.8123" in html


def test_k_estimate_sections_eigengap_and_probe(tmp_path: Path) -> None:
    """Both kinds of `--k auto` record are shown (class names escaped); a damaged one drops only its section."""
    run = make_run(tmp_path)
    (run / "k_estimate.json").write_text(json.dumps({"k": 3, "candidates": [3, 4, 2], "gaps": [0.0, 0.1, 0.5, 0.2],
                                                     "n_points": 30, "n_neighbors": 5, "method": "eigengap"}))
    html = write_report(run).read_text()
    assert "largest eigengap" in html and 'id="k"' in html
    probe = {"k": 3, "k_acc": 2, "k_cvi": 4, "k_mid": 3, "candidates": [1, 2, 3, 4], "acc": [0.5, 0.9, 0.8, 0.7],
             "cvi": [0.2, 0.3, 0.35, 0.4], "anchor_classes": ["gate"], "validation_classes": [EVIL_NAME, "wall"],
             "trained_classes": ["tower", "roof"], "n_points": 30, "min_share": 0.01, "method": "probe"}
    (run / "k_estimate.json").write_text(json.dumps(probe))
    html = write_report(run).read_text()
    assert "known classes as probes" in html and "ACC was best at 2" in html and EVIL_NAME not in html
    assert "odd&amp;&lt;&gt;" in html
    (run / "k_estimate.json").write_text(json.dumps({**probe, "cvi": [0.1]}))
    html = write_report(run).read_text()
    assert 'id="k"' not in html and "k_estimate.json" in html


def test_hungarian_order_puts_agreement_on_diagonal() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    clusters = np.array([2, 2, 0, 0, 1, 1, 3])  # 4 clusters, one extra
    counts, values, order = hungarian_order(labels, clusters, 4)
    assert values.tolist() == [0, 1, 2]
    assert order.tolist() == [2, 0, 1, 3]
    assert np.trace(counts[:, :3]) == 6 and counts.sum() == 7


def test_folder_gallery_shows_the_originals_not_the_training_copies(tmp_path: Path) -> None:
    """A folder run's gallery is decoded again from the files at display size; a file that vanished
    after training keeps its (upscaled) training copy."""
    from PIL import Image

    from deepclust.data import load_dataset
    from deepclust.train.rundir import RunDir

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):  # fine stripes: at 8 px they blur away, at 128 px they are there
        arr = np.zeros((256, 256, 3), np.uint8)
        arr[:, ::2 + i] = (255, 40 * i, 0)
        Image.fromarray(arr).save(folder / f"p{i}.png")
    data = load_dataset(str(folder), image_size=8)
    assert data.root == str(folder.resolve())
    (folder / "p3.png").unlink()
    run = RunDir(tmp_path / "run")
    run.write_gallery(data.images, data.names, np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.7, 0.6]),
                      source=data.root)
    z = np.load(run.path / "gallery.npz")
    names = list(z["names"])
    assert z["images"].shape == (4, 128, 128, 3)
    direct = np.asarray(Image.open(folder / "p0.png").convert("RGB").resize((128, 128), Image.Resampling.LANCZOS))
    got = z["images"][names.index("p0.png")].astype(int)
    assert np.abs(got - direct.astype(int)).mean() < 10  # the original, decoded at 128
    small = data.images[3].permute(1, 2, 0).numpy()
    lost = z["images"][names.index("p3.png")]
    assert np.array_equal(lost[::16, ::16], small)  # nearest-upscaled training copy


@pytest.mark.parametrize("dims", [1, 2, 5])
def test_embedding_of_any_width_gets_a_map(tmp_path: Path, dims: int) -> None:
    """A 1-D embedding (k-means on 1-px grey images) once dropped the map with an index error."""
    from deepclust.train.rundir import RunDir

    run = make_run(tmp_path)
    (run / "embedding_2d.npz").unlink()
    z = np.random.default_rng(0).normal(size=(N, dims)).astype(np.float32)
    RunDir(run).write_embedding_2d(z, np.arange(N) % K)
    with np.load(run / "embedding_2d.npz") as f:
        assert f["xy"].shape == (N, 2)
        if dims <= 2:
            assert np.allclose(f["xy"][:, :dims], z)
    html = write_report(run).read_text()
    assert 'id="map"' in html and "embedding map skipped" not in html
