"""The scikit-learn-style façade: `DEC(n_clusters=10).fit(images).labels_`.

`__init__` only stores; `fit` returns self; learned state ends in `_`. Settings beyond the
common ones use scikit-learn's double-underscore paths: `DEC(pretrain__epochs=50)`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..data.imageset import ImageSet
from ..errors import UserError


def as_imageset(X: Any) -> ImageSet:
    """An ImageSet from an ImageSet, or an array/tensor of images: N×H×W, N×C×H×W or N×D.
    Floats are read as intensities in [0, 1] (or [0, 255] when their maximum exceeds 1)."""
    if isinstance(X, ImageSet):
        return X
    t = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
    if t.dim() == 2:
        t = t[:, None, None, :]
    elif t.dim() == 3:
        t = t[:, None]
    elif t.dim() != 4:
        raise UserError(f"images must be N×H×W, N×C×H×W or N×D, got shape {tuple(t.shape)}")
    if t.dtype != torch.uint8:
        t = t.float()
        if t.numel() and float(t.max()) <= 1.0:
            t = t * 255.0
        t = t.round().clamp(0, 255).to(torch.uint8)
    names = [f"{i:06d}" for i in range(len(t))]
    return ImageSet(images=t.contiguous(), labels=None, names=names, name="array")


class Clusterer:
    """Any registered method: `Clusterer("gapdcec", n_clusters=10).fit(images)`."""

    method: str = "dec"

    def __init__(self, method: str | None = None, n_clusters: int = 10, *, seed: int = 0, device: str = "auto",
                 verbose: bool = False, **settings: Any):
        self.method_name = method or type(self).method
        self.n_clusters = n_clusters
        self.seed = seed
        self.device = device
        self.verbose = verbose
        self.settings = settings

    def _config(self):
        from .pipeline import make_config

        nested: dict[str, Any] = {}
        for key, value in self.settings.items():
            node = nested
            parts = key.split("__")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = value
        base = {"method": {"n_clusters": self.n_clusters},
                "train": {"seed": self.seed, "device": self.device, "progress": self.verbose}}
        from ..config import deep_update

        return make_config(self.method_name, overrides=deep_update(base, nested))

    def fit(self, X, y=None) -> "Clusterer":
        from .pipeline import fit

        data = as_imageset(X)
        cfg = self._config()
        res = fit(cfg, data, echo=print if self.verbose else None)
        self.config_ = cfg
        self.model_ = res.model.eval()
        self.labels_ = res.labels
        self.confidence_ = res.confidence
        self.cluster_centers_ = res.centers
        self.embedding_ = res.embedding
        self.image_shape_ = tuple(data.images.shape[1:])
        self.wall_s_ = res.wall_s
        return self

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise UserError(f"this {type(self).__name__} is not fitted yet: call fit(images) first")

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """The embedding of each image (N×D)."""
        self._check_fitted()
        data = as_imageset(X)
        if tuple(data.images.shape[1:]) != self.image_shape_:
            raise UserError(f"images of shape {tuple(data.images.shape[1:])} differ from the "
                            f"{self.image_shape_} the model was fitted on")
        return self.model_.embed(data.images).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        from .pipeline import soft_assign

        z = torch.from_numpy(self.transform(X))
        labels, _, _ = soft_assign(z, torch.from_numpy(self.cluster_centers_), self.config_.method.alpha)
        return labels

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"method": self.method_name, "n_clusters": self.n_clusters, "seed": self.seed,
                "device": self.device, "verbose": self.verbose, **self.settings}

    def set_params(self, **params) -> "Clusterer":
        for k, v in params.items():
            if k in ("n_clusters", "seed", "device", "verbose"):
                setattr(self, k, v)
            elif k == "method":
                self.method_name = v
            else:
                self.settings[k] = v
        return self


def _make(name: str, cls_name: str) -> type:
    def __init__(self, n_clusters: int = 10, **kw):
        Clusterer.__init__(self, name, n_clusters, **kw)

    return type(cls_name, (Clusterer,), {"method": name, "__init__": __init__,
                                          "__doc__": f"The '{name}' method with scikit-learn conventions."})


KMeans = _make("kmeans", "KMeans")
AEKMeans = _make("ae-kmeans", "AEKMeans")
DEC = _make("dec", "DEC")
IDEC = _make("idec", "IDEC")
DCN = _make("dcn", "DCN")
DCEC = _make("dcec", "DCEC")
GAPDCEC = _make("gapdcec", "GAPDCEC")
