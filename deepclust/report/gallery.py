"""Gallery tiles: the most confident images of each cluster as small embedded PNGs.

Benchmark images are tiny (8×8 digits, 28×28 MNIST), so they are upscaled with
nearest-neighbour to stay crisp and visible; large photos are shrunk so the page stays light.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from deepclust.report.runfolder import Gallery

TILE_PX = 64
PER_CLUSTER = 16


@dataclass(frozen=True)
class Tile:
    """One gallery image as the template needs it."""

    src: str  # data:image/png;base64,...
    name: str
    confidence: float

    @property
    def short(self) -> str:
        """The last path part: in a narrow caption the distinguishing end of the name shows."""
        return self.name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or self.name


@dataclass(frozen=True)
class ClusterTiles:
    """One cluster's section of the gallery."""

    cluster: int
    size: int | None
    tiles: list[Tile]


def image_to_data_uri(image: np.ndarray, px: int = TILE_PX) -> str:
    """Encode one H×W×C (C = 1 or 3) image as a PNG data URI at about `px` pixels wide."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    pil = Image.fromarray(arr)
    h, w = arr.shape[:2]
    longest = max(h, w, 1)
    if longest < px:
        scale = -(-px // longest)  # integer factor: every source pixel becomes an equal block
        pil = pil.resize((w * scale, h * scale), Image.Resampling.NEAREST)
    elif longest > 2 * px:
        ratio = 2 * px / longest  # keep 2× for sharp display on high-density screens
        pil = pil.resize((max(1, round(w * ratio)), max(1, round(h * ratio))),
                         Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def build_tiles(gallery: Gallery, sizes: dict[int, int]) -> list[ClusterTiles]:
    """Group gallery images by cluster, most confident first, at most PER_CLUSTER each.

    Clusters with a known size but no gallery images still get an (empty) entry, so an empty
    cluster is visible rather than silently missing.
    """
    clusters = sorted(set(int(c) for c in gallery.cluster) | set(sizes))
    out: list[ClusterTiles] = []
    for c in clusters:
        idx = np.flatnonzero(gallery.cluster == c)
        idx = idx[np.argsort(-np.nan_to_num(gallery.confidence[idx], nan=-1.0), kind="stable")]
        tiles = [
            Tile(image_to_data_uri(gallery.images[i]), gallery.names[i],
                 float(gallery.confidence[i]))
            for i in idx[:PER_CLUSTER]
        ]
        out.append(ClusterTiles(c, sizes.get(c), tiles))
    return out
