"""Fully-connected autoencoder d-500-500-2000-10 of DEC / IDEC / DCN (Xie et al. 2016)."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..config import EncoderConfig
from ..registry import ENCODERS


def _mlp(dims: list[int]) -> nn.Sequential:
    # ReLU between layers; the embedding and the reconstruction stay linear (as in DEC).
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


@ENCODERS.register("mlp")
class MLPAutoencoder(nn.Module):
    """Images are flattened; PyTorch's default Linear init equals DEC-keras' VarianceScaling(1/3)."""

    def __init__(self, cfg: EncoderConfig, in_shape: tuple[int, int, int]):
        super().__init__()
        self.in_shape = tuple(in_shape)
        d = math.prod(in_shape)
        dims = [d, *cfg.hidden, cfg.embed_dim]
        self.encoder = _mlp(dims)
        self.decoder = _mlp(dims[::-1])
        self.embed_dim = cfg.embed_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(z.shape[0], *self.in_shape)


@ENCODERS.register("identity")
class IdentityEncoder(nn.Module):
    """Raw pixels as the 'embedding' (the k-means baseline); nothing to train, nothing to decode."""

    def __init__(self, cfg: EncoderConfig, in_shape: tuple[int, int, int]):
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.embed_dim = math.prod(in_shape)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("the identity encoder has no decoder: a reconstruction loss needs encoder mlp or conv_ae")
