"""Deep Transfer Clustering's network (Han et al. 2019; Gunari et al., papers/003), sized for the images
this tool sees: a small VGG-style trunk (`nets.deepcluster_cnn.vgg_trunk`: per entry of `encoder.filters` a
3x3 conv + BN + ReLU + 2x2 max-pool, then the dense layers of `encoder.hidden`) with two linear layers on
its features f:

- `known_head`: f -> scores of the `encoder.n_known` labelled known classes. The supervised first stage
  (loss `supervised`) trains the trunk as a classifier of those classes: the feature extractor that
  transfers (the reference trains a ResNet-18 on the labelled half of CIFAR-10);
- `project`: f -> the clustering space (`encoder.embed_dim`, the number of clusters). DTC "incorporates the
  PCA as the last linear layer": the `pca_init` refresher sets it to the PCA of the new images' features
  before k-means places the centres; the clustering stage then fine-tunes it with the trunk.

The reference's ResNet-18 on 32 px photos takes hours per run on a CPU; one conv per block keeps the
recipe's runs at minutes (docs/decisions.md).
"""
from __future__ import annotations

import torch
from torch import nn

from ..cluster.whiten import principal_components
from ..config import EncoderConfig
from ..errors import UserError
from ..registry import ENCODERS
from .deepcluster_cnn import vgg_trunk


@ENCODERS.register("dtc_cnn")
class DTCNet(nn.Module):
    has_decoder = False
    embeds_in_k = True  # the clustering space has as many dimensions as clusters (PCA to K)

    def __init__(self, cfg: EncoderConfig, in_shape: tuple[int, int, int]):
        super().__init__()
        self.features, self.dense, nin = vgg_trunk(cfg, in_shape)
        self.feature_dim = nin
        self.embed_dim = cfg.embed_dim
        self.n_known = cfg.n_known
        self.known_head = nn.Linear(nin, cfg.n_known) if cfg.n_known > 0 else None
        self.project = nn.Linear(nin, cfg.embed_dim)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The transferred features f (N × feature_dim)."""
        return self.dense(self.features(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.trunk(x))

    def encode_classify(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(embedding, known-class scores) from one pass through the trunk."""
        f = self.trunk(x)
        return self.project(f), (self.known_head(f) if self.known_head is not None else None)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise UserError("this network has no decoder: drop reconstruction losses (recon) from the config")

    @torch.no_grad()
    def fit_projection(self, f: torch.Tensor) -> torch.Tensor:
        """Set `project` to the PCA of features f (N × feature_dim): weight = the top embed_dim principal
        directions, bias = -weight · mean, so project(f) are f's principal components. Where f has fewer
        directions with variance than embed_dim, the rest stay zero. Returns the explained variance ratio
        of the kept directions (embed_dim)."""
        mean, vecs, vals, total = principal_components(f, self.embed_dim, rel_floor=1e-10)
        weight = vecs.T  # embed_dim × feature_dim
        self.project.weight.copy_(weight.to(self.project.weight.dtype))
        self.project.bias.copy_((-(weight @ mean)).to(self.project.bias.dtype))
        return (vals / total if total > 0 else torch.zeros_like(vals)).float()
