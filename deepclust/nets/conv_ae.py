"""DCEC's convolutional autoencoder (Guo et al. 2017), with GAP-DCEC's global average pooling.

Encoder: conv 32 5x5 s2 -> conv 64 5x5 s2 -> conv 128 3x3 s2 (padding "valid" when the side is
not divisible by 8, so 28 -> 14 -> 7 -> 3 as in the reference) -> flatten (DCEC) or global
average pooling (GAP-DCEC, Kolla & VenuGopal eq. 2) -> dense embedding (10). The decoder mirrors
the flatten path: dense -> reshape -> three transposed convs back to the input size.

GAP-DCEC's paper says two things: its text pools "instead of" flattening (`pool="gap"`, the recipe's
reading), and its eq. 3 writes the encoder as f(x) = relu[(x*W) + F^k], the last conv's output plus
the global average F^k of its feature maps, before the dense embedding. Two readings of eq. 3 are
built so that they can be measured: `gap-add` adds F^k to every position of the last conv's
pre-activation, applies the ReLU and flattens (the spatial map is kept); `flatten+gap` concatenates
the flattened maps with F^k.
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import EncoderConfig
from ..errors import UserError
from ..registry import ENCODERS

_KERNELS = (5, 5, 3)
POOLS = ("flatten", "gap", "gap-add", "flatten+gap")


def _kernels(n: int) -> list[int]:
    # Extra blocks (deeper photo encoders) use 3x3 like the last DCEC conv.
    return [(_KERNELS[i] if i < len(_KERNELS) else 3) for i in range(n)]


@ENCODERS.register("conv_ae")
class ConvAutoencoder(nn.Module):
    def __init__(self, cfg: EncoderConfig, in_shape: tuple[int, int, int]):
        super().__init__()
        c, h, w = in_shape
        if cfg.pool not in POOLS:
            raise UserError(f"encoder.pool must be one of {', '.join(POOLS)}, got '{cfg.pool}'")
        n = len(cfg.filters)
        if min(h, w) < 2 ** n:
            raise UserError(
                f"images of {h}x{w} are too small for {n} stride-2 convs: use a larger "
                f"data.image_size or fewer encoder.filters"
            )
        self.in_shape = (c, h, w)
        self.pool = cfg.pool
        kernels = _kernels(n)
        valid_last = h % 8 != 0  # the reference's rule for the last conv's padding
        enc: list[nn.Module] = []
        chans = [c, *cfg.filters]
        sizes = [(h, w)]
        for i, k in enumerate(kernels):
            pad = 0 if (i == n - 1 and valid_last) else k // 2
            enc.append(nn.Conv2d(chans[i], chans[i + 1], k, stride=2, padding=pad))
            if cfg.batch_norm:
                enc.append(nn.BatchNorm2d(chans[i + 1]))
            enc.append(nn.ReLU(inplace=True))
            sh, sw = sizes[-1]
            sizes.append(((sh + 2 * pad - k) // 2 + 1, (sw + 2 * pad - k) // 2 + 1))
        self.features = nn.Sequential(*enc)
        self.sizes = sizes
        last_c = chans[-1]
        fh, fw = sizes[-1]
        feat_dim = {"gap": last_c, "flatten+gap": last_c * (fh * fw + 1)}.get(cfg.pool, last_c * fh * fw)
        self.embed = nn.Linear(feat_dim, cfg.embed_dim)
        self.embed_dim = cfg.embed_dim
        # Decoder: dense back to the last feature map, then transposed convs.
        self.expand = nn.Sequential(nn.Linear(cfg.embed_dim, last_c * fh * fw), nn.ReLU(inplace=True))
        self.deconvs = nn.ModuleList()
        self.dec_bn = nn.ModuleList()
        for i in reversed(range(n)):
            k = kernels[i]
            pad = 0 if (i == n - 1 and valid_last) else k // 2
            self.deconvs.append(nn.ConvTranspose2d(chans[i + 1], chans[i], k, stride=2, padding=pad))
            self.dec_bn.append(nn.BatchNorm2d(chans[i]) if (cfg.batch_norm and i > 0) else nn.Identity())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool == "gap-add":  # eq. 3: relu(pre-activation + GAP of the activations), flattened
            a = self.features[:-1](x)
            f = torch.relu(a + torch.relu(a).mean(dim=(2, 3), keepdim=True)).flatten(1)
            return self.embed(f)
        f = self.features(x)
        if self.pool == "gap":
            f = f.mean(dim=(2, 3))
        elif self.pool == "flatten+gap":
            f = torch.cat([f.flatten(1), f.mean(dim=(2, 3))], dim=1)
        else:
            f = f.flatten(1)
        return self.embed(f)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        fh, fw = self.sizes[-1]
        y = self.expand(z).view(z.shape[0], -1, fh, fw)
        n = len(self.deconvs)
        for j, (deconv, bn) in enumerate(zip(self.deconvs, self.dec_bn)):
            target = self.sizes[n - 1 - j]
            y = deconv(y, output_size=list(target))
            if j < n - 1:  # the reconstruction itself stays linear, as in DCEC
                y = torch.relu(bn(y))
        return y
