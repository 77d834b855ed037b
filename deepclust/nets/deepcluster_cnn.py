"""DeepCluster's network (Caron et al. 2018), sized for the images this tool sees (8 to ~128 px):

- a fixed front end, as the reference's `--sobel`: the image turned grey (mean of its channels) and
  filtered by the horizontal and vertical Sobel kernels, 2 channels in;
- a small VGG-style trunk with batch norm: per entry of `encoder.filters` a 3x3 conv + BN + ReLU and a
  2x2 max-pool (the reference uses AlexNet or VGG-16 on 224 px crops; one conv per block keeps an epoch
  affordable on a CPU: two per block cost 4x the time at 64-128-256 on 32 px);
- the reference's classifier below the top layer: dropout 0.5, dense, ReLU, for each width of
  `encoder.hidden`. Its output is the feature vector the pseudo-labels are computed from and the
  linear top layer (`nets.heads.LinearHead`) classifies.

The clustering space is the features PCA-whitened to `encoder.embed_dim` dimensions and L2-normalised
(`cluster.whiten`); the whitening is refitted by the `deepcluster` refresher each time it clusters and
kept in this module's buffers, so a saved model maps new images into the same space (`predict`).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..cluster.whiten import fit_whitening, whiten_l2
from ..config import EncoderConfig
from ..errors import UserError
from ..registry import ENCODERS

_SOBEL = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


class Sobel(nn.Module):
    """Grey level, then the two Sobel responses: C×H×W -> 2×H×W. No trainable weights."""

    def __init__(self):
        super().__init__()
        self.register_buffer("kernels", torch.stack([_SOBEL, _SOBEL.T])[:, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grey = x.mean(1, keepdim=True)
        return nn.functional.conv2d(grey, self.kernels.to(grey.dtype), padding=1)


def vgg_trunk(cfg: EncoderConfig, in_shape: tuple[int, int, int]) -> tuple[nn.Sequential, nn.Sequential, int]:
    """Per entry of `cfg.filters` a 3x3 conv + BN + ReLU + 2x2 max-pool; then per width of `cfg.hidden`
    dropout, dense, ReLU. Returns (conv part, dense part, width of the output)."""
    cin, h, w = in_shape
    n_pool = len(cfg.filters)
    if min(h, w) < 2 ** n_pool:
        raise UserError(f"images of {h}x{w} are too small for {n_pool} 2x2 pools (encoder.filters has "
                        f"{n_pool} blocks): use data.image_size of at least {2 ** n_pool}, or fewer filters")
    layers: list[nn.Module] = []
    for f in cfg.filters:
        layers += [nn.Conv2d(cin, f, 3, padding=1), nn.BatchNorm2d(f), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2, ceil_mode=True)]
        cin = f
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    dense: list[nn.Module] = [nn.Flatten()]
    nin = cin * h * w
    for width in cfg.hidden:
        dense += [nn.Dropout(cfg.dropout), nn.Linear(nin, width), nn.ReLU(inplace=True)]
        nin = width
    return nn.Sequential(*layers), nn.Sequential(*dense), nin


@ENCODERS.register("deepcluster_cnn")
class DeepClusterNet(nn.Module):
    has_decoder = False

    def __init__(self, cfg: EncoderConfig, in_shape: tuple[int, int, int]):
        super().__init__()
        c, h, w = in_shape
        self.sobel = Sobel() if cfg.sobel else nn.Identity()
        self.features, self.classifier, nin = vgg_trunk(cfg, (2 if cfg.sobel else c, h, w))
        self.embed_dim = nin  # what `encode` returns and the top layer reads
        self.cluster_dim = min(cfg.embed_dim, nin)
        self.register_buffer("white_mean", torch.zeros(nin))
        self.register_buffer("white_proj", torch.eye(nin, self.cluster_dim))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.sobel(x)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise UserError("this network has no decoder: drop reconstruction losses (recon) from the config")

    def cluster_space(self, z: torch.Tensor) -> torch.Tensor:
        """Features -> PCA-whitened, L2-normalised rows (N×cluster_dim)."""
        return whiten_l2(z, self.white_mean, self.white_proj)

    @torch.no_grad()
    def fit_cluster_space(self, z: torch.Tensor, keep: int | None = None) -> None:
        """Fit the whitening on features z; `keep`: only the top `keep` components (the others' columns are
        zero, so the space keeps its shape and `predict` reads it as it is)."""
        mean, proj = fit_whitening(z.float(), self.cluster_dim)
        if keep is not None and keep < self.cluster_dim:
            proj[:, keep:] = 0
        self.white_mean.copy_(mean)
        self.white_proj.copy_(proj)
