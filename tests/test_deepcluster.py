"""DeepCluster: its parts against their definitions, a fit on tiny real data, resume, predict."""
import json

import numpy as np
import pytest
import torch

from deepclust.cluster.whiten import fit_whitening, whiten_l2
from deepclust.errors import UserError
from deepclust.methods import fit, make_config
from deepclust.methods.pipeline import validate
from deepclust.objectives import Batch, ClusterState
from deepclust.objectives.pseudo_label import PseudoLabelLoss
from deepclust.refresh.pseudo_labels import balanced_order

# A small network and schedule: the recipe's 64-128-256 trunk is the reference's size, not the test's.
SMALL = ["encoder.filters=[8,16]", "encoder.hidden=[64,64]", "encoder.embed_dim=16", "cluster.batch_size=50",
         "train.progress=false", "train.log_every=2", "train.checkpoint_every=2",
         "cluster.min_update_steps=0"]  # the reference's every epoch: these 6-step epochs would wait 7 epochs


def small(*extra):
    return make_config("deepcluster", sets=SMALL + list(extra))


def test_pseudo_label_loss_is_cross_entropy_by_hand():
    torch.manual_seed(0)
    logits = torch.randn(5, 4)
    pseudo = torch.tensor([3, 0, 1, 1, 2, 0, 3])
    idx = torch.tensor([6, 0, 2, 3, 4])
    out = type("Out", (), {"logits": logits})()
    got = PseudoLabelLoss()(out, Batch(x=torch.zeros(5, 1, 2, 2), idx=idx), ClusterState(pseudo_labels=pseudo))
    y = pseudo[idx]
    by_hand = -sum(torch.log(torch.exp(logits[n, y[n]]) / torch.exp(logits[n]).sum()) for n in range(5)) / 5
    assert torch.allclose(got, by_hand, atol=1e-6)


def test_balanced_order_draws_each_pseudo_label_equally():
    labels = torch.tensor([0] * 90 + [1] * 8 + [3] * 2)  # label 2 is empty
    g = torch.Generator().manual_seed(0)
    order = balanced_order(labels, 100, g)
    assert order.shape == (100,) and order.min() >= 0 and order.max() < 100
    counts = torch.bincount(labels[order], minlength=4)
    assert counts[2] == 0 and (counts[[0, 1, 3]] - 100 / 3).abs().max() <= 1
    # a label with enough images is drawn without replacement
    assert len(torch.unique(order[labels[order] == 0])) == counts[0]
    assert torch.equal(order, balanced_order(labels, 100, torch.Generator().manual_seed(0)))


def test_whitening_gives_identity_covariance_and_unit_rows():
    torch.manual_seed(0)
    z = torch.randn(500, 6) @ torch.randn(6, 6) + 3.0
    mean, proj = fit_whitening(z, 4)
    y = (z - mean) @ proj
    cov = y.T @ y / (len(y) - 1)
    assert torch.allclose(cov, torch.eye(4), atol=1e-4)
    # fewer images than dimensions: the directions without variance are dropped (zero), not blown up
    mean, proj = fit_whitening(torch.randn(3, 8), 6)
    assert proj.shape == (8, 6) and (proj[:, 2:].abs().max() == 0) and torch.isfinite(proj).all()
    r = whiten_l2(torch.randn(7, 8), mean, proj)
    assert torch.allclose(r.norm(dim=1), torch.ones(7), atol=1e-5)


def test_sobel_front_end_by_hand():
    from deepclust.nets.deepcluster_cnn import Sobel

    x = torch.rand(2, 3, 6, 6)
    got = Sobel()(x)
    grey = torch.nn.functional.pad(x.mean(1), (1, 1, 1, 1))
    k = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    gx = sum(k[a, b] * grey[:, a:a + 6, b:b + 6] for a in range(3) for b in range(3))
    gy = sum(k.T[a, b] * grey[:, a:a + 6, b:b + 6] for a in range(3) for b in range(3))
    assert got.shape == (2, 2, 6, 6)
    assert torch.allclose(got[:, 0], gx, atol=1e-5) and torch.allclose(got[:, 1], gy, atol=1e-5)


def test_deepcluster_fits_tiny_digits_and_logs_its_reassignments(tmp_path):
    from deepclust.data import load_dataset
    from deepclust.metrics import acc
    from deepclust.train.rundir import RunDir

    data = load_dataset("digits", limit=300, image_size=16)
    cfg = small("cluster.epochs=6")
    run = RunDir(tmp_path / "r")
    res = fit(cfg, data, run=run)
    assert res.labels.shape == (300,) and res.centers.shape == (10, 16)
    assert np.allclose(np.linalg.norm(res.embedding, axis=1), 1, atol=1e-4)  # the whitened, L2 space
    chance = np.mean([acc(data.labels, np.random.default_rng(s).integers(0, 10, 300)) for s in range(20)])
    assert res.metrics["acc"] > chance + 0.3, res.metrics
    recs = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    events = [r for r in recs if r.get("event") == "pseudo_labels"]
    assert [r["step"] for r in events] == [6 * e for e in range(6)]  # once per epoch (6 steps of 50)
    assert "nmi_previous" not in events[0] and all(0 <= r["nmi_previous"] <= 1 for r in events[1:])
    assert all("acc" in r for r in events)
    # a folder has no labels: the report still plots how stable the pseudo-labels are
    from deepclust.report.plots import quality_plot

    no_truth = [{k: v for k, v in r.items() if k not in ("acc", "nmi", "ari")} for r in recs]
    assert quality_plot(no_truth) is not None


def test_the_top_layer_starts_again_at_each_reassignment():
    from deepclust.data import load_dataset
    from deepclust.methods.pipeline import build_model
    from deepclust.refresh import Context
    from deepclust.refresh.pseudo_labels import DeepClusterRefresher

    data = load_dataset("digits", limit=120, image_size=16)
    cfg = small()
    model = build_model(cfg, (1, 16, 16))
    head = model.head.linear
    with torch.no_grad():
        head.weight.fill_(1.0)
        head.bias.fill_(1.0)
    # fused, as on CUDA: it expects every parameter's momentum once any has one (it is on the CPU too)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, fused=True)
    model(torch.rand(4, 1, 16, 16), reconstruct=False).logits.sum().backward()
    opt.step()
    assert head.weight in opt.state
    ctx = Context(model=model, images=data.images, labels=data.labels, state=ClusterState(), cfg=cfg,
                  stage=cfg.cluster, device=torch.device("cpu"), optimizer=opt)
    rec = DeepClusterRefresher(0)(ctx)
    assert head.bias.abs().max() == 0 and 0.005 < head.weight.std() < 0.02
    # no stale momentum for classes that are new
    assert all(opt.state[p]["momentum_buffer"].abs().max() == 0 for p in (head.weight, head.bias))
    opt.zero_grad()
    model(torch.rand(4, 1, 16, 16), reconstruct=False).logits.sum().backward()
    opt.step()  # the next step runs (dropping the state instead broke a fused optimiser here)
    assert ctx.state.pseudo_labels.shape == (120,)
    assert rec["event"] == "pseudo_labels" and rec["clusters_used"] >= 2


def test_each_epoch_draws_its_own_order_over_the_pseudo_labels():
    """Between two reassignments every epoch has a new draw (the same epoch always the same draw)."""
    from deepclust.refresh import Context
    from deepclust.refresh.pseudo_labels import DeepClusterRefresher

    cfg = small()
    labels = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)
    ctx = Context(model=None, images=torch.zeros(100, 1, 4, 4, dtype=torch.uint8), labels=None,
                  state=ClusterState(), cfg=cfg, stage=cfg.cluster, device=torch.device("cpu"))
    r = DeepClusterRefresher(0)
    assert r.epoch_order(ctx, 0) is None  # no pseudo-labels yet: the loop's own permutation
    ctx.state.pseudo_labels = labels
    e0, e1 = r.epoch_order(ctx, 0), r.epoch_order(ctx, 1)
    assert e0.shape == e1.shape == (100,) and not torch.equal(e0, e1)
    assert torch.equal(e0, r.epoch_order(ctx, 0))
    for order in (e0, e1):
        counts = torch.bincount(labels[order], minlength=3)
        assert counts.max() - counts.min() <= 2  # uniform over the pseudo-labels, not over the images


def test_deepcluster_resumes_mid_epoch_where_it_left_off(tmp_path, dying_run):
    """Killed mid-epoch, it resumes with that epoch's sampled order and pseudo-labels and ends where an
    uninterrupted run ends (dropout off: its masks come from the global generator, not reseeded per step)."""
    from deepclust.data import load_dataset
    from deepclust.train.rundir import RunDir

    data = load_dataset("digits", limit=150, image_size=16)
    cfg = small("cluster.max_steps=9", "encoder.dropout=0")  # 3 steps an epoch
    full = fit(cfg, data)

    run = dying_run(tmp_path / "r", step=6)
    with pytest.raises(dying_run.Killed):
        fit(cfg, data, run=run)
    ck = torch.load(run.checkpoint_path, weights_only=True)
    assert ck["step"] == 4 and "pseudo_labels" in ck["state"]  # mid-epoch (epoch 1 is steps 3-5)
    resumed = fit(cfg, data, run=RunDir(run.path), resume=True)
    assert np.array_equal(resumed.labels, full.labels)


def test_impossible_deepcluster_settings_fail_before_training():
    from deepclust.data import load_dataset

    data = load_dataset("digits", limit=60, image_size=16)
    with pytest.raises(UserError, match="whitened features.*encoder.name=deepcluster_cnn"):
        fit(small("encoder.name=conv_ae"), data)
    with pytest.raises(UserError, match="pseudo_labels.*add 'deepcluster' to cluster.refreshers"):
        fit(small("cluster.refreshers=[]"), data)
    with pytest.raises(UserError, match="method.pseudo_k=61"):
        fit(small("method.pseudo_k=61"), data)
    with pytest.raises(UserError, match="too small"):
        fit(small("encoder.filters=[8,16,32,64,128]"), data)
    with pytest.raises(UserError, match="add pseudo_label to cluster.losses"):
        fit(small("cluster.losses.pseudo_label=0"), data)
    with pytest.raises(UserError, match="one or the other"):
        fit(small("cluster.losses={pseudo_label: 1, kl_target: 1}", "cluster.refreshers=[deepcluster, kmeans_init, target]"), data)


def test_over_clustering_keeps_the_asked_number_of_clusters(tmp_path):
    from deepclust.data import load_dataset

    data = load_dataset("digits", limit=200, image_size=16)
    from deepclust.train.rundir import RunDir

    run = RunDir(tmp_path / "r")
    res = fit(small("cluster.epochs=2", "method.pseudo_k=30"), data, run=run)
    assert res.model.head.linear.out_features == 30
    assert res.centers.shape[0] == 10 and res.labels.max() < 10
    # 30 pseudo-labels for 10 classes: a one-to-one ACC would be capped near 1/3, so only NMI and ARI are logged
    events = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()
              if "pseudo_labels" in line]
    assert events and all("acc" not in r and "nmi" in r and "ari" in r for r in events)


def test_facade_and_predict_on_new_images_use_the_saved_whitening(tmp_path):
    """`DeepCluster(...).fit(X)`; a run folder's model reloads with its whitening, so predict maps new
    images into the space the clusters were found in."""
    from deepclust import DeepCluster
    from deepclust.data import load_dataset
    from deepclust.methods.pipeline import load_model, write_outputs
    from deepclust.train.rundir import RunDir

    data = load_dataset("digits", limit=120, image_size=16)
    est = DeepCluster(n_clusters=5, encoder__filters=(8, 16), encoder__hidden=(64, 64), encoder__embed_dim=16,
                      cluster__batch_size=50, cluster__epochs=2).fit(data.images.numpy())
    assert est.labels_.shape == (120,) and np.array_equal(est.predict(data.images.numpy()), est.labels_)
    cfg = small("cluster.epochs=2", "method.n_clusters=5")
    run = RunDir(tmp_path / "r")
    run.write_config(cfg)
    train, new = data.subset(range(100)), data.images[100:]
    res = fit(cfg, train, run=run)
    write_outputs(run, cfg, train, res)
    _, model, centers, _ = load_model(run.path)
    assert torch.allclose(model.ae.white_proj, res.model.ae.white_proj)
    assert np.allclose(model.embed(train.images).numpy(), res.embedding, atol=1e-5)
    z = model.embed(new)  # images the model never saw: the same map as the trained model's, unit rows
    assert torch.allclose(z, res.model.embed(new), atol=1e-5) and torch.allclose(z.norm(dim=1), torch.ones(20), atol=1e-4)


def test_number_of_pseudo_labels():
    from deepclust.refresh.pseudo_labels import pseudo_classes

    def n_pseudo(k, n, pseudo_k=0):
        return pseudo_classes(make_config("deepcluster", sets=[f"method.n_clusters={k}", f"method.pseudo_k={pseudo_k}"]), n)

    assert n_pseudo(10, 10_000) == 100  # one per ~100 images (MNIST-test) ...
    assert n_pseudo(10, 70_000) == 100  # ... at most 10 k
    assert n_pseudo(20, 1_440) == 20  # ... at least k (COIL-20)
    assert n_pseudo(10, 10_000, pseudo_k=40) == 40  # as asked


def test_short_epochs_reassign_every_few_epochs_with_min_update_steps(tmp_path, monkeypatch):
    from deepclust.data import load_dataset
    from deepclust.refresh.base import PeriodicRefresher
    from deepclust.refresh.pseudo_labels import DeepClusterRefresher
    from deepclust.train.rundir import RunDir

    data = load_dataset("digits", limit=300, image_size=16)
    run = RunDir(tmp_path / "r")
    drawn = {}
    original = DeepClusterRefresher.epoch_order

    def record(self, ctx, epoch):
        drawn[epoch] = original(self, ctx, epoch)
        return drawn[epoch]

    monkeypatch.setattr(DeepClusterRefresher, "epoch_order", record)
    fit(small("cluster.epochs=6", "cluster.min_update_steps=10"), data, run=run)
    steps = [json.loads(line)["step"] for line in (run.path / "metrics.jsonl").read_text().splitlines()
             if "pseudo_labels" in line]
    assert steps == [0, 12, 24]  # 6 steps an epoch: every ceil(10 / 6) = 2 epochs, on epoch boundaries
    # the epochs between two reassignments do not replay one draw: each epoch samples its own order
    assert sorted(drawn) == list(range(6)) and not torch.equal(drawn[0], drawn[1])
    for spe, least, want in [(6, 10, 12), (10, 10, 10), (39, 40, 78), (40, 40, 40), (2, 40, 40), (3, 40, 42),
                             (5, 0, 5)]:
        r = PeriodicRefresher(0)
        r.min_update_steps = least
        r.setup(spe, 1000)
        assert r.update_interval == want, (spe, r.update_interval)
    fixed = PeriodicRefresher(7)
    fixed.min_update_steps = 40
    fixed.setup(2, 1000)
    assert fixed.update_interval == 7  # an explicit interval is left as asked
    with pytest.raises(UserError, match="min_update_steps must be 0 or more"):
        fit(small("cluster.min_update_steps=-1"), data)
    # an explicit interval wins over the recipe's min_update_steps
    r = PeriodicRefresher.from_stage(small("cluster.min_update_steps=40", "cluster.update_interval=5").cluster)
    r.setup(2, 100)
    assert r.update_interval == 5
    with pytest.raises(UserError, match="none of cluster.refreshers.*deepcluster.*target"):
        fit(make_config("dcn", sets=["cluster.min_update_steps=10", "cluster.update_interval=0"]), data)  # DCN's updates: per batch
    # DEC's target reads it too (since 2026-12-08: DTC's target on 1-step epochs)
    validate(make_config("dec", sets=["cluster.min_update_steps=10", "cluster.update_interval=0"]), data)
    with pytest.warns(UserWarning, match="leaves one refresh"):
        r = PeriodicRefresher(0)
        r.min_update_steps = 100
        r.setup(6, 60)


def test_a_resumed_run_keeps_the_settings_it_started_with(tmp_path):
    """A setting added after a run started is missing from its config.yaml: on resume it takes the behaviour from
    before it existed (the dataclass default), not today's recipe default."""
    import yaml

    from deepclust.config import to_dict
    from deepclust.methods.pipeline import load_run_config

    old = to_dict(make_config("deepcluster"))
    assert old["cluster"].pop("min_update_steps") == 40  # the recipe's default today
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old, sort_keys=False))
    cfg = load_run_config(tmp_path)
    assert cfg.cluster.min_update_steps == 0 and cfg.method.name == "deepcluster"
    assert cfg.cluster.refreshers == make_config("deepcluster").cluster.refreshers


def test_final_assignment_sees_k_minus_1_whitened_dims(tmp_path):
    """The recipe's final k-means reads the top k - 1 whitened components (method.assign_dims=-1); 0 keeps all of
    encoder.embed_dim; the saved whitening is the one the clusters were found in (zero columns beyond)."""
    from deepclust.data import load_dataset
    from deepclust.methods.pipeline import assign_dims

    assert make_config("deepcluster").method.assign_dims == -1
    assert assign_dims(make_config("deepcluster", sets=["method.n_clusters=10"])) == 9
    assert assign_dims(make_config("deepcluster", sets=["method.n_clusters=2"])) == 2
    assert assign_dims(make_config("deepcluster", sets=["method.assign_dims=0"])) is None
    assert assign_dims(make_config("deepcluster", sets=["method.assign_dims=5"])) == 5
    data = load_dataset("digits", limit=200, image_size=16)
    res = fit(small("cluster.epochs=2", "method.n_clusters=4"), data)
    proj = res.model.ae.white_proj
    assert proj.shape[1] == 16 and proj[:, 3:].abs().max() == 0 and proj[:, :3].abs().max() > 0
    assert np.abs(res.embedding[:, 3:]).max() == 0 and np.allclose(np.linalg.norm(res.embedding, axis=1), 1, atol=1e-4)
    every = fit(small("cluster.epochs=2", "method.n_clusters=4", "method.assign_dims=0"), data)
    assert np.abs(every.embedding[:, 3:]).max() > 0
    with pytest.raises(UserError, match="method.assign_dims=17"):
        fit(small("method.assign_dims=17"), data)
    with pytest.raises(UserError, match="method.assign_dims=-2"):
        fit(small("method.assign_dims=-2"), data)
    with pytest.raises(UserError, match="method.pseudo_dims=40"):
        fit(small("method.pseudo_dims=40"), data)


def test_pseudo_labels_can_read_fewer_whitened_dims():
    from deepclust.refresh.pseudo_labels import pseudo_dims

    assert pseudo_dims(small(), 30) is None  # the default: all of embed_dim
    assert pseudo_dims(small("method.pseudo_dims=-1"), 30) == 29
    assert pseudo_dims(small("method.pseudo_dims=-1"), 2) == 2
    assert pseudo_dims(small("method.pseudo_dims=5"), 30) == 5
    assert pseudo_dims(small("method.pseudo_dims=-1", "method.pseudo_clustering=pic"), 30) is None
