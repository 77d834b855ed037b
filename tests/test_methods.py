"""Every method fitted on tiny real data; the façade's scikit-learn conventions; resume."""
import time
import warnings

import numpy as np
import pytest
import torch

import deepclust
from deepclust.errors import UserError
from deepclust.methods import fit, make_config
from deepclust.registry import METHODS


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_fits_tiny_data(name, tiny_digits, fast_sets):
    from deepclust.data import load_dataset

    cfg = make_config(name, sets=fast_sets(**({"cluster.epochs": "null"} if name == "dcn" else {})))
    if cfg.encoder.name in ("stdac_cnn", "dac_cnn"):
        pytest.skip("label-feature methods (DAC, ST-DAC) are fitted in tests/test_dac.py")
    if cfg.encoder.name == "deepcluster_cnn":  # fitted on its own, smaller, in tests/test_deepcluster.py
        pytest.skip("DeepCluster is fitted in tests/test_deepcluster.py")
    if cfg.encoder.name == "dtc_cnn":  # it needs labelled known classes besides the images
        pytest.skip("DTC is fitted in tests/test_dtc.py")
    if cfg.encoder.name in ("conv_ae", "vgg_cae"):  # 8×8 leaves a conv stack a 1×1 map; give it 16×16
        tiny_digits = load_dataset("digits", limit=200, image_size=16)
        # ... and 30 epochs (90 steps): after 10, GAP-DCEC's embedding is at chance + 0.04 to 0.1 by seed
        # and precision, too close to the bar below to say anything.
        extra = {"pretrain.epochs": 30}
        if cfg.encoder.name == "vgg_cae":  # the paper's widths take ~3x the time here and test nothing more
            extra["encoder.filters"] = "[8,16,32,64]"  # (tests/test_registry_contract.py checks the default net)
        cfg = make_config(name, sets=fast_sets(**extra))
    res = fit(cfg, tiny_digits)
    assert res.labels.shape == (200,)
    assert set(np.unique(res.labels)) <= set(range(10))
    assert res.confidence.min() > 0 and res.confidence.max() <= 1.0 + 1e-6
    assert res.centers.shape[0] == 10
    # Clearly better than chance on real digits, even after a few steps: chance is the ACC of
    # random labels on the same images (about 0.15 here).
    from deepclust.metrics import acc

    g = np.random.default_rng(0)
    chance = np.mean([acc(tiny_digits.labels, g.integers(0, 10, 200)) for _ in range(20)])
    assert res.metrics["acc"] > chance + 0.05, (res.metrics, chance)


def test_same_seed_same_result(tiny_digits, fast_sets):
    cfg = make_config("idec", sets=fast_sets())
    a, b = fit(cfg, tiny_digits), fit(cfg, tiny_digits)
    assert np.array_equal(a.labels, b.labels)


def test_facade_sklearn_conventions(tiny_digits):
    images = tiny_digits.images.numpy()[:, 0].astype(np.float32) / 255  # N×H×W floats in [0, 1]
    m = deepclust.DEC(n_clusters=5, pretrain__epochs=2, cluster__max_steps=10, method__n_init=2)
    with pytest.raises(UserError, match="not fitted"):
        m.predict(images)
    assert m.fit(images) is m
    assert m.labels_.shape == (200,)
    assert m.cluster_centers_.shape == (5, 10)
    assert m.transform(images).shape == (200, 10)
    assert np.array_equal(m.predict(images), m.labels_)
    assert m.get_params()["n_clusters"] == 5
    from sklearn.base import clone

    c = clone(m)  # scikit-learn's clone (GridSearchCV, Pipeline) rebuilds it from get_params
    assert type(c) is deepclust.DEC and c.get_params() == m.get_params() and not hasattr(c, "labels_")
    assert clone(deepclust.Clusterer("idec", n_clusters=3)).method_name == "idec"
    # the float scale is decided at fit: a darker batch of the same images is not stretched to [0, 255]
    km = deepclust.KMeans(n_clusters=3).fit(images * 255)  # floats in [0, 255]
    dark = np.minimum(images * 255, 1.0)  # nearly black in those units; read per batch it would be [0, 1]
    assert np.array_equal(km.transform(dark), km.transform(np.round(dark).astype(np.uint8)))
    assert np.array_equal(m.predict(images[..., None]), m.labels_)  # N×H×W×C, numpy's layout
    for bad, msg in [(images[:0], "0 images"), (images * np.nan, "NaN"), (images - 0.5, "negative"),
                     ("photos/", "numeric array"), (None, "numeric array"),
                     (images * 255, r"fitted on floats in \[0, 1\].*give them in \[0, 1\] too")]:
        with pytest.raises(UserError, match=msg):
            m.predict(bad)
    # 16-bit arrays by their full range, as the folder loader reads 16-bit files (they were clamped to 0/255);
    # other values above 255 have no known scale and are refused rather than flattened to white
    from deepclust.methods.estimator import as_imageset

    u8 = tiny_digits.images.numpy()
    assert np.array_equal(as_imageset(u8.astype(np.uint16) * 257).images.numpy(), u8)
    assert np.array_equal(as_imageset(u8.astype(np.int64)).images.numpy(), u8)
    assert np.array_equal(as_imageset(u8.astype(np.uint16)).images.numpy(), u8)  # 8-bit values in a uint16 array
    with pytest.raises(UserError, match="values up to 1020, above 255.*uint16"):
        as_imageset(u8.astype(np.int64) * 4)
    rgba = np.zeros((4, 8, 8, 4), np.uint8)
    with pytest.raises(UserError, match=r"read as RGBA.*X\[\.\.\., :3\]"):
        as_imageset(rgba)
    frozen = u8.copy()
    frozen.flags.writeable = False  # e.g. np.frombuffer: read without torch's warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(as_imageset(frozen).images.numpy(), u8)
    assert isinstance(UserError("x"), ValueError)  # scikit-learn's error type for bad data and parameters
    assert repr(deepclust.DEC(n_clusters=5, pretrain__epochs=2)) == "DEC(n_clusters=5, pretrain__epochs=2)"


def test_impossible_settings_fail_before_training(tiny_digits):
    with pytest.raises(UserError, match="at least 2"):
        fit(make_config("dec", sets=["method.n_clusters=1"]), tiny_digits)
    with pytest.raises(UserError, match="more than the 200 images"):
        fit(make_config("dec", sets=["method.n_clusters=500"]), tiny_digits)
    with pytest.raises(UserError, match="only 1 image to cluster: clustering needs at least 2"):  # not "use k=1"
        fit(make_config("dec", sets=["method.n_clusters=2"]), tiny_digits.subset([0]))
    with pytest.raises(UserError, match="kl_target needs p"):
        fit(make_config("dec", sets=["cluster.refreshers=[kmeans_init]"]), tiny_digits)
    with pytest.raises(UserError, match="unknown loss"):
        fit(make_config("dec", sets=["cluster.losses.nope=1"]), tiny_digits)


def test_nan_loss_stops_with_clear_message(tiny_digits, tmp_path, fast_sets):
    from deepclust.train.loop import TrainingDiverged
    from deepclust.train.rundir import RunDir

    cfg = make_config("ae-kmeans", sets=fast_sets(**{"pretrain.optim.lr": 1e30, "pretrain.optim.name": "sgd"}))
    with pytest.raises(TrainingDiverged, match="resume"):
        fit(cfg, tiny_digits, run=RunDir(tmp_path / "r"))


def test_tolerance_stops_clustering(tiny_digits, tmp_path, fast_sets):
    import json

    from deepclust.train.rundir import RunDir

    cfg = make_config("dec", sets=fast_sets(**{"cluster.max_steps": 400, "cluster.tol": 1.0}))
    run = RunDir(tmp_path / "r")
    fit(cfg, tiny_digits, run=run)
    recs = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert any("stopped" in r for r in recs)
    assert max(r["step"] for r in recs if r["stage"] == "cluster") < 400


def test_resume_continues_from_checkpoint(tiny_digits, tmp_path, fast_sets, dying_run):
    """A run killed mid-way resumes from its checkpoint and ends where an uninterrupted run ends."""
    from deepclust.train.rundir import RunDir

    # a target every 4 steps: one falls on the checkpoint's step
    cfg = make_config("idec", sets=fast_sets(**{"cluster.max_steps": 16, "cluster.tol": 0, "cluster.update_interval": 4}))
    full = fit(cfg, tiny_digits)

    run = dying_run(tmp_path / "r", step=8, stage="cluster")
    with pytest.raises(dying_run.Killed):
        fit(cfg, tiny_digits, run=run)
    ck = torch.load(run.checkpoint_path, weights_only=True)
    # Killed while logging step 8, before that step's checkpoint: the last good one is step 4.
    assert (ck["stage"], ck["step"]) == ("cluster", 4)
    assert ck["elapsed_s"] > 0
    t0 = time.perf_counter()
    import json

    # the log of the killed session goes on past the checkpoint (steps 5-7 and their refreshes)
    with open(run.path / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"stage": "cluster", "step": 6, "loss": 9.0}) + "\n" + '{"stage": "clu')
    resumed = fit(cfg, tiny_digits, run=RunDir(run.path), resume=True)
    assert np.array_equal(resumed.labels, full.labels)
    # ...and those lines are dropped on resuming: one line per step, no zig-zag in the curve
    recs = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    for stage in ("pretrain", "cluster"):
        steps = [r["step"] for r in recs if r.get("stage") == stage and "loss" in r]
        assert steps == sorted(set(steps)) and steps, (stage, steps)
    assert all(r.get("loss") != 9.0 for r in recs)
    # a refresh at the checkpoint's step runs again on resuming: its line, logged before, is not kept twice
    events = [(r["stage"], r["step"], r["event"]) for r in recs if "event" in r]
    assert ("cluster", 4, "target") in events and len(events) == len(set(events)), events
    # the wall time counts the killed session too (it once said "time 0.0 s" on resuming a finished run)
    assert resumed.wall_s >= ck["elapsed_s"] + 0.9 * (time.perf_counter() - t0) - 0.01


def test_resume_refuses_images_that_changed(tiny_digits, tmp_path, fast_sets, dying_run):
    """The checkpoint holds per-image state (DEC's target): resuming on added, removed or reordered images is
    refused with what changed, not a shape error deep in a refresher or, worse, state put on the wrong images."""
    from deepclust.train.rundir import RunDir

    cfg = make_config("dec", sets=fast_sets(**{"cluster.max_steps": 16, "cluster.tol": 0}))
    run = dying_run(tmp_path / "r", step=8, stage="cluster")
    with pytest.raises(dying_run.Killed):
        fit(cfg, tiny_digits, run=run)
    n = len(tiny_digits)
    with pytest.raises(UserError, match=f"images changed since the run .*{n} images then, {n - 3} now"):
        fit(cfg, tiny_digits.subset(range(n - 3)), run=RunDir(run.path), resume=True)
    swapped = tiny_digits.subset([1, 0, *range(2, n)])
    with pytest.raises(UserError, match="same number .* but other, renamed or reordered images"):
        fit(cfg, swapped, run=RunDir(run.path), resume=True)
    # the same names read as other pixels (a file replaced in place, a new decoder): resumed, with a warning
    from deepclust.data.imageset import ImageSet

    brighter = ImageSet(images=(tiny_digits.images // 2 * 2).contiguous(), labels=tiny_digits.labels,
                        names=tiny_digits.names, name=tiny_digits.name)
    said = []
    res = fit(cfg, brighter, run=RunDir(run.path), resume=True, echo=said.append)
    assert res.labels.shape == (n,) and any("read as other pixels" in m for m in said), said


def test_augmentation_settings_fail_before_training(tiny_digits):
    with pytest.raises(UserError, match="pretrain.losses.consistency needs.*views.*set pretrain.augment"):
        fit(make_config("idec", sets=["pretrain.losses.consistency=1", "pretrain.refreshers=[kmeans_refresh]"]),
            tiny_digits)
    with pytest.raises(UserError, match="unknown augmentation 'spin'"):
        fit(make_config("idec", sets=["pretrain.augment=spin"]), tiny_digits)
    with pytest.raises(UserError, match="cluster.augment is not set"):
        fit(make_config("idec", sets=["cluster.inputs=augmented"]), tiny_digits)
    with pytest.raises(UserError, match="head_init"):
        fit(make_config("idec", sets=["pretrain.losses.consistency=1", "pretrain.augment=rot"]), tiny_digits)


def test_heritage_recipe_by_configuration(fast_sets, tmp_path):
    """CAE pretrained on original + augmented images with MSE + CCL, then DEC-DA-style clustering
    (target from clean images, predictions on augmented ones) — configuration only."""
    import json

    from deepclust.data import load_dataset
    from deepclust.train.rundir import RunDir

    data = load_dataset("digits", limit=200, image_size=16)
    sets = fast_sets(**{"pretrain.augment": "heritage", "pretrain.inputs": "both",
                        "pretrain.losses.consistency": 1.0, "pretrain.refreshers": "[kmeans_refresh]",
                        "pretrain.update_interval": 10, "cluster.augment": "dec-da", "cluster.inputs": "augmented",
                        "cluster.tol": 0})
    cfg = make_config("dcec", sets=sets)
    run = RunDir(tmp_path / "r")
    res = fit(cfg, data, run=run)
    recs = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    pre = [r for r in recs if r["stage"] == "pretrain" and "losses" in r]
    assert pre and set(pre[-1]["losses"]) == {"recon", "consistency"} and pre[-1]["losses"]["consistency"] > 0
    assert any(r.get("event") == "kmeans_refresh" for r in recs)
    assert res.labels.shape == (200,)
    again = fit(cfg, data)  # augmentation is seeded: the same run gives the same labels
    assert np.array_equal(again.labels, res.labels)


def test_precision_choice(monkeypatch):
    from deepclust.train import device as d

    cpu = torch.device("cpu")
    assert d.resolve_precision("fp32", cpu) == "fp32"
    assert d.resolve_precision("bf16", cpu) == "bf16"
    monkeypatch.setattr(d, "cpu_has_native_bf16", lambda: False)
    assert d.resolve_precision("auto", cpu) == "fp32"
    monkeypatch.setattr(d, "cpu_has_native_bf16", lambda: True)
    assert d.resolve_precision("auto", cpu) == "bf16"
    assert d.resolve_precision("auto", torch.device("cuda")) == "bf16"
    with pytest.raises(UserError, match="train.precision"):
        d.resolve_precision("fp16", cpu)
    lin = torch.nn.Linear(3, 3)
    with d.autocast(cpu, "bf16"):
        assert lin(torch.rand(2, 3)).dtype == torch.bfloat16
    with d.autocast(cpu, "fp32"):
        assert lin(torch.rand(2, 3)).dtype == torch.float32


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_precision_trains_and_is_recorded(precision, tiny_digits, fast_sets):
    res = fit(make_config("idec", sets=fast_sets() + [f"train.precision={precision}", "train.device=cpu"]),
              tiny_digits)
    assert res.device.endswith(f"{precision})")
    assert res.metrics["acc"] > 0.3
    with pytest.raises(UserError, match="train.precision"):
        fit(make_config("idec", sets=fast_sets() + ["train.precision=half"]), tiny_digits)


def test_memory_format_choice():
    from deepclust.train import device as d

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert d.resolve_channels_last("auto", cpu, (1, 28, 28), "conv_ae")
    assert d.resolve_channels_last("auto", cuda, (3, 64, 64), "deepcluster_cnn")
    assert not d.resolve_channels_last("auto", cpu, (1, 28, 28), "mlp")  # flattens first: layout does not apply
    assert not d.resolve_channels_last("channels_last", cpu, (1, 28, 28), "identity")
    assert not d.resolve_channels_last("contiguous", cpu, (1, 28, 28), "conv_ae")
    with pytest.raises(UserError, match="train.memory_format"):
        d.resolve_channels_last("nhwc", cpu, (1, 28, 28), "conv_ae")


@pytest.mark.parametrize("encoder", ["conv_ae", "vgg_cae"])
def test_channels_last_network_gives_the_same_outputs_in_nhwc(encoder):
    """use_channels_last changes the layout, not the function: the same weights give the same embedding and
    reconstruction, the decoder (maps reshaped from a dense layer) ends NHWC too, and embed() hands the encoder
    NHWC batches."""
    from deepclust.methods.pipeline import build_model

    method, filters = ("dcec", "[8,16,32]") if encoder == "conv_ae" else ("heritage-cae", "[8,8,16,16]")
    cfg = make_config(method, sets=[f"encoder.filters={filters}"])
    torch.manual_seed(0)
    ref = build_model(cfg, (3, 32, 32), 100).eval()
    nhwc = build_model(cfg, (3, 32, 32), 100).eval()
    nhwc.load_state_dict(ref.state_dict())
    nhwc.use_channels_last()
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in nhwc.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)))
    x = torch.rand(4, 3, 32, 32)
    a, b = ref(x), nhwc(nhwc.layout(x))
    assert nhwc.layout(x).is_contiguous(memory_format=torch.channels_last) and not ref.layout(x).is_contiguous(
        memory_format=torch.channels_last)
    assert b.recon.is_contiguous(memory_format=torch.channels_last)
    assert not a.recon.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(b.z, a.z, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(b.recon, a.recon, rtol=1e-4, atol=1e-5)
    for net, out in ((ref, a), (nhwc, b)):  # and the same gradients, which is what training sees
        ((out.recon - x).square().mean() + out.z.square().mean()).backward()
    for (name, p), q in zip(ref.named_parameters(), nhwc.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-3, atol=1e-6, msg=name)
    seen = []
    encode = nhwc.ae.encode
    nhwc.ae.encode = lambda t: (seen.append(t.is_contiguous(memory_format=torch.channels_last)), encode(t))[1]
    images = (torch.rand(6, 3, 32, 32) * 255).to(torch.uint8)
    torch.testing.assert_close(nhwc.embed(images), ref.embed(images), rtol=1e-4, atol=1e-5)
    assert seen == [True]


def test_memory_format_trains_alike_and_a_bad_name_fails_first(fast_sets, tmp_path, dying_run):
    """Both layouts pretrain to the same embedding and clusters from the same start, and the result names the
    layout; with a consistency term and augmented clustering, every batch and view the network saw was NHWC; a
    run killed in one layout resumes in the other with the optimiser's moments in the weights' layout; an
    unknown layout fails before a run."""
    from sklearn.metrics import adjusted_rand_score

    from deepclust.data import load_dataset
    from deepclust.train.rundir import RunDir

    data = load_dataset("digits", limit=120, image_size=16)
    # 30 pretraining steps, then k-means on the embedding (a clustering step on 120 tiny images would pull the
    # small embedding together, in either layout)
    plain = fast_sets(**{"pretrain.epochs": 15, "train.precision": "fp32", "cluster.max_steps": 0})
    a = fit(make_config("dcec", sets=plain + ["train.memory_format=contiguous"]), data)
    b = fit(make_config("dcec", sets=plain + ["train.memory_format=channels_last"]), data)
    assert b.model.channels_last and not a.model.channels_last
    assert "channels-last, fp32)" in b.device and "channels-last" not in a.device
    torch.testing.assert_close(torch.from_numpy(b.embedding), torch.from_numpy(a.embedding), rtol=1e-3, atol=1e-4)
    assert len(set(a.labels)) >= 5 and adjusted_rand_score(a.labels, b.labels) > 0.99

    sets = fast_sets(**{"pretrain.epochs": 2, "train.precision": "fp32", "pretrain.augment": "heritage",
                        "pretrain.inputs": "both", "pretrain.losses.consistency": 1.0,
                        "pretrain.refreshers": "[kmeans_refresh]", "pretrain.update_interval": 2,
                        "cluster.augment": "dec-da", "cluster.inputs": "augmented", "cluster.tol": 0})
    layouts = []
    from deepclust.methods import pipeline

    build = pipeline.build_model

    def spying_build(*args, **kw):
        model = build(*args, **kw)
        first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        first.register_forward_pre_hook(
            lambda mod, inp: layouts.append(inp[0].is_contiguous(memory_format=torch.channels_last)))
        return model

    import dataclasses

    colour = dataclasses.replace(data, images=data.images.repeat(1, 3, 1, 1).contiguous())  # 1 channel: NCHW is NHWC
    pipeline.build_model = spying_build
    try:
        fit(make_config("dcec", sets=sets), colour)  # auto: channels-last on the CPU
    finally:
        pipeline.build_model = build
    assert len(layouts) > 10 and all(layouts)  # training batches, their augmented views, every embed() chunk

    # A run killed in the contiguous layout, resumed channels-last: Adam's moments follow the weights.
    from deepclust.train import loop

    short = sets + ["train.checkpoint_every=2", "train.log_every=2", "cluster.max_steps=8"]
    run = dying_run(tmp_path / "r", step=6, stage="cluster")
    with pytest.raises(dying_run.Killed):
        fit(make_config("dcec", sets=short + ["train.memory_format=contiguous"]), data, run=run)
    checks = []
    load = loop.load_optimizer_state

    def spying_load(opt, state):
        pairs = lambda: [(p, v) for g in opt.param_groups for p in g["params"]  # noqa: E731
                         for v in opt.state.get(p, {}).values() if torch.is_tensor(v) and v.shape == p.shape]
        opt.load_state_dict(state)
        checks.append(("saved NCHW", any(v.stride() != p.stride() for p, v in pairs())))
        load(opt, state)
        checks.append(("moments NHWC", all(v.stride() == p.stride() for p, v in pairs())))

    loop.load_optimizer_state = spying_load
    try:
        res = fit(make_config("dcec", sets=short + ["train.memory_format=channels_last"]), data,
                  run=RunDir(run.path), resume=True)
    finally:
        loop.load_optimizer_state = load
    assert checks == [("saved NCHW", True), ("moments NHWC", True)] and res.model.channels_last
    with pytest.raises(UserError, match="train.memory_format"):
        fit(make_config("dcec", sets=sets + ["train.memory_format=nhwc"]), data)


def test_compiled_training_matches_eager(tiny_digits, fast_sets):
    """train.compile wraps the network in place: same parameters, same state_dict keys (checkpoints,
    model files and predict stay interchangeable), and training reaches the same loss."""
    sets = fast_sets(**{"pretrain.epochs": 2, "train.precision": "fp32"})
    eager = fit(make_config("ae-kmeans", sets=sets), tiny_digits)
    compiled = fit(make_config("ae-kmeans", sets=sets + ["train.compile=default"]), tiny_digits)
    a, b = eager.model.state_dict(), compiled.model.state_dict()
    assert list(a) == list(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-3, atol=1e-4)
    with pytest.raises(UserError, match="train.compile must be one of"):
        fit(make_config("ae-kmeans", sets=sets + ["train.compile=fast"]), tiny_digits)


def test_a_collapsed_clustering_is_flagged_in_result_and_report(tiny_digits, fast_sets, tmp_path):
    import dataclasses
    import json

    from deepclust.methods.pipeline import write_outputs
    from deepclust.report import write_report
    from deepclust.train.rundir import RunDir

    cfg = make_config("ae-kmeans", sets=fast_sets(**{"pretrain.epochs": 1}))
    res = fit(cfg, tiny_digits)
    run = RunDir(tmp_path / "ok")
    assert "warning" not in write_outputs(run, cfg, tiny_digits, res)
    collapsed = dataclasses.replace(res, labels=np.zeros_like(res.labels))
    run = RunDir(tmp_path / "collapsed")
    result = write_outputs(run, cfg, tiny_digits, collapsed)
    assert "only 1 of the 10 clusters" in result["warning"]
    assert json.loads((run.path / "result.json").read_text())["warning"] == result["warning"]
    assert "only 1 of the 10 clusters" in write_report(run.path).read_text()


def test_a_fresh_start_in_a_used_run_folder_writes_a_log_of_its_own(tiny_digits, tmp_path, fast_sets):
    """A bench cell started afresh in the folder of an earlier attempt (its settings changed) once appended
    to that attempt's metrics.jsonl, so two runs' lines read as one curve."""
    import json

    from deepclust.train.rundir import RunDir

    cfg = make_config("dec", sets=fast_sets())
    run = RunDir(tmp_path / "r")
    fit(cfg, tiny_digits, run=run)
    fit(cfg, tiny_digits, run=run)
    recs = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert sum(r.get("event") == "kmeans_init" for r in recs) == 1
