"""Does a new image look like the images a model was trained on? (`predict`'s "fits" column.)

A trained clustering network maps almost anything, noise included, confidently into some cluster, so
the distance to the chosen centre says little about novelty (measured: benchmarks/results/
predict-outliers/). What separates new photos of the same kind from images unlike them is how the
network's layers respond, and how the image's texture compares with the training images'. Two groups of
features are kept per image:

- "model": the mean and standard deviation over the image of every convolution's output in the encoder
  (layer statistics, as style and feature-statistics detectors use them); for an encoder without
  convolutions (the MLP autoencoder, k-means on pixels) the image itself, averaged down to at most
  16×16 pixels;
- "image": fixed image statistics that need no model — per channel, at three scales (the image halved
  twice), the mean and standard deviation of the grey levels and of the responses to horizontal and
  vertical Sobel filters and a Laplacian. They catch what a network trained on varied backgrounds lets
  through: flat frames and noise.

Each group is standardised by the training images' mean and spread; its score is the distance to the
k-th nearest training image (k = 5) against a reference of at most `max_reference` training images,
divided by that group's own 99 % quantile; an image's novelty is the larger of the two, and the threshold
is the 99 % quantile of the reference images' own novelty (each left out of its own neighbours), so about
1 % of images like the training ones are flagged.

Everything is stored beside the model (tensors `novelty.*` in model.safetensors), so `predict` needs
nothing else. A reference written before the "image" group (2026-12-03) has the "model" group alone and
scores as it did.
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
IMAGE_SCALES = 3
# tensor-name prefix of each group; the "model" group keeps the names of the first stored references
GROUPS = {"model": "novelty.", "image": "novelty.image."}


def kind(model: nn.Module) -> str:
    """'layer-statistics' when the encoder has convolutions, else 'pixels'."""
    return "layer-statistics" if any(isinstance(m, nn.Conv2d) for m in model.ae.modules()) else "pixels"


_SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
_LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]) / 4


def image_statistics(x: torch.Tensor) -> torch.Tensor:
    """N×(8·C·scales) texture statistics (fewer scales below 12 px) of float images N×C×H×W in [0, 1] (the "image" group)."""
    c = x.shape[1]
    bank = torch.stack([_SOBEL, _SOBEL.T, _LAPLACE])[:, None].repeat(c, 1, 1, 1).to(x)  # 3C×1×3×3
    out = []
    for s in range(IMAGE_SCALES):
        if s:
            if min(x.shape[2:]) < 6:  # too small to halve again
                break
            x = F.avg_pool2d(x, 2)
        r = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), bank, groups=c)
        out += [x.mean((2, 3)), x.std((2, 3), correction=0), r.abs().mean((2, 3)), r.std((2, 3), correction=0)]
    return torch.cat(out, 1)


@torch.no_grad()
def features(model: nn.Module, images: torch.Tensor, chunk: int = 512) -> dict[str, torch.Tensor]:
    """Group name -> N×D novelty features (float32, on the CPU) of uint8 images N×C×H×W."""
    ae = model.ae
    dev = next(iter(model.parameters()), images.new_empty(0)).device
    convs = [m for m in ae.modules() if isinstance(m, nn.Conv2d)]
    was = model.training
    model.eval()
    out: dict[str, list[torch.Tensor]] = {"model": [], "image": []}
    try:
        for i in range(0, len(images), chunk):
            x = images[i:i + chunk].to(dev).float().div_(255.0)
            out["image"].append(image_statistics(x).cpu())
            if not convs:
                side = (min(x.shape[2], PIXEL_SIDE), min(x.shape[3], PIXEL_SIDE))
                out["model"].append(F.adaptive_avg_pool2d(x, side).flatten(1).cpu())
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
            out["model"].append(torch.cat(stats, 1).cpu())
    finally:
        model.train(was)
    return {g: torch.cat(v) for g, v in out.items()}


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


def fit_reference(model: nn.Module, images: torch.Tensor, seed: int = 0,
                  max_reference: int = MAX_REFERENCE) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The reference for `score`: tensors to store beside the model, and a summary for result.json."""
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(images), generator=g)[:max_reference].sort().values
    feats = features(model, images[pick])
    tensors: dict[str, torch.Tensor] = {}
    combined = torch.zeros(len(pick))
    for group, f in feats.items():
        p = GROUPS[group]
        mean = f.mean(0)
        spread = f.std(0, correction=0)
        # A feature that barely varies in training (a background pixel that is always black) must not turn
        # every small deviation into a huge distance: floor the scale at a tenth of the median spread.
        scale = spread.clamp_min(max(float(spread.median()) * 0.1, 1e-6))
        ref = ((f - mean) / scale).half()  # as stored
        own = (_kth_distance(ref.float(), ref.float(), K_NEIGHBOUR, leave_out_self=True) if len(ref) > 1
               else torch.ones(1))
        unit = max(float(torch.quantile(own, QUANTILE)), 1e-6)
        combined = torch.maximum(combined, own / unit)
        tensors.update({p + "reference": ref, p + "mean": mean, p + "scale": scale, p + "unit": torch.tensor([unit])})
    threshold = float(torch.quantile(combined, QUANTILE))
    tensors["novelty.threshold"] = torch.tensor([threshold])
    summary = {"score": f"the larger of the distances to the {K_NEIGHBOUR}th nearest training image in "
                        f"{kind(model)} and in image statistics, each in units of its own {QUANTILE:.0%} "
                        "training quantile",
               "features": kind(model), "groups": list(feats), "k": K_NEIGHBOUR, "quantile": QUANTILE,
               "threshold": threshold, "n_reference": len(pick)}
    return tensors, summary


def score(model: nn.Module, images: torch.Tensor, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    """Novelty score of each image (higher: less like the training images), on the CPU; compare with
    tensors["novelty.threshold"]."""
    feats = features(model, images)
    out = torch.zeros(len(images))
    for group, p in GROUPS.items():
        if p + "reference" not in tensors:  # a reference written before this group existed
            continue
        q = (feats[group] - tensors[p + "mean"].cpu()) / tensors[p + "scale"].cpu()
        d = _kth_distance(q, tensors[p + "reference"].float().cpu(), K_NEIGHBOUR)
        unit = tensors.get(p + "unit")
        out = torch.maximum(out, d / (float(unit[0]) if unit is not None else 1.0))
    return out
