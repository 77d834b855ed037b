"""Does a new image look like the images a model was trained on? (`predict`'s "fits" column.)

A trained clustering network maps almost anything, noise included, confidently into some cluster, so
the distance to the chosen centre says little about novelty (measured: benchmarks/results/
predict-outliers/). What separates new photos of the same kind from images unlike them is how the
network's layers respond:

- features: the mean and standard deviation over the image of every convolution's output in the
  encoder (layer statistics, as style and feature-statistics detectors use them); for an encoder without
  convolutions (the MLP autoencoder, k-means on pixels) the image itself, averaged down to at most
  16×16 pixels;
- each feature standardised by the training images' mean and spread;
- score: the distance to the k-th nearest training image in that space (k = 5), against a reference
  of at most `max_reference` training images;
- threshold: the 99 % quantile of the reference images' own scores (each left out of its own
  neighbours), so about 1 % of images like the training ones are flagged.

Everything is stored beside the model (tensors `novelty.*` in model.safetensors), so `predict` needs
nothing else.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

K_NEIGHBOUR = 5
QUANTILE = 0.99
MAX_REFERENCE = 4096
PIXEL_SIDE = 16


def kind(model: nn.Module) -> str:
    """'layer-statistics' when the encoder has convolutions, else 'pixels'."""
    return "layer-statistics" if any(isinstance(m, nn.Conv2d) for m in model.ae.modules()) else "pixels"


@torch.no_grad()
def features(model: nn.Module, images: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """N×D novelty features (float32, on the CPU) of uint8 images N×C×H×W."""
    ae = model.ae
    dev = next(iter(model.parameters()), images.new_empty(0)).device
    convs = [m for m in ae.modules() if isinstance(m, nn.Conv2d)]
    was = model.training
    model.eval()
    out = []
    try:
        for i in range(0, len(images), chunk):
            x = images[i:i + chunk].to(dev).float().div_(255.0)
            if not convs:
                side = (min(x.shape[2], PIXEL_SIDE), min(x.shape[3], PIXEL_SIDE))
                out.append(F.adaptive_avg_pool2d(x, side).flatten(1).cpu())
                continue
            stats: list[torch.Tensor] = []

            def hook(_m, _inp, y, stats=stats):
                y = y.float()
                stats += [y.mean((2, 3)), y.std((2, 3), correction=0)]

            handles = [m.register_forward_hook(hook) for m in convs]
            try:
                ae.encode(x)
            finally:
                for h in handles:
                    h.remove()
            out.append(torch.cat(stats, 1).cpu())
    finally:
        model.train(was)
    return torch.cat(out)


def _kth_distance(q: torch.Tensor, ref: torch.Tensor, k: int, leave_out_self: bool = False,
                  chunk: int = 1024) -> torch.Tensor:
    k = min(k, len(ref) - 1 if leave_out_self else len(ref))
    res = []
    for i in range(0, len(q), chunk):
        d = torch.cdist(q[i:i + chunk], ref)
        if leave_out_self:
            idx = torch.arange(i, i + len(d))
            d[torch.arange(len(d)), idx] = float("inf")
        res.append(d.topk(k, dim=1, largest=False).values[:, -1])
    return torch.cat(res)


def _standardise(f: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (f - mean) / scale


def fit_reference(model: nn.Module, images: torch.Tensor, seed: int = 0,
                  max_reference: int = MAX_REFERENCE) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The reference for `score`: tensors to store beside the model, and a summary for result.json."""
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(images), generator=g)[:max_reference].sort().values
    f = features(model, images[pick])
    mean = f.mean(0)
    spread = f.std(0, correction=0)
    # A feature that barely varies in training (a background pixel that is always black) must not turn
    # every small deviation into a huge distance: floor the scale at a tenth of the median spread.
    scale = spread.clamp_min(max(float(spread.median()) * 0.1, 1e-6))
    ref = _standardise(f, mean, scale).half().float()  # as stored
    own = _kth_distance(ref, ref, K_NEIGHBOUR, leave_out_self=True) if len(ref) > 1 else torch.zeros(1)
    threshold = float(torch.quantile(own, QUANTILE))
    tensors = {"novelty.reference": ref.half(), "novelty.mean": mean, "novelty.scale": scale,
               "novelty.threshold": torch.tensor([threshold])}
    summary = {"score": f"distance to the {K_NEIGHBOUR}th nearest training image in {kind(model)}",
               "features": kind(model), "k": K_NEIGHBOUR, "quantile": QUANTILE, "threshold": threshold,
               "n_reference": len(ref)}
    return tensors, summary


def score(model: nn.Module, images: torch.Tensor, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    """Novelty score of each image (higher: less like the training images), on the CPU."""
    ref = tensors["novelty.reference"].float().cpu()
    q = _standardise(features(model, images), tensors["novelty.mean"].cpu(), tensors["novelty.scale"].cpu())
    return _kth_distance(q, ref, K_NEIGHBOUR)
