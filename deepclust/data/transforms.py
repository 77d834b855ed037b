"""Resize and channel conversion of whole uint8 image batches already in memory.

Built-in datasets come decoded at their native size (28, 16, 128, 8 px, grey); a method
may want them at another size or with 3 channels. Doing it on the batch with torch is
much faster than image by image through PIL, and bilinear with antialias=True matches
PIL's (antialiased) bilinear resize that the folder loader uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deepclust.errors import UserError

_CHUNK = 2048  # images resized at once: bounds the float32 working memory


def check_image_size(image_size: int | None) -> None:
    """Reject sizes that are not a positive whole number of pixels, naming the fix."""
    if image_size is None:
        return
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise UserError(f"image size must be a positive whole number of pixels, got {image_size!r}; pass e.g. --image-size 64")


def check_limit(limit: int | None) -> None:
    """`limit` keeps the first N images; zero or negative would silently mean "nothing"."""
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise UserError(f"limit must be a positive whole number of images, got {limit!r}; pass e.g. --limit 1000 or leave it unset")


def check_channels(channels: int | None) -> None:
    """Only grey (1) and RGB (3) exist downstream."""
    if channels not in (None, 1, 3):
        raise UserError(f"channels must be 1 (grey) or 3 (colour), got {channels!r}; pass --channels 1 or 3, or leave it unset")


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Scale the shorter side to `size`, centre-crop to size×size (uint8 N×C×H×W in and out)."""
    n, c, h, w = images.shape
    if h == size and w == size:
        return images
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    top, left = (new_h - size) // 2, (new_w - size) // 2
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    for start in range(0, n, _CHUNK):
        chunk = images[start : start + _CHUNK].float()
        chunk = F.interpolate(chunk, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
        chunk = chunk[:, :, top : top + size, left : left + size]
        out[start : start + _CHUNK] = chunk.round_().clamp_(0, 255).to(torch.uint8)
    return out.contiguous()


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey→RGB by repeating the band; RGB→grey with PIL's ITU-R 601-2 luma weights."""
    c = images.shape[1]
    if c == channels:
        return images
    if channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    # PIL "L" = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16; integer math keeps it exact.
    r, g, b = (images[:, i : i + 1].to(torch.int32) for i in range(3))
    grey = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16
    return grey.to(torch.uint8).contiguous()
