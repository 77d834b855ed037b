"""predict's novelty check (deepclust.novelty): features, the k-th-neighbour score, the threshold."""
import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

import deepclust
from deepclust import novelty
from deepclust.config import EncoderConfig
from deepclust.nets.model import ClusterNet, build_autoencoder


def _net(name, shape=(1, 8, 8), **enc):
    torch.manual_seed(0)
    return ClusterNet(build_autoencoder(EncoderConfig(name=name, **enc), shape))


def _noise(n, shape=(1, 8, 8), seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)


def test_features_are_layer_statistics_or_pixels(tiny_digits):
    x = tiny_digits.images[:7]
    conv = _net("conv_ae")
    assert novelty.kind(conv) == "layer-statistics"
    f = novelty.features(conv, x)
    n_channels = sum(m.out_channels for m in conv.ae.modules()
                     if isinstance(m, torch.nn.Conv2d) and m in list(conv.ae.features.modules()))
    assert f.shape == (7, 2 * n_channels)  # a mean and a std per channel of every encoder convolution
    # the first convolution's channel means, by hand
    first = next(m for m in conv.ae.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        y = first(x.float() / 255)
    assert torch.allclose(f[:, :first.out_channels], y.mean((2, 3)), atol=1e-5)
    assert torch.allclose(f[:, first.out_channels:2 * first.out_channels], y.std((2, 3), correction=0), atol=1e-5)

    pix = _net("identity")
    assert novelty.kind(pix) == "pixels"
    assert torch.allclose(novelty.features(pix, x), x.float().flatten(1) / 255)  # 8×8: below 16 px, as is
    big = torch.randint(0, 256, (3, 3, 40, 40), dtype=torch.uint8)
    assert novelty.features(_net("identity", (3, 40, 40)), big).shape == (3, 3 * 16 * 16)


def test_score_is_the_kth_neighbour_distance_and_the_threshold_its_99_percent_quantile(tiny_digits):
    net = _net("identity")
    tensors, summary = novelty.fit_reference(net, tiny_digits.images)
    ref = tensors["novelty.reference"].float().numpy()
    assert ref.shape == (200, 64) and summary["n_reference"] == 200 and summary["k"] == 5
    # the standardisation, by hand
    f = tiny_digits.images.float().flatten(1).numpy() / 255
    mean, std = f.mean(0), f.std(0)
    lower_median = np.sort(std)[(len(std) - 1) // 2]  # torch.median: the lower middle value
    scale = np.maximum(std, max(lower_median * 0.1, 1e-6))
    assert np.allclose(ref, (f - mean) / scale, rtol=2e-3, atol=2e-3)  # stored as float16
    # threshold: 99 % quantile of each reference image's 5th neighbour among the others (scikit-learn)
    nn = NearestNeighbors(n_neighbors=6).fit(ref)
    own = nn.kneighbors(ref)[0][:, 5]  # column 0 is the image itself
    assert np.isclose(summary["threshold"], np.quantile(own, 0.99), rtol=1e-4)
    assert np.isclose(float(tensors["novelty.threshold"][0]), summary["threshold"])
    # a new image's score: its 5th neighbour in the reference
    new = _noise(4)
    q = ((new.float().flatten(1).numpy() / 255) - mean) / scale
    want = NearestNeighbors(n_neighbors=5).fit(ref).kneighbors(q)[0][:, 4]
    assert np.allclose(novelty.score(net, new, tensors).numpy(), want, rtol=1e-4)


def test_reference_is_capped_and_seeded(tiny_digits):
    net = _net("conv_ae")
    a, sa = novelty.fit_reference(net, tiny_digits.images, seed=3, max_reference=50)
    b, _ = novelty.fit_reference(net, tiny_digits.images, seed=3, max_reference=50)
    assert sa["n_reference"] == 50 and torch.equal(a["novelty.reference"], b["novelty.reference"])


def test_new_images_like_the_training_ones_fit_and_noise_does_not(tiny_digits):
    """Even an untrained convolutional encoder's layer statistics tell digits from noise; held-out
    digits (not in the reference) mostly fit."""
    from deepclust.data import load_dataset

    held = load_dataset("digits").images[1000:1400]
    noise = _noise(30)
    flat = torch.full((10, 1, 8, 8), 128, dtype=torch.uint8)
    for name in ("conv_ae", "identity"):
        net = _net(name)
        tensors, summary = novelty.fit_reference(net, tiny_digits.images)
        thr = summary["threshold"]
        assert (novelty.score(net, held, tensors) > thr).float().mean() < 0.15, name
        assert (novelty.score(net, noise, tensors) > thr).all(), name
        assert (novelty.score(net, flat, tensors) > thr).all(), name


def test_facade_scores_novelty(tiny_digits):
    images = tiny_digits.images.numpy()[:, 0]
    m = deepclust.DCEC(n_clusters=5, pretrain__epochs=2, cluster__max_steps=10, method__n_init=2).fit(images)
    assert (m.novelty_score(images) <= m.novelty_threshold_).mean() > 0.9
    assert (m.novelty_score(_noise(10).numpy()[:, 0]) > m.novelty_threshold_).all()
