"""One test walks every registered part: encoders, losses, refreshers, methods."""
import pytest
import torch

import deepclust  # noqa: F401  (fills the registries)
from deepclust.config import EncoderConfig, StageConfig
from deepclust.nets import ClusterNet, StudentTHead, build_autoencoder
from deepclust.objectives import Batch, ClusterState
from deepclust.refresh import Refresher, build_refresher
from deepclust.registry import ENCODERS, LOSSES, METHODS, REFRESHERS

SHAPES = [(1, 28, 28), (1, 16, 16), (3, 32, 32), (1, 8, 8), (3, 64, 64), (3, 96, 72)]


@pytest.mark.parametrize("name", ENCODERS.names())
@pytest.mark.parametrize("shape", SHAPES)
def test_encoder_contract(name, shape):
    torch.manual_seed(0)
    from deepclust.errors import UserError

    from deepclust.nets.conv_ae import POOLS

    for pool in (POOLS if name == "conv_ae" else ("flatten",)):
        try:
            ae = build_autoencoder(EncoderConfig(name=name, pool=pool, n_known=3), shape)  # n_known: DTC's classifier
        except UserError as e:  # an encoder may refuse images too small for it, with a clear message
            assert "too small" in str(e) and min(shape[1:]) < 20
            return
        x = torch.rand(4, *shape)
        z = ae.encode(x)
        assert z.shape == (4, ae.embed_dim)
        if name == "identity":
            continue
        if getattr(ae, "label_features", False):  # DAC: z is a soft assignment, there is no decoder
            assert torch.allclose(z.sum(1), torch.ones(4), atol=1e-5) and z.min() >= 0
            with pytest.raises(UserError, match="no decoder"):
                ae.decode(z)
            loss = z.max(1).values.log().mean()
        elif not getattr(ae, "has_decoder", True):  # DeepCluster, DTC: features for a classifier, no decoder
            with pytest.raises(UserError, match="no decoder"):
                ae.decode(z)
            loss = z.pow(2).mean()
            if hasattr(ae, "fit_cluster_space"):  # DeepCluster's whitened space
                ae.fit_cluster_space(z.detach())
                assert ae.cluster_space(z.detach()).shape == (4, ae.cluster_dim)
            if hasattr(ae, "encode_classify"):  # DTC: known-class scores from the same pass, a PCA layer
                z2, logits = ae.encode_classify(x)
                assert torch.allclose(z2, z) and logits.shape == (4, 3)
                loss = loss + logits.pow(2).mean()
        else:
            r = ae.decode(z)
            assert r.shape == x.shape
            loss = ((r - x) ** 2).mean()
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in ae.parameters())
        if hasattr(ae, "fit_projection"):  # DTC's PCA layer: set from features, then still the encoding's last layer
            with torch.no_grad():
                ae.fit_projection(ae.trunk(x))
                assert ae.encode(x).shape == (4, ae.embed_dim) and torch.isfinite(ae.encode(x)).all()
        # determinism with a seed
        torch.manual_seed(1)
        a = build_autoencoder(EncoderConfig(name=name, pool=pool), shape)
        torch.manual_seed(1)
        b = build_autoencoder(EncoderConfig(name=name, pool=pool), shape)
        assert torch.equal(a.encode(x), b.encode(x))


def test_gap_and_flatten_differ_on_28px():
    f = build_autoencoder(EncoderConfig(name="conv_ae", pool="flatten"), (1, 28, 28))
    g = build_autoencoder(EncoderConfig(name="conv_ae", pool="gap"), (1, 28, 28))
    assert f.embed.in_features == 128 * 3 * 3  # DCEC: 28 -> 14 -> 7 -> 3
    assert g.embed.in_features == 128  # GAP-DCEC: one value per feature map


def test_gap_eq3_readings_by_hand():
    """GAP-DCEC eq. 3, f(x) = relu[(x*W) + F^k]: `gap-add` and `flatten+gap` against the same sums by hand."""
    torch.manual_seed(0)
    x = torch.rand(3, 1, 28, 28)
    add = build_autoencoder(EncoderConfig(name="conv_ae", pool="gap-add"), (1, 28, 28))
    cat = build_autoencoder(EncoderConfig(name="conv_ae", pool="flatten+gap"), (1, 28, 28))
    assert add.embed.in_features == 128 * 3 * 3 and cat.embed.in_features == 128 * 3 * 3 + 128
    cat.features.load_state_dict(add.features.state_dict())
    a = add.features[:-1](x)  # the last conv's pre-activation, 3 x 128 x 3 x 3
    fk = torch.relu(a).mean(dim=(2, 3))  # F^k: one average per feature map (eq. 2)
    h = torch.relu(a + fk[:, :, None, None]).flatten(1)
    assert torch.allclose(add.encode(x), h @ add.embed.weight.T + add.embed.bias, atol=1e-5)
    hc = torch.cat([torch.relu(a).flatten(1), fk], dim=1)
    assert torch.allclose(cat.encode(x), hc @ cat.embed.weight.T + cat.embed.bias, atol=1e-5)
    flat = build_autoencoder(EncoderConfig(name="conv_ae", pool="flatten"), (1, 28, 28))
    flat.load_state_dict(add.state_dict())
    assert not torch.allclose(flat.encode(x), add.encode(x))  # adding F^k changes the embedding


@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_contract(name):
    torch.manual_seed(0)
    loss = LOSSES.get(name)()
    ae = build_autoencoder(EncoderConfig(name="mlp", hidden=(8,), embed_dim=3), (1, 4, 4))
    head = StudentTHead(3, 3)
    head.centroids.data = torch.randn(3, 3)
    net = ClusterNet(ae, head)
    x = torch.rand(6, 1, 4, 4)
    out = net(x)
    out.views = [net(torch.rand_like(x), reconstruct=False)]
    out.logits = torch.nn.Linear(3, 4)(out.z)  # a linear head's scores over 4 pseudo-classes
    out.class_logits = torch.nn.Linear(3, 5)(out.z)  # a classifier's scores over 5 known classes (DTC)
    state = ClusterState(p=torch.softmax(torch.randn(10, 3), 1), centroids=torch.randn(3, 3),
                         thresholds=torch.tensor([0.2, 0.8]), pseudo_labels=torch.randint(0, 4, (10,)),
                         class_labels=torch.randint(0, 5, (10,)), ensemble=torch.softmax(torch.randn(10, 3), 1))
    value = loss(out, Batch(x=x, idx=torch.arange(6)), state)
    assert value.dim() == 0 and torch.isfinite(value) and value >= 0
    value.backward()
    assert any(p.grad is not None for p in net.parameters())
    assert loss.needs <= {"recon", "q", "p", "centroids", "views", "thresholds", "logits", "pseudo_labels",
                          "class_logits", "class_labels", "ensemble"}


@pytest.mark.parametrize("name", REFRESHERS.names())
def test_refresher_contract(name):
    r = build_refresher(name, StageConfig(update_interval=7, tol=0.01))
    assert isinstance(r, Refresher)
    assert isinstance(r.provides, frozenset)
    assert build_refresher(r, StageConfig()) is r  # objects pass through


@pytest.mark.parametrize("name", METHODS.names())
def test_method_recipe_builds(name):
    from deepclust.methods import make_config

    cfg = make_config(name)
    assert cfg.method.name == name
    for stage in (cfg.pretrain, cfg.cluster):
        for loss in stage.losses:
            assert loss in LOSSES
        for r in stage.refreshers:
            assert r in REFRESHERS


def test_vgg_cae_takes_photos_and_grey_digits():
    for shape in [(3, 64, 64), (3, 96, 96), (1, 28, 28)]:
        ae = build_autoencoder(EncoderConfig(name="vgg_cae"), shape).eval()
        x = torch.rand(2, *shape)
        r = ae.decode(ae.encode(x))
        assert r.shape == x.shape and r.min() >= 0 and r.max() <= 1  # sigmoid output
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in ae.modules()) == 4
