"""Re-frame a photo on its object before it is shrunk (`data.reframe=object`).

Every method built here compares images at 32-64 px, so an object that sits in a different place or at a
different size in each photo looks like a different object (COIL-20 "in the wild": every method near chance).
The papers' own answers are a person's box for GrabCut (Gunari et al.) and a learned spatial transformer
(ST-DAC); this is the automatic box in between, applied when a folder is decoded:

1. the background is modelled as a plane (a level and a linear gradient, per channel) fitted robustly to
   a band along the image's border, where a framed object rarely is;
2. the object is every pixel that differs from that plane by more than `max(MIN_CONTRAST, 4 σ)` in some
   channel (σ: the border's robust spread), cleaned by a morphological opening, keeping the connected
   parts of at least a fifth of the largest one;
3. the crop is the square around their bounding box plus a margin, moved inside the image (never padded)
   and no larger than its shorter side, so a photo that the object fills is cropped as before.

When nothing stands out (a photo without a plain-ish border, or a texture), the usual centre crop is kept.

`data.reframe=isolate` crops the same square and also sets the background to black, for objects shot on a
plain backdrop (a museum's studio photos): the object mask above seeds GrabCut, which keeps what the threshold
missed (parts as bright as the backdrop), and the crop is blended with the mask, so the backdrop's level and
gradient no longer tell photos of one object apart. Only where the border really is plain (its robust spread at
most PLAIN_SPREAD grey levels in every channel): a scene (sky, trees, a street) keeps its pixels and is only
cropped, because there the mask finds a part of the subject, not the subject.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from ..errors import UserError

REFRAMES = ("none", "object", "isolate")
REFRAME_VERSION = 2  # part of the folder cache's key: raise it when a change here changes the crops (2: isolate
# leaves a black backdrop alone)
WORK_SIDE = 128  # the box is found on a copy whose longer side is at most this many pixels
BORDER = 0.06  # the border band's width, as a fraction of the shorter side (at least 2 px)
MIN_CONTRAST = 16.0  # grey levels (of 255) an object pixel differs from the background at least
MARGIN = 0.1  # the crop's side is the box's longer side times 1 + MARGIN
MIN_AREA = 0.002  # below this fraction of the image, what stands out is taken for noise: no box
ISOLATE_SIDE = 96  # isolate: the crop square's side, in pixels, where its mask is found
PLAIN_SPREAD = 8.0  # isolate: the border is a plain backdrop when its robust spread is at most this, every channel


def _plane_residual(ch: np.ndarray, border: np.ndarray, a: np.ndarray, yy: np.ndarray, xx: np.ndarray) -> tuple[np.ndarray, float]:
    """The channel less the plane fitted to its border pixels (`a`: their design matrix [1, x, y]; fitted twice,
    the second fit leaving out the border pixels the first one fits worst, e.g. an object touching the edge),
    and the border's robust spread."""
    v = ch[border]
    use = np.ones(len(v), bool)
    for _ in range(2):
        coef, *_ = np.linalg.lstsq(a[use], v[use], rcond=None)
        r = v - a @ coef
        mad = float(np.median(np.abs(r - np.median(r)))) * 1.4826
        use = np.abs(r) <= max(3.0 * mad, 1.0)
    return ch - (coef[0] + coef[1] * xx + coef[2] * yy), mad


def _border_band(h: int, w: int) -> np.ndarray:
    """The H×W mask of the band along the image's border (BORDER of the shorter side, at least 2 px)."""
    b = max(2, int(round(BORDER * min(h, w))))
    band = np.zeros((h, w), bool)
    band[:b], band[-b:], band[:, :b], band[:, -b:] = True, True, True, True
    return band


def object_mask(arr: np.ndarray) -> np.ndarray | None:
    """arr: H×W or H×W×C (any numeric type, 0-255 scale). The H×W boolean mask of the pixels taken for the
    object, or None when nothing stands out from the border's plane."""
    return _foreground(arr)[0]


def _foreground(arr: np.ndarray) -> tuple[np.ndarray | None, float]:
    """object_mask's mask, and the border's largest robust spread over the channels (inf: no border)."""
    a = arr.astype(np.float32)
    if a.ndim == 2:
        a = a[..., None]
    h, w = a.shape[:2]
    b = max(2, int(round(BORDER * min(h, w))))
    if min(h, w) < 4 * b:
        return None, float("inf")
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy / h, xx / w
    border = _border_band(h, w)
    design = np.c_[np.ones(int(border.sum())), xx[border], yy[border]]  # one for every channel
    fg = np.zeros((h, w), bool)
    widest = 0.0
    for c in range(a.shape[2]):
        res, spread = _plane_residual(a[..., c], border, design, yy, xx)
        fg |= np.abs(res) > max(MIN_CONTRAST, 4.0 * spread)
        widest = max(widest, spread)
    fg = ndimage.binary_opening(fg)
    labels, n = ndimage.label(fg)
    if n == 0:
        return None, widest
    sizes = ndimage.sum_labels(fg, labels, index=np.arange(1, n + 1))
    if sizes.max() < MIN_AREA * h * w:
        return None, widest
    return np.isin(labels, 1 + np.flatnonzero(sizes >= 0.2 * sizes.max())), widest


def isolate_mask(arr: np.ndarray) -> np.ndarray | None:
    """arr: H×W or H×W×3 uint8. The object's mask for `isolate` (the threshold's mask, holes filled, refined by
    GrabCut seeded with it; the border band outside it is background for sure), or None when the border is no
    plain backdrop, the backdrop is black already, or nothing stands out (then nothing is erased). The same image
    always gives the same mask."""
    return _isolate(arr, *_foreground(arr))


def _isolate(arr: np.ndarray, seed: np.ndarray | None, widest: float) -> np.ndarray | None:
    if seed is None or widest > PLAIN_SPREAD:
        return None
    band = _border_band(*seed.shape)
    if np.median(arr[band]) <= MIN_CONTRAST:
        # the backdrop is black already: erasing would only cut the object's dark parts (GrabCut cannot tell a
        # shadow or a dark label from a black backdrop; COIL-20 as shot), so nothing is erased
        return None
    import cv2

    seed = ndimage.binary_fill_holes(ndimage.binary_dilation(seed))
    gc = np.where(seed, cv2.GC_PR_FGD, np.where(band, cv2.GC_BGD, cv2.GC_PR_BGD)).astype(np.uint8)
    bgr = np.ascontiguousarray(np.repeat(arr[..., None], 3, 2) if arr.ndim == 2 else arr[..., ::-1], dtype=np.uint8)
    try:
        # GrabCut starts from k-means seeded by OpenCV's per-thread generator: reseed it, so that an image's mask
        # does not depend on which decoding thread it lands on (the folder cache assumes a decode is repeatable)
        cv2.setRNGSeed(0)
        cv2.grabCut(bgr, gc, None, np.zeros((1, 65)), np.zeros((1, 65)), 3, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # e.g. a seed that leaves GrabCut no pixels of one kind: keep the threshold's mask
        return seed
    mask = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    return mask if mask.sum() >= 0.5 * seed.sum() else seed  # GrabCut lost the object: keep the threshold's


def object_box(arr: np.ndarray) -> tuple[int, int, int, int] | None:
    """The bounding box (top, left, bottom, right; bottom and right exclusive) of `object_mask(arr)`, or None."""
    keep = object_mask(arr)
    if keep is None:
        return None
    ys, xs = np.nonzero(keep)
    return int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1


def object_square(im: Image.Image) -> tuple[float, float, float, float] | None:
    """The square (left, upper, right, lower) of `im` to crop so that its object fills it, or None."""
    w, h = im.size
    scale = min(1.0, WORK_SIDE / max(w, h))
    box = object_box(_work_copy(im, (0, 0, w, h), scale))
    if box is None:
        return None
    top, left, bottom, right = (v / scale for v in box)
    side = min(max(bottom - top, right - left) * (1 + MARGIN), min(w, h))
    cx, cy = (left + right) / 2, (top + bottom) / 2
    x0 = min(max(cx - side / 2, 0.0), w - side)
    y0 = min(max(cy - side / 2, 0.0), h - side)
    return x0, y0, x0 + side, y0 + side


def _work_copy(im: Image.Image, box, scale: float) -> np.ndarray:
    """The part `box` of `im`, shrunk by `scale` (1: as is), as an L or RGB array."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    size = (max(1, round(bw * scale)), max(1, round(bh * scale)))
    small = im if tuple(box) == (0, 0, *im.size) and scale == 1.0 else \
        im.resize(size, Image.Resampling.BILINEAR, box=tuple(box), reducing_gap=2.0)
    if small.mode not in ("L", "RGB"):
        small = small.convert("RGB")
    return np.asarray(small)


def isolate_alpha(im: Image.Image, square):
    """For reframe="isolate": a function `alpha(size)` giving the object's mask over `square` as a size×size
    "L" image (255 object, 0 background), or None where nothing is to be erased. The mask is found again on the
    square with a quarter of its side of context around it (the context's border is the backdrop to fit), at
    ISOLATE_SIDE px for the square, so that it is as sharp on a 4000 px photo or a panorama as on a small one."""
    w, h = im.size
    x0, y0, x1, y1 = square
    pad = 0.25 * (x1 - x0)
    ctx = (max(0.0, x0 - pad), max(0.0, y0 - pad), min(float(w), x1 + pad), min(float(h), y1 + pad))
    arr = _work_copy(im, ctx, min(1.0, ISOLATE_SIDE / (x1 - x0)))
    mask = isolate_mask(arr)
    if mask is None:
        return None
    alpha = Image.fromarray(mask.astype(np.uint8) * 255)
    sx, sy = arr.shape[1] / (ctx[2] - ctx[0]), arr.shape[0] / (ctx[3] - ctx[1])
    mbox = ((x0 - ctx[0]) * sx, (y0 - ctx[1]) * sy, (x1 - ctx[0]) * sx, (y1 - ctx[1]) * sy)
    return lambda size: alpha.resize((size, size), Image.Resampling.BILINEAR, box=mbox)


def crop_square(im: Image.Image, reframe: str = "none") -> tuple[float, float, float, float]:
    """The square of `im` that becomes the image: its object's (reframe="object" or "isolate", when one stands
    out), else the centre square."""
    box = object_square(im) if reframe in ("object", "isolate") else None
    if box is None:
        w, h = im.size
        side = min(w, h)
        box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    return box


def frame(im: Image.Image, reframe: str = "none"):
    """(square, alpha): crop_square's square, and alpha None, or for reframe="isolate" where the object was
    found on a plain backdrop, isolate_alpha's function of the output size."""
    found = object_square(im) if reframe in ("object", "isolate") else None
    if found is None:
        return crop_square(im, "none"), None
    return found, isolate_alpha(im, found) if reframe == "isolate" else None


@functools.lru_cache(maxsize=1)
def reframe_digest() -> str:
    """A digest of this file's source, in the folder cache's key beside REFRAME_VERSION: an edit here that forgets
    to raise the version can still never serve crops made by other code (2026-12-07: cells measured after a change
    to `isolate` were served the crops of the version before it, from the cache)."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def check_reframe(reframe: str) -> None:
    if reframe not in REFRAMES:
        raise UserError(f"data.reframe must be one of {', '.join(REFRAMES)}, got {reframe!r}; "
                        f"e.g. --reframe object (cluster) or --set data.reframe=object to crop each photo to its object")


def reframe_images(images, size: int, reframe: str = "object"):
    """uint8 N×C×H×W tensor -> N×C×size×size, each image cropped to its object's square (else its centre
    square) and resized: the same crop as a folder decoded with data.reframe=`reframe` ("object" or "isolate")."""
    import torch

    from .folder import resize_crop

    out = torch.empty((len(images), images.shape[1], size, size), dtype=torch.uint8)
    for i, img in enumerate(images.numpy()):
        im = Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0))
        arr = np.asarray(resize_crop(im, size, reframe))
        out[i] = torch.from_numpy(np.array(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)))
    return out
