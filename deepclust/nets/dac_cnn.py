"""Label-feature networks for Deep Adaptive Clustering: the output of `encode` is a softmax over the
k clusters (DAC's "label features"); the cluster of an image is its argmax. There is no decoder.

- `stdac_cnn`: ST-DAC's small VGG-like CNN (Souza & Zanchettin, Table 1) with 0-3 spatial-transformer
  layers: after the input (1), after block 2 (2) and after block 3 (3), each after the block's
  max-pool + BN as the paper's text says ("after max-pooling downsampler"). The reference code puts
  its second ST before block 2's pool and wires only two of three layers in its 3-layer script.
- `dac_cnn`: the MNIST network of DAC's reference code (Chang et al. 2017): three 3x3 conv-64, pool,
  three 3x3 conv-128, pool, 1x1 conv-k, average pool, two dense-k layers, all with BN + ReLU. Valid
  convolutions as in the reference; a global average pool replaces its 2x2 average pool (the same on
  28 px) so other sizes work.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..config import EncoderConfig
from ..errors import UserError
from ..registry import ENCODERS
from .stn import SpatialTransformer

STDAC_FILTERS = (64, 128, 256)
STDAC_DENSE = 3096


class LabelFeatureNet(nn.Module):
    """Base: `encode` gives N×k softmax label features; `transformed` gives the first ST layer's
    output (None without one)."""

    label_features = True

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise UserError("this network has no decoder: drop reconstruction losses (recon) from the config")

    def transformed(self, x: torch.Tensor) -> torch.Tensor | None:
        return None

    def st_layers_list(self) -> list[SpatialTransformer]:
        return [m for m in self.modules() if isinstance(m, SpatialTransformer)]

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer: what the last dense layer (Linear, BN, ReLU) maps to the k label
        features. `predict` measures how unlike the training images a new image is in this space."""
        return self.head[:-3](self.trunk(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.head[-3:](self.penultimate(x)).float(), dim=1)


def _conv(cin: int, cout: int, k: int = 3, pad: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, padding=pad), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _head(nin: int, hidden: tuple[int, ...], k: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for h in hidden:
        layers += [nn.Linear(nin, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        nin = h
    layers += [nn.Linear(nin, k), nn.BatchNorm1d(k), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


@ENCODERS.register("stdac_cnn")
class STDACNet(LabelFeatureNet):
    def __init__(self, cfg: EncoderConfig, in_shape: tuple[int, int, int]):
        super().__init__()
        c, h, w = in_shape
        if not 0 <= cfg.st_layers <= 3:
            raise UserError(f"encoder.st_layers must be 0, 1, 2 or 3 (the paper's four experiments), got {cfg.st_layers}")
        if min(h, w) < 8:
            raise UserError(f"images of {h}x{w} are too small for the ST-DAC CNN's three 2x2 pools: "
                            f"use data.image_size of at least 8")
        self.embed_dim = cfg.embed_dim
        self.n_st = cfg.st_layers
        sizes = [(h, w)]
        for _ in range(3):
            sizes.append((math.ceil(sizes[-1][0] / 2), math.ceil(sizes[-1][1] / 2)))
        f1, f2, f3 = STDAC_FILTERS
        self.st1 = SpatialTransformer(c, sizes[0], "input") if cfg.st_layers >= 1 else nn.Identity()
        pool = [nn.MaxPool2d(2, ceil_mode=True)]
        self.block1 = nn.Sequential(*_conv(c, f1), *pool, nn.BatchNorm2d(f1))
        self.block2 = nn.Sequential(*_conv(f1, f2), nn.MaxPool2d(2, ceil_mode=True), nn.BatchNorm2d(f2))
        self.st2 = SpatialTransformer(f2, sizes[2], "output of block 2") if cfg.st_layers >= 2 else nn.Identity()
        self.block3 = nn.Sequential(*_conv(f2, f3), nn.MaxPool2d(2, ceil_mode=True), nn.BatchNorm2d(f3))
        self.st3 = SpatialTransformer(f3, sizes[3], "output of block 3") if cfg.st_layers >= 3 else nn.Identity()
        self.head = _head(f3 * sizes[3][0] * sizes[3][1], (STDAC_DENSE,), cfg.embed_dim, cfg.dropout)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block1(self.st1(x))
        y = self.st2(self.block2(y))
        return self.st3(self.block3(y))

    def transformed(self, x: torch.Tensor) -> torch.Tensor | None:
        return self.st1(x) if self.n_st >= 1 else None


@ENCODERS.register("dac_cnn")
class DACNet(LabelFeatureNet):
    def __init__(self, cfg: EncoderConfig, in_shape: tuple[int, int, int]):
        super().__init__()
        c, h, w = in_shape
        if min(h, w) < 20:
            raise UserError(f"images of {h}x{w} are too small for DAC's network (valid 3x3 convolutions): "
                            f"use data.image_size of at least 20")
        k = cfg.embed_dim
        self.embed_dim = k
        self.features = nn.Sequential(
            *_conv(c, 64, pad=0), *_conv(64, 64, pad=0), *_conv(64, 64, pad=0),
            nn.MaxPool2d(2, ceil_mode=True), nn.BatchNorm2d(64),
            *_conv(64, 128, pad=0), *_conv(128, 128, pad=0), *_conv(128, 128, pad=0),
            nn.MaxPool2d(2, ceil_mode=True), nn.BatchNorm2d(128),
            *_conv(128, k, 1, 0), nn.AdaptiveAvgPool2d(1), nn.BatchNorm2d(k),
        )
        self.head = _head(k, (k,), k, cfg.dropout)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)
