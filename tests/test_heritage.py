"""Kudari et al. (heritage paper): the proxy data sets and every row of their Tables 1-4 as configs."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from deepclust.bench import tables
from deepclust.config import deep_update
from deepclust.data import ImageSet, load_dataset
from deepclust.data.builtin import PROXIES, proxy_indices
from deepclust.methods.pipeline import fit, make_config, validate

DATA = Path(os.environ.get("DEEPCLUST_DATA") or Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets")
needs_data = pytest.mark.skipif(not (DATA / "FashionMNIST" / "raw").is_dir() or not (DATA / "COIL20").is_dir(),
                                reason=f"offline datasets not found at {DATA}")
HERITAGE = [n for n in tables.TABLES if n.startswith("heritage-")]


def test_proxy_indices_are_balanced_sorted_and_seeded():
    labels = np.repeat(np.arange(4), 50)[np.random.default_rng(1).permutation(200)]
    a, b = proxy_indices(labels, 10), proxy_indices(labels, 10)
    assert np.array_equal(a, b) and np.all(np.diff(a) > 0)
    assert np.bincount(labels[a]).tolist() == [10] * 4
    assert not np.array_equal(a, proxy_indices(labels, 10, seed=2))


@needs_data
def test_fashion_mnist_1500_is_deterministic_and_balanced():
    a = load_dataset("fashion-mnist-1500", root=DATA)
    b = load_dataset("fashion-mnist-1500", root=DATA)
    assert a.images.shape == (1500, 1, 28, 28) and a.images.dtype == torch.uint8
    assert torch.bincount(a.labels).tolist() == [150] * 10
    assert torch.equal(a.images, b.images) and a.names == b.names
    # The names point back to the source images.
    full = load_dataset("fashion-mnist", root=DATA)
    i = int(a.names[7].split("/")[1])
    assert torch.equal(full.images[i], a.images[7]) and full.labels[i] == a.labels[7]
    assert load_dataset("fashion-mnist-1500", root=DATA, limit=5).names == a.names[:5]


@needs_data
def test_coil20_32_keeps_72_poses_per_object():
    s = load_dataset("coil20-32", root=DATA)
    assert s.images.shape == (1440, 1, 32, 32) and torch.bincount(s.labels).tolist() == [72] * 20
    assert PROXIES["coil20-32"] == ("coil20", None, 32)


def _tiny(n=40, side=16, k=4):
    g = torch.Generator().manual_seed(0)
    return ImageSet(images=torch.randint(0, 256, (n, 1, side, side), dtype=torch.uint8, generator=g),
                    labels=torch.arange(n) % k, names=[f"x{i}" for i in range(n)], name="tiny")


def test_heritage_tables_have_every_row_of_the_paper():
    assert HERITAGE == [f"heritage-table{i}" for i in (1, 2, 3, 4)]
    for name, n in zip(HERITAGE, (4, 6, 6, 6)):
        t = tables.get_table(name)
        assert len(t.rows) == n and all(len(t.paper[(r, "IDH")]) == 3 for r in t.rows)
        assert t.share_pretraining and set(t.datasets.values()) == {"fashion-mnist-1500", "coil20-32"}


@pytest.mark.parametrize("name,row", [(n, r) for n in HERITAGE for r in tables.TABLES[n].rows])
def test_every_heritage_row_validates_and_fits(name, row, tmp_path):
    t = tables.get_table(name)
    data = _tiny()
    over = deep_update(t.cell_overrides(row, "fashion-mnist-1500", "quick"), {
        "method": {"n_clusters": 4, "n_init": 1}, "out_dir": str(tmp_path),
        "pretrain": {"epochs": None, "max_steps": 2}, "cluster": {"update_interval": 1},
        "train": {"progress": False, "device": "cpu"}})
    if t.row_method(row) != "heritage-cae":
        over = deep_update(over, {"cluster": {"max_steps": 2}})
    cfg = make_config(t.row_method(row), overrides=over)
    assert cfg.encoder.name == "vgg_cae" and cfg.pretrain.batch_size == 16
    assert cfg.pretrain.optim.name == "adam" and cfg.pretrain.optim.lr == 1e-3
    validate(cfg, data)
    res = fit(cfg, data)
    assert res.labels.shape == (40,) and res.metrics is not None
    # The row's label says where augmentation goes; the config agrees.
    if "CAE-Aug" in row or row.startswith("ori+"):
        assert cfg.pretrain.inputs == "both" and cfg.pretrain.augment
    elif "CCL" not in row:
        assert cfg.pretrain.augment is None
    assert ("consistency" in cfg.pretrain.losses) == ("CCL" in row)
    assert (cfg.cluster.inputs == "both") == ("DEC-Aug" in row)


def test_table2_uses_one_transform_per_row():
    t = tables.get_table("heritage-table2")
    presets = {r: t.cell_overrides(r, "coil20-32", "quick")["pretrain"]["augment"] for r in t.rows}
    assert presets["ori+rot (MSE)"] == "rot" and presets["ori+shear (MSE+CCL)"] == "shear"
    assert presets["ori+scale (MSE)"] == "scale"


def test_heritage_full_profile_is_the_papers_schedule():
    t = tables.get_table("heritage-table4")
    row = "CAE-Aug + IDEC-WAug (MSE+CCL)"
    cfg = make_config(t.row_method(row), overrides=t.cell_overrides(row, "coil20-32", "full"))
    assert cfg.pretrain.epochs == 500 and cfg.cluster.epochs == 2000 and cfg.cluster.batch_size == 16
    assert cfg.cluster.losses == {"kl_target": 0.1, "recon": 1.0} and cfg.profile == "full"


def test_heritage_cae_scores_kmeans_on_the_final_embedding():
    """With CCL the net has a Student-t head whose centres lag the embedding; the Table 1-2 score must
    still be k-means on the final embedding (kmeans_init in a zero-step clustering stage)."""
    from deepclust.cluster import kmeans

    t = tables.get_table("heritage-table1")
    row = "CAE-Aug (MSE+CCL)"
    over = deep_update(t.cell_overrides(row, "x", "quick"), {
        "method": {"n_clusters": 4, "n_init": 2}, "pretrain": {"epochs": None, "max_steps": 3, "update_interval": 2},
        "train": {"progress": False, "device": "cpu"}})
    cfg = make_config(t.row_method(row), overrides=over)
    data = _tiny()
    res = fit(cfg, data)
    labels, _ = kmeans(torch.from_numpy(res.embedding), 4, n_init=2, seed=cfg.train.seed)
    assert np.array_equal(np.asarray(labels), res.labels)


CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "heritage"


def test_committed_row_configs_match_the_tables():
    import re

    files = sorted(CONFIGS.glob("table*/*.yaml"))
    assert len(files) == 22
    for name in HERITAGE:
        t = tables.get_table(name)
        for row in t.rows:
            slug = re.sub(r"[^a-z0-9]+", "-", row.lower()).strip("-")
            path = CONFIGS / name.replace("heritage-", "") / f"{slug}.yaml"
            assert make_config("dec", config_file=str(path)) == make_config(t.row_method(row),
                                                                             overrides=t.row_overrides(row)), path


@needs_data
def test_cli_fits_a_heritage_row_on_the_proxy(tmp_path):
    from deepclust.cli import main

    cfg = CONFIGS / "table1" / "cae-aug-mse-ccl.yaml"
    rc = main(["fit", "--data", "fashion-mnist-1500", "--data-root", str(DATA), "--config", str(cfg), "--out",
               str(tmp_path), "--quiet", "--no-report", "--set", "data.limit=40", "--set", "pretrain.epochs=null",
               "--set", "pretrain.max_steps=2", "--set", "method.n_init=1", "--set", "train.device=cpu"])
    assert rc in (0, None)
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (run / "result.json").is_file() and (run / "augmented.npz").is_file()
