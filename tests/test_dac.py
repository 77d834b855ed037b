"""DAC / ST-DAC parts: the pairwise loss against its formula, the spatial transformer's geometry,
the threshold schedule, the collapse warning, bad settings, and the report pictures."""
import math

import numpy as np
import pytest
import torch

from deepclust.config import EncoderConfig
from deepclust.errors import UserError
from deepclust.methods import fit, make_config
from deepclust.nets import build_autoencoder
from deepclust.nets.model import Output
from deepclust.nets.stn import SpatialTransformer
from deepclust.objectives import Batch, ClusterState
from deepclust.objectives.pairwise import PairwiseLoss
from deepclust.refresh.pairs import dac_thresholds


def _unit(v):
    return [a / math.sqrt(sum(b * b for b in v)) for a in v]


def _hand_pairwise(z, lower, upper, label_z=None):
    f = [_unit(v) for v in z]
    lf = [_unit(v) for v in (label_z or z)]  # the features the pairs are labelled from
    total, count = 0.0, 0
    for i in range(len(f)):
        for j in range(len(f)):
            if i == j:
                continue
            g = sum(a * b for a, b in zip(f[i], f[j]))
            lab = sum(a * b for a, b in zip(lf[i], lf[j]))
            if lab >= upper:
                total += -math.log(g)
            elif lab < lower:
                total += -math.log(1 - g)
            else:
                continue
            count += 1
    return total / count


@pytest.mark.parametrize("lower,upper", [(0.3, 0.9), (0.6, 0.6), (0.0, 0.95)])
def test_pairwise_loss_matches_formula(lower, upper):
    z = [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.2, 0.5, 0.3], [0.05, 0.05, 0.9]]
    out = Output(z=torch.tensor(z))
    state = ClusterState(thresholds=torch.tensor([lower, upper]))
    got = PairwiseLoss()(out, Batch(x=torch.zeros(5, 1, 2, 2), idx=torch.arange(5)), state)
    assert got.item() == pytest.approx(_hand_pairwise(z, lower, upper), rel=1e-5)


def test_reference_style_losses_match_their_formulas():
    """pairwise_views: pairs labelled from the clean features, BCE on the view's; self_label: element-wise
    BCE of the view's softmax against the clean features at unit length."""
    from deepclust.objectives.pairwise import PairwiseViewsLoss, SelfLabelLoss

    clean = [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.2, 0.5, 0.3]]
    view = [[0.5, 0.4, 0.1], [0.2, 0.7, 0.1], [0.3, 0.1, 0.6], [0.2, 0.3, 0.5]]
    out = Output(z=torch.tensor(clean))
    out.views = [Output(z=torch.tensor(view))]
    batch = Batch(x=torch.zeros(4, 1, 2, 2), idx=torch.arange(4))
    state = ClusterState(thresholds=torch.tensor([0.6, 0.9]))
    got = PairwiseViewsLoss()(out, batch, state).item()
    assert got == pytest.approx(_hand_pairwise(view, 0.6, 0.9, label_z=clean), rel=1e-5)
    assert got != pytest.approx(_hand_pairwise(view, 0.6, 0.9), rel=1e-3)  # not labelled from the view
    hand = 0.0
    for c, y in zip(clean, view):
        for t, p in zip(_unit(c), y):
            hand += -(t * math.log(p) + (1 - t) * math.log(1 - p))
    assert SelfLabelLoss()(out, batch, state).item() == pytest.approx(hand / 12, rel=1e-5)


def test_pair_similarity_stays_fp32_under_bf16_autocast():
    from deepclust.objectives.pairwise import pair_similarity

    z = torch.tensor([[0.70, 0.20, 0.10], [0.69, 0.21, 0.10], [0.1, 0.1, 0.8]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = pair_similarity(z)
    assert g.dtype == torch.float32
    assert 0.999 < g[0, 1].item() < 1.0  # bf16 would round this pair to exactly 1.0


def test_pairwise_loss_pulls_similar_pairs_together():
    z = torch.tensor([[2.0, 1.0, 0.0], [1.8, 1.2, 0.1]], requires_grad=True)
    state = ClusterState(thresholds=torch.tensor([0.1, 0.5]))  # the pair is "similar"
    loss = PairwiseLoss()(Output(z=z), Batch(x=torch.zeros(2, 1, 2, 2), idx=torch.arange(2)), state)
    loss.backward()
    step = z - 0.1 * z.grad
    from deepclust.objectives.pairwise import pair_similarity

    assert pair_similarity(step)[0, 1] > pair_similarity(z.detach())[0, 1]


def test_thresholds_schedule():
    assert dac_thresholds(0.9, 0.99, 0.0, "dac*") == (0.99, 0.99)
    lo, up = dac_thresholds(0.9, 0.99, 1.0, "dac*")
    assert lo == up == pytest.approx(0.9)
    lo, up = dac_thresholds(0.455, 0.95, 0.0, "dac")
    assert (lo, up) == (0.455, 0.95)
    lo, up = dac_thresholds(0.455, 0.95, 0.5, "dac")
    assert lo < up and up == pytest.approx(0.95 - 0.225)  # λ = 0.5 · 0.495 / 1.1
    lo, up = dac_thresholds(0.455, 0.95, 1.0, "dac")
    assert lo == pytest.approx(up)  # they meet at the end of the stage


def test_st_layer_starts_as_identity():
    torch.manual_seed(0)
    st = SpatialTransformer(1, (28, 28))
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(st(x), x, atol=1e-5)
    fmap = torch.rand(2, 128, 7, 7)
    assert torch.allclose(SpatialTransformer(128, (7, 7))(fmap), fmap, atol=1e-5)


def test_keras_init_zeroes_biases_and_keeps_the_st_layer_at_identity():
    """encoder.init=keras: glorot-uniform weights (bound sqrt(6 / (fan_in + fan_out))), zero biases, and a
    spatial transformer inside the network still starts as the identity."""
    torch.manual_seed(0)
    net = build_autoencoder(EncoderConfig(name="stdac_cnn", st_layers=3, embed_dim=10, init="keras"), (1, 28, 28))
    sts = [m for m in net.modules() if isinstance(m, SpatialTransformer)]
    inside_st = {id(n) for st in sts for n in st.modules()}
    convs = [m for m in net.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and id(m) not in inside_st]
    assert convs
    for m in convs:
        fan_in = m.weight[0].numel()
        fan_out = m.weight.shape[0] * m.weight[0, 0].numel()
        assert float(m.weight.detach().abs().max()) <= math.sqrt(6 / (fan_in + fan_out)) + 1e-6
        assert m.bias is None or not m.bias.any()
    assert len(sts) == 3 and all(not st.theta.weight.any() and not st.theta.bias.any() for st in sts)
    x = torch.rand(2, 1, 28, 28)
    assert torch.allclose(sts[0](x), x, atol=1e-5)
    ae = build_autoencoder(EncoderConfig(name="conv_ae", init="keras"), (1, 28, 28))
    assert not ae.embed.bias.any() and not ae.deconvs[-1].bias.any()
    with pytest.raises(UserError, match="encoder.init"):
        build_autoencoder(EncoderConfig(name="conv_ae", init="he"), (1, 28, 28))


def test_st_layer_rotation_moves_a_known_pixel():
    """θ maps output coordinates to input ones (x right, y down, in [-1, 1]). With θ = R(30°) the
    output pixel at p shows the input at R p, so a dot at input point q appears at R⁻¹ q."""
    n = 41
    st = SpatialTransformer(1, (n, n))
    a = math.radians(30)
    rot = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]])
    with torch.no_grad():
        st.theta.bias.copy_(torch.atanh(rot - st.identity).flatten())
    x = torch.zeros(1, 1, n, n)
    col, row = 30, 20  # q = (x, y) in pixels
    x[0, 0, row - 1:row + 2, col - 1:col + 2] = 1.0  # a 3×3 dot
    y = st(x)[0, 0]
    to_norm = lambda p: (2 * p + 1) / n - 1  # noqa: E731  (pixel centre -> align_corners=False coords)
    q = torch.tensor([to_norm(col), to_norm(row)])
    p = torch.linalg.solve(rot[:, :2], q)
    expect_col, expect_row = ((p + 1) * n - 1) / 2
    r, c = divmod(int(y.argmax()), n)
    assert abs(c - expect_col.item()) <= 1 and abs(r - expect_row.item()) <= 1
    assert (r, c) != (row, col)


@pytest.mark.parametrize("st_layers", [0, 1, 2, 3])
def test_stdac_cnn_shapes_and_labels(st_layers):
    net = build_autoencoder(EncoderConfig(name="stdac_cnn", st_layers=st_layers, embed_dim=10), (1, 28, 28))
    assert len(net.st_layers_list()) == st_layers
    z = net.encode(torch.rand(4, 1, 28, 28))
    assert z.shape == (4, 10) and torch.allclose(z.sum(1), torch.ones(4), atol=1e-5)


def test_bad_dac_settings_fail_before_training(tiny_digits):
    from deepclust.data import load_dataset

    data = load_dataset("digits", limit=40, image_size=28)
    with pytest.raises(UserError, match="st_layers"):
        fit(make_config("stdac", sets=["encoder.st_layers=4", "train.progress=false"]), data)
    with pytest.raises(UserError, match="lower < upper"):
        fit(make_config("stdac", sets=["method.thresholds=[0.99, 0.9]"]), data)
    with pytest.raises(UserError, match="lower < upper"):
        fit(make_config("stdac", sets=["method.thresholds=[0.5, 1.5]"]), data)
    with pytest.raises(UserError, match="selection"):
        fit(make_config("stdac", sets=["method.selection=greedy"]), data)
    with pytest.raises(UserError, match="localisation network"):
        # 16 px: block 3's output is 2×2, too small for a third ST layer
        fit(make_config("stdac", sets=["encoder.st_layers=3"]), load_dataset("digits", limit=40, image_size=16))
    with pytest.raises(UserError, match="dac_thresholds"):
        fit(make_config("stdac", sets=["cluster.refreshers=[st_monitor]"]), data)


def test_collapse_is_reported(tmp_path, capsys):
    from deepclust.data import load_dataset
    from deepclust.train.rundir import RunDir

    data = load_dataset("digits", limit=32, image_size=28)
    cfg = make_config("stdac", sets=["encoder.st_layers=1", "cluster.max_steps=4", "cluster.batch_size=16", "cluster.update_interval=2",
                                     "train.progress=false", "cluster.optim.lr=0.0"])
    torch.manual_seed(0)
    run = RunDir(tmp_path / "run")

    # Force the first ST layer to sample a vanishing window: θ = 0.01 I.
    import deepclust.nets.stn as stn

    orig = stn.SpatialTransformer.__init__

    def squeezed(self, *a, **k):
        orig(self, *a, **k)
        with torch.no_grad():
            self.theta.bias.copy_(torch.atanh(torch.tensor([-0.99, 0, 0, 0, -0.99, 0])))

    stn.SpatialTransformer.__init__ = squeezed
    try:
        fit(cfg, data, run=run)
    finally:
        stn.SpatialTransformer.__init__ = orig
    rows = [r for r in map(__import__("json").loads, (run.path / "metrics.jsonl").read_text().splitlines())]
    warned = [r for r in rows if r.get("warning")]
    assert warned and "collapsed" in warned[0]["warning"]
    assert "collapsed" in capsys.readouterr().err


@pytest.mark.parametrize("method,size", [("stdac", 16), ("dac-star", 20), ("dac", 20)])
def test_dac_methods_fit_and_write_pictures(method, size, tmp_path):
    from deepclust.data import load_dataset
    from deepclust.methods.pipeline import write_outputs
    from deepclust.report import write_report
    from deepclust.train.rundir import RunDir

    data = load_dataset("digits", limit=100, image_size=size)
    cfg = make_config(method, sets=["cluster.max_steps=10", "cluster.batch_size=32", "cluster.update_interval=5",
                                    "train.progress=false", "cluster.optim.lr=0.001"])
    run = RunDir(tmp_path / method)
    res = fit(cfg, data, run=run)
    assert res.labels.shape == (100,) and res.centers.shape == (10, 10)
    assert np.array_equal(res.labels, res.embedding.argmax(1))  # cluster = argmax of the label features
    assert np.allclose(res.confidence, res.embedding.max(1))  # confidence = the softmax probability
    write_outputs(run, cfg, data, res)
    html = write_report(run.path).read_text()
    if method == "stdac":
        with np.load(run.path / "st.npz") as z:
            assert z["original"].shape == (16, 1, size, size) and z["final"].shape == z["original"].shape
            assert z["mean"].shape == (2, 10, 1, size, size)
            assert "early" in z.files  # kept by st_monitor after a tenth of the stage
        assert 'id="st"' in html
    else:
        assert not (run.path / "st.npz").exists()
    rows = [__import__("json").loads(r) for r in (run.path / "metrics.jsonl").read_text().splitlines()]
    th = [r for r in rows if r.get("event") == "thresholds"]
    assert len(th) == 2 and th[0]["upper"] > th[1]["upper"] and "acc" in th[0]


def test_stdac_table_cells_and_learning_curves(tmp_path):
    import json
    import shutil

    from deepclust.bench import curves
    from deepclust.bench.tables import get_table

    t = get_table("stdac-table2")
    over = t.cell_overrides("ST-DAC + 3 ST", "fashion-mnist", "quick")
    assert over["encoder"]["st_layers"] == 3 and over["method"]["thresholds"] == [0.8, 0.99]
    assert "method" not in t.cell_overrides("ST-DAC + 3 ST", "mnist", "quick")  # MNIST keeps [0.9, 0.99]
    cfg = make_config(t.row_method("DAC*"), overrides=t.cell_overrides("DAC*", "mnist", "quick"))
    assert cfg.encoder.name == "dac_cnn" and cfg.cluster.max_steps == 500
    # curves: gathered from each cell's run folder, ending with the cell's final ACC
    folder = tmp_path / "stdac-table2" / "quick"
    folder.mkdir(parents=True)
    for row, seed, accs in (("ST-DAC + 1 ST", 0, [0.1, 0.4]), ("ST-DAC + 1 ST", 1, [0.2, 0.5]), ("DAC*", 0, [0.1, 0.3])):
        run = tmp_path / "runs" / f"{row}{seed}"
        run.mkdir(parents=True)
        lines = [{"stage": "cluster", "step": 0, "epoch": 0.0, "event": "thresholds", "acc": accs[0]},
                 {"stage": "cluster", "step": 50, "epoch": 0.5, "loss": 1.0},
                 {"stage": "cluster", "step": 100, "epoch": 1.0, "loss": 0.5}]
        if "ST" in row:
            lines += [{"stage": "cluster", "step": 50, "epoch": 0.5, "event": "st_monitor", "st1": {"det_mean": 0.5}},
                      {"stage": "cluster", "step": 100, "epoch": 1.0, "event": "st_monitor", "st1": {"det_mean": 0.01},
                       "warning": "ST layer 1 collapsed"}]
        (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
        cell = {"row": row, "dataset": "MNIST", "seed": seed, "acc": accs[1], "run_dir": str(run)}
        (folder / f"{row.replace(' ', '')}__mnist__s{seed}.json").write_text(json.dumps(cell))
    paths = curves.write("stdac-table2", "quick", results=tmp_path)
    data = json.loads(paths[0].read_text())
    assert data["MNIST"]["ST-DAC + 1 ST"]["1"] == [[0.0, 0.2], [1.0, 0.5]]
    # the last st_monitor record of each ST run, and its warning count, are kept with the curves
    end = data["st_end"]["MNIST"]["ST-DAC + 1 ST"]["0"]
    assert end["warnings"] == 1 and end["st1"] == {"det_mean": 0.01} and "DAC*" not in data["st_end"]["MNIST"]
    assert paths[1].stat().st_size > 1000  # the PNG
    # a cell whose run folder is gone (run on another machine) keeps the curve curves.json has for it
    shutil.rmtree(tmp_path / "runs" / "ST-DAC + 1 ST1")
    again = json.loads(curves.write("stdac-table2", "quick", results=tmp_path)[0].read_text())
    assert again["MNIST"]["ST-DAC + 1 ST"] == data["MNIST"]["ST-DAC + 1 ST"] and again["st_end"] == data["st_end"]
    # a variant's cells get their own curves: deepclust bench curves TABLE --variant NAME
    from deepclust.cli import main

    shutil.copytree(folder, tmp_path / "stdac-table2" / "quick+1-epoch", ignore=shutil.ignore_patterns("curves.*"))
    assert main(["bench", "curves", "stdac-table2", "--variant", "1-epoch", "--results", str(tmp_path)]) == 0
    assert (tmp_path / "stdac-table2" / "quick+1-epoch" / "curves.png").is_file()


def test_the_label_pass_runs_without_a_graph_and_trains_the_same(monkeypatch):
    """pairwise_views and self_label read the pass on x only as detached targets: the loop skips its
    autograd graph, which must not change what is learned."""
    from deepclust.data import load_dataset
    from deepclust.objectives.pairwise import PairwiseViewsLoss, SelfLabelLoss

    data = load_dataset("digits", limit=64, image_size=16)
    cfg = make_config("stdac", sets=["encoder.st_layers=1", "cluster.max_steps=6", "cluster.batch_size=32",
                                     "cluster.update_interval=3", "train.progress=false", "cluster.optim.lr=0.001"])
    grad_modes = []
    real_forward = torch.nn.Module.__call__

    def spy(self, *a, **kw):
        if self.__class__.__name__ == "ClusterNet":
            grad_modes.append(torch.is_grad_enabled())
        return real_forward(self, *a, **kw)

    monkeypatch.setattr(torch.nn.Module, "__call__", spy)
    lean = fit(cfg, data)
    assert grad_modes[:2] == [False, True]  # the label pass, then the view trained through
    monkeypatch.setattr(PairwiseViewsLoss, "grads_through_inputs", True)
    monkeypatch.setattr(SelfLabelLoss, "grads_through_inputs", True)
    grad_modes.clear()
    full = fit(cfg, data)
    assert grad_modes[:2] == [True, True]
    assert np.array_equal(lean.labels, full.labels) and np.allclose(lean.embedding, full.embedding, atol=1e-6)
