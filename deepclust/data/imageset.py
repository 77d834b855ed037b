"""The `ImageSet` every loader returns (contract: docs/run-folder.md).

Downstream code (training, reports, benchmarks) relies on one fixed layout, so the
checks live here, once, instead of in every consumer: a loader that builds a wrong
tensor fails at the point where it is built, not deep inside a training step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ImageSet:
    """A whole dataset held in memory, in dataset order.

    images:  uint8, N×C×H×W (C = 1 or 3), contiguous, on the CPU.
    labels:  int64, N: ground truth when known (benchmarks), else None.
    names:   N source names: file path relative to the folder, or "mnist-test/000123".
    name:    dataset name, e.g. "mnist-test" or the folder's path.
    skipped: (file, reason) for files a folder loader could not read.
    root:    for a folder, the folder the names are relative to (the report shows the originals); else None.
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    names: list[str]
    name: str
    skipped: list[tuple[str, str]] = ()
    root: str | None = None

    def __post_init__(self) -> None:
        images = self.images
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"ImageSet.images must be a torch.Tensor, got {type(images).__name__}")
        if images.dtype != torch.uint8:
            raise TypeError(f"ImageSet.images must be uint8, got {images.dtype}")
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"ImageSet.images must be N×C×H×W with C in (1, 3), got {tuple(images.shape)}")
        if images.device.type != "cpu":
            raise ValueError(f"ImageSet.images must be on the CPU, got {images.device}")
        if not images.is_contiguous():
            raise ValueError("ImageSet.images must be contiguous (call .contiguous())")
        n = images.shape[0]
        if self.labels is not None:
            labels = self.labels
            if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64:
                raise TypeError("ImageSet.labels must be an int64 torch.Tensor or None")
            if labels.ndim != 1 or labels.shape[0] != n:
                raise ValueError(f"ImageSet.labels must have shape ({n},), got {tuple(labels.shape)}")
            if labels.device.type != "cpu":
                raise ValueError(f"ImageSet.labels must be on the CPU, got {labels.device}")
        if len(self.names) != n:
            raise ValueError(f"ImageSet.names has {len(self.names)} entries for {n} images")
        # Normalise containers so consumers can rely on list types (frozen: bypass setattr).
        object.__setattr__(self, "names", [str(s) for s in self.names])
        object.__setattr__(self, "skipped", [(str(f), str(r)) for f, r in self.skipped])

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_channels(self) -> int:
        """1 (grey) or 3 (RGB)."""
        return int(self.images.shape[1])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image: what a network's input layer needs."""
        _, c, h, w = self.images.shape
        return int(c), int(h), int(w)

    def fingerprint(self, pixels: bool = True) -> str:
        """A hash of the names, in order, and the images' shape, and with `pixels` of the pixels too: equal for the
        same images read again, different when one was added, removed, renamed or reordered (and, with
        `pixels`, replaced). A checkpoint's per-image state (e.g. DEC's target, DeepCluster's pseudo-labels)
        fits only the images it was computed on."""
        h = hashlib.blake2b(digest_size=16)
        h.update(repr(tuple(self.images.shape)).encode())
        h.update("\0".join(self.names).encode("utf-8", "surrogatepass"))
        if pixels:
            h.update(self.images.numpy().data)
        return h.hexdigest()

    def subset(self, indices: Sequence[int] | np.ndarray | torch.Tensor | slice) -> ImageSet:
        """A new ImageSet with the given images, in the given order (same name, same skipped)."""
        if isinstance(indices, slice):
            idx = torch.arange(len(self))[indices]
        else:
            arr = np.asarray(indices)
            if arr.dtype == bool:  # a mask selects, it does not index
                arr = np.flatnonzero(arr)
            idx = torch.as_tensor(arr, dtype=torch.int64).reshape(-1)
        if idx.numel() and (int(idx.min()) < -len(self) or int(idx.max()) >= len(self)):
            raise IndexError(f"subset index out of range for an ImageSet of {len(self)} images")
        idx = idx % max(len(self), 1)  # negative indices count from the end, like Python
        return ImageSet(
            images=self.images[idx].contiguous(),
            labels=None if self.labels is None else self.labels[idx].contiguous(),
            names=[self.names[i] for i in idx.tolist()],
            name=self.name,
            skipped=list(self.skipped),
        )
