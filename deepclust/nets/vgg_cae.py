"""The convolutional autoencoder of Kudari et al. (§3, §4.2): four VGG blocks (two 3x3 convs with
batch norm before ReLU, then 2x2 max-pool) -> dense embedding; the decoder mirrors it with
transposed convolutions, batch norm and ReLU, and a sigmoid output (images are in [0, 1]).
Any image size works: pooling rounds up, and the decoder is told each block's exact size."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..config import EncoderConfig
from ..errors import UserError
from ..registry import ENCODERS

VGG_FILTERS = (32, 64, 128, 256)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.MaxPool2d(2, ceil_mode=True),
    )


@ENCODERS.register("vgg_cae")
class VGGAutoencoder(nn.Module):
    def __init__(self, cfg: EncoderConfig, in_shape: tuple[int, int, int]):
        super().__init__()
        c, h, w = in_shape
        # encoder.filters defaults to DCEC's three; this net wants four VGG widths unless told otherwise.
        filters = tuple(cfg.filters) if len(cfg.filters) >= 4 else VGG_FILTERS
        n = len(filters)
        if min(h, w) < 2 ** n:
            raise UserError(f"images of {h}x{w} are too small for {n} VGG blocks: use data.image_size "
                            f"of at least {2 ** n} or fewer encoder.filters")
        self.in_shape = (c, h, w)
        chans = [c, *filters]
        self.blocks = nn.Sequential(*[_block(a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.sizes = [(h, w)]
        for _ in range(n):
            sh, sw = self.sizes[-1]
            self.sizes.append((math.ceil(sh / 2), math.ceil(sw / 2)))
        fh, fw = self.sizes[-1]
        self.embed = nn.Linear(filters[-1] * fh * fw, cfg.embed_dim)
        self.embed_dim = cfg.embed_dim
        self.expand = nn.Sequential(nn.Linear(cfg.embed_dim, filters[-1] * fh * fw), nn.ReLU(inplace=True))
        self.up = nn.ModuleList()
        self.up_bn = nn.ModuleList()
        for i in reversed(range(n)):
            out_c = chans[i] if i > 0 else filters[0]
            self.up.append(nn.ConvTranspose2d(chans[i + 1], out_c, 3, stride=2, padding=1))
            self.up_bn.append(nn.BatchNorm2d(out_c))
        self.out = nn.Conv2d(filters[0], c, 3, padding=1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.blocks(x).flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        fh, fw = self.sizes[-1]
        y = self.expand(z).view(z.shape[0], -1, fh, fw)
        n = len(self.up)
        for j, (up, bn) in enumerate(zip(self.up, self.up_bn)):
            y = torch.relu(bn(up(y, output_size=list(self.sizes[n - 1 - j]))))
        return torch.sigmoid(self.out(y))
