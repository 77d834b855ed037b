"""The network a method trains: an autoencoder (or encoder) plus an optional cluster head."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import EncoderConfig
from ..errors import UserError
from ..registry import ENCODERS


@dataclass
class Output:
    """What one forward pass produced; loss terms read the fields they need."""

    z: torch.Tensor  # N×D embedding
    recon: torch.Tensor | None = None  # N×C×H×W reconstruction
    q: torch.Tensor | None = None  # N×K soft cluster assignment
    logits: torch.Tensor | None = None  # N×K' scores of a linear head (DeepCluster's pseudo-label classifier)
    class_logits: torch.Tensor | None = None  # N×C scores of the labelled known classes (DTC's supervised stage)
    views: list["Output"] = field(default_factory=list)  # outputs for the batch's augmented views


class ClusterNet(nn.Module):
    def __init__(self, autoencoder: nn.Module, head: nn.Module | None = None):
        super().__init__()
        self.ae = autoencoder
        self.head = head
        self.channels_last = False

    def use_channels_last(self) -> "ClusterNet":
        """Keep conv weights, and the image batches the loop and embed() feed, channels-last (NHWC): oneDNN's
        and cuDNN's fast layout. A conv whose weight is channels-last gives channels-last maps whatever its
        input, so a decoder's maps reshaped from a dense layer need no conversion of their own."""
        self.to(memory_format=torch.channels_last)
        self.channels_last = True
        return self

    def forward(self, x: torch.Tensor, *, reconstruct: bool = True) -> Output:
        class_logits = None
        if hasattr(self.ae, "encode_classify"):  # DTC: the known classes' scores from the same pass
            z, class_logits = self.ae.encode_classify(x)
        else:
            z = self.ae.encode(x)
        recon = self.ae.decode(z) if reconstruct else None
        h = self.head(z) if self.head is not None else None
        if getattr(self.head, "gives", "q") == "logits":
            return Output(z=z, recon=recon, logits=h, class_logits=class_logits)
        return Output(z=z, recon=recon, q=h, class_logits=class_logits)

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """A float image batch in the layout the weights use."""
        if self.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    @torch.no_grad()
    def embed(self, images: torch.Tensor, chunk: int = 4096, raw: bool = False, trunk: bool = False) -> torch.Tensor:
        """Embedding (N×D float32, on the model's device) of uint8 images, in eval mode, in chunks: the
        space the clusters live in. For an encoder with a separate clustering space (DeepCluster's
        whitened features) that space, unless `raw` asks for the encoder's output itself; with `trunk`, the
        features of an encoder's trunk, before its projection or classifier (DeepCluster, DTC)."""
        was_training = self.training
        self.eval()
        dev = next(iter(self.parameters()), images.new_empty(0)).device
        part = self.ae.trunk if trunk else self.ae.encode
        out = [part(self.layout(images[i:i + chunk].to(dev).float().div_(255.0))).float()
               for i in range(0, len(images), chunk)]
        self.train(was_training)
        if not out:
            return torch.zeros(0, getattr(self.ae, "feature_dim" if trunk else "embed_dim", 0), device=dev)
        z = torch.cat(out)
        if not raw and not trunk and hasattr(self.ae, "cluster_space"):
            z = self.ae.cluster_space(z)
        return z


INITS = ("torch", "keras")


def keras_init_(module: nn.Module) -> nn.Module:
    """Keras' default initialisation, which the 2017 reference implementations (IDEC, DCEC, GAP-DCEC,
    DEC-DA) trained with: glorot-uniform weights and zero biases for every dense and (transposed)
    convolution layer. Normalisation layers, and parts that set their own start (a module with
    `keeps_init = True`, e.g. a spatial transformer that must start as the identity), are left alone."""
    if getattr(module, "keeps_init", False):
        return module
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    for child in module.children():
        keras_init_(child)
    return module


def build_autoencoder(cfg: EncoderConfig, in_shape: tuple[int, int, int]) -> nn.Module:
    if cfg.init not in INITS:
        raise UserError(f"encoder.init must be one of {', '.join(INITS)}, got '{cfg.init}'")
    ae = ENCODERS.get(cfg.name)(cfg, in_shape)
    if cfg.init == "keras":
        keras_init_(ae)
    return ae
