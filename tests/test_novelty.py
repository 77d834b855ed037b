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
    f = novelty.features(conv, x)["model"]
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
    assert torch.allclose(novelty.features(pix, x)["model"], x.float().flatten(1) / 255)  # 8×8: below 16 px, as is
    big = torch.randint(0, 256, (3, 3, 40, 40), dtype=torch.uint8)
    assert novelty.features(_net("identity", (3, 40, 40)), big)["model"].shape == (3, 3 * 16 * 16)


def test_image_statistics_by_hand():
    """Per channel and scale: mean and std of the image, mean |response| and std of Sobel x, Sobel y and a
    Laplacian (replicated border); 40 px gives three scales (40, 20, 10), 8 px two (8, 4)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 40, 40, generator=g)
    f = novelty.image_statistics(x)
    assert f.shape == (2, 8 * 3 * 3)
    assert novelty.image_statistics(x[:, :1, :8, :8]).shape == (2, 8 * 2)
    assert torch.allclose(f[:, :3], x.mean((2, 3))) and torch.allclose(f[:, 3:6], x.std((2, 3), correction=0))
    # Sobel x of channel 1 at full scale, by a loop over the 3×3 neighbourhood
    p = torch.nn.functional.pad(x[:, 1:2], (1, 1, 1, 1), mode="replicate")[:, 0]
    kx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    r = sum(kx[i][j] * p[:, i:i + 40, j:j + 40] for i in range(3) for j in range(3)) / 8
    assert torch.allclose(f[:, 6 + 3 * 1 + 0], r.abs().mean((1, 2)), atol=1e-6)  # |resp| means: channel-major
    assert torch.allclose(f[:, 15 + 3 * 1 + 0], r.std((1, 2), correction=0), atol=1e-6)
    # second scale: the same statistics of the image halved by 2×2 averaging
    half = torch.nn.functional.avg_pool2d(x, 2)
    assert torch.allclose(f[:, 24:27], half.mean((2, 3)), atol=1e-6)
    # flat images have no texture: every filter statistic is 0
    flat = novelty.image_statistics(torch.full((1, 1, 16, 16), 0.3))
    assert torch.allclose(flat[0, 2:8], torch.zeros(6), atol=1e-7)


def _knn_units(ref, q=None):
    """5th neighbour of each reference row among the others, or of each query row (scikit-learn)."""
    if q is None:
        return NearestNeighbors(n_neighbors=6).fit(ref).kneighbors(ref)[0][:, 5]  # column 0: itself
    return NearestNeighbors(n_neighbors=5).fit(ref).kneighbors(q)[0][:, 4]


def test_score_is_the_kth_neighbour_distance_and_the_threshold_its_99_percent_quantile(tiny_digits):
    net = _net("identity")
    tensors, summary = novelty.fit_reference(net, tiny_digits.images)
    ref = tensors["novelty.reference"].float().numpy()
    iref = tensors["novelty.image.reference"].float().numpy()
    assert ref.shape == (200, 64) and summary["n_reference"] == 200 and summary["k"] == 5
    # the standardisation, by hand
    f = tiny_digits.images.float().flatten(1).numpy() / 255
    mean, std = f.mean(0), f.std(0)
    lower_median = np.sort(std)[(len(std) - 1) // 2]  # torch.median: the lower middle value
    scale = np.maximum(std, max(lower_median * 0.1, 1e-6))
    assert np.allclose(ref, (f - mean) / scale, rtol=2e-3, atol=2e-3)  # stored as float16
    # each group's unit: the 99 % quantile of each reference image's 5th neighbour among the others
    own, iown = _knn_units(ref), _knn_units(iref)
    unit, iunit = np.quantile(own, 0.99), np.quantile(iown, 0.99)
    assert np.isclose(float(tensors["novelty.unit"][0]), unit, rtol=1e-4)
    assert np.isclose(float(tensors["novelty.image.unit"][0]), iunit, rtol=1e-4)
    # threshold: the 99 % quantile of the larger of the two, in those units
    assert np.isclose(summary["threshold"], np.quantile(np.maximum(own / unit, iown / iunit), 0.99), rtol=1e-4)
    assert np.isclose(float(tensors["novelty.threshold"][0]), summary["threshold"])
    # a new image's score: the larger of its 5th-neighbour distances in the two references, in units
    new = _noise(4)
    q = ((new.float().flatten(1).numpy() / 255) - mean) / scale
    fi = novelty.image_statistics(new.float() / 255).numpy()
    qi = (fi - tensors["novelty.image.mean"].numpy()) / tensors["novelty.image.scale"].numpy()
    want = np.maximum(_knn_units(ref, q) / unit, _knn_units(iref, qi) / iunit)
    assert np.allclose(novelty.score(net, new, tensors).numpy(), want, rtol=1e-4)


def test_a_reference_without_the_image_group_scores_as_before(tiny_digits):
    """Runs written before 2026-12-03 store the model group alone, with no unit: the raw distance."""
    net = _net("identity")
    tensors, _ = novelty.fit_reference(net, tiny_digits.images)
    old = {k: v for k, v in tensors.items() if not k.startswith("novelty.image.") and k != "novelty.unit"}
    new = _noise(4)
    q = ((new.float().flatten(1) / 255) - old["novelty.mean"]) / old["novelty.scale"]
    want = _knn_units(old["novelty.reference"].float().numpy(), q.numpy())
    assert np.allclose(novelty.score(net, new, old).numpy(), want, rtol=1e-4)


def test_reference_is_capped_and_seeded(tiny_digits):
    net = _net("conv_ae")
    a, sa = novelty.fit_reference(net, tiny_digits.images, seed=3, max_reference=50)
    b, _ = novelty.fit_reference(net, tiny_digits.images, seed=3, max_reference=50)
    assert sa["n_reference"] == 50 and all(torch.equal(a[k], b[k]) for k in a)
    assert a["novelty.image.reference"].shape[0] == 50


def test_new_images_like_the_training_ones_fit_and_noise_does_not():
    """Even an untrained convolutional encoder's layer statistics tell digits from noise; held-out
    digits (not in the reference, written by other people) mostly fit."""
    from deepclust.data import load_dataset

    digits = load_dataset("digits").images
    train, held = digits[:1000], digits[1000:]
    noise = _noise(30)
    flat = torch.full((10, 1, 8, 8), 128, dtype=torch.uint8)
    for name in ("conv_ae", "identity"):
        net = _net(name)
        tensors, summary = novelty.fit_reference(net, train)
        thr = summary["threshold"]
        assert (novelty.score(net, held, tensors) > thr).float().mean() < 0.12, name
        assert (novelty.score(net, noise, tensors) > thr).all(), name
        assert (novelty.score(net, flat, tensors) > thr).all(), name


def test_facade_scores_novelty(tiny_digits):
    images = tiny_digits.images.numpy()[:, 0]
    m = deepclust.DCEC(n_clusters=5, pretrain__epochs=2, cluster__max_steps=10, method__n_init=2).fit(images)
    assert (m.novelty_score(images) <= m.novelty_threshold_).mean() > 0.9
    assert (m.novelty_score(_noise(10).numpy()[:, 0]) > m.novelty_threshold_).all()
