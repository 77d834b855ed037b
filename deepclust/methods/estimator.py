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


def float_scale(X: Any) -> float | None:
    """For float images: 255 when they lie in [0, 1], 1 when already in [0, 255] (fit decides once);
    None for integer images or anything else (then each array decides for itself)."""
    try:
        t = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    except (TypeError, ValueError, RuntimeError):
        return None
    if not t.is_floating_point() or not t.numel() or not bool(torch.isfinite(t).all()):
        return None
    return 255.0 if float(t.max()) <= 1.0 else 1.0


def as_imageset(X: Any, scale: float | None = None) -> ImageSet:
    """An ImageSet from an ImageSet, or an array/tensor of images: N×H×W, N×C×H×W, N×H×W×C or N×D.
    Floats are intensities in [0, 1] or [0, 255]: `scale` (255 or 1) says which; None decides from this
    array's maximum (fit decides once and transform/predict reuse it, so one dark batch is not misread)."""
    if isinstance(X, ImageSet):
        return X
    if not isinstance(X, torch.Tensor):
        arr = np.asarray(X)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise UserError(f"images must be a numeric array (N×H×W, N×C×H×W or N×H×W×C), got {type(X).__name__}"
                            + ("" if arr.dtype == object else f" of {arr.dtype}") + "; for a folder of files use "
                            "deepclust.data.load_folder(path)")
        if not arr.flags.writeable:  # torch would warn at length; the copy is made below (uint8) in most cases anyway
            arr = arr.copy()
        X = torch.as_tensor(arr)
    t = X
    if t.dim() == 2:
        t = t[:, None, None, :]
    elif t.dim() == 3:
        t = t[:, None]
    elif t.dim() != 4:
        raise UserError(f"images must be N×H×W, N×C×H×W, N×H×W×C or N×D, got shape {tuple(t.shape)}")
    elif t.shape[1] not in (1, 3) and t.shape[-1] in (1, 3):
        t = t.permute(0, 3, 1, 2)  # N×H×W×C, as numpy and PIL lay images out
    if t.shape[1] not in (1, 3):
        c = int(t.shape[-1]) if t.shape[-1] in (2, 4) else int(t.shape[1])
        what = {2: "grey + alpha", 4: "RGBA (or CMYK)"}.get(c, "neither grey nor RGB (1 or 3 channels, first or last)")
        raise UserError(f"images of shape {tuple(X.shape)} read as {what}: give grey (N×H×W) or RGB (N×H×W×3 or "
                        f"N×3×H×W) images, e.g. X[..., :3] for RGBA, or composite the alpha onto a background")
    if len(t) == 0:
        raise UserError("no images: the array holds 0 images")
    if t.dtype != torch.uint8:
        kind = "16-bit" if t.dtype == torch.uint16 else "float" if t.is_floating_point() else "integer"
        t = t.float()
        if not bool(torch.isfinite(t).all()):
            raise UserError("the images hold NaN or infinite values: replace them before clustering")
        if float(t.min()) < 0:
            raise UserError(f"the images hold negative values (minimum {float(t.min()):.3g}): give intensities in "
                            f"[0, 1] or [0, 255], not standardised data")
        if kind == "16-bit" and float(t.max()) > 255:  # by the full range, as the folder loader reads 16-bit files
            t = t * (255.0 / 65535.0)  # (a uint16 array holding nothing above 255 holds 8-bit values, read as such)
        elif kind == "float":
            t = t * (scale or float_scale(t) or 1.0)
        if float(t.max()) > 255.5 and kind == "float" and scale == 255.0:
            raise UserError(f"the images hold values up to {float(t.max()) / 255:.6g}: the model was fitted on "
                            f"floats in [0, 1], and new images are read the same way; give them in [0, 1] too")
        if float(t.max()) > 255.5:  # clamping would silently flatten every brighter pixel to white
            raise UserError(f"the images hold values up to {float(t.max()):.6g}, above 255: give intensities in "
                            f"[0, 255] (or floats in [0, 1]); 16-bit images as a uint16 array")
        t = t.round().clamp(0, 255).to(torch.uint8)
    names = [f"{i:06d}" for i in range(len(t))]
    return ImageSet(images=t.contiguous(), labels=None, names=names, name="array")


class Clusterer:
    """Any registered method: `Clusterer("gapdcec", n_clusters=10).fit(images)`; `n_clusters="auto"`
    estimates k first (`n_clusters_`, `k_estimate_`): from the images, or with known classes (DTC) from some of
    them held out as probes (methods/probe_k.py)."""

    method: str = "dec"

    def __init__(self, method: str | None = None, n_clusters: int | str = 10, *, seed: int = 0, device: str = "auto",
                 verbose: bool = False, **settings: Any):
        self.method_name = method or type(self).method
        self.n_clusters = n_clusters
        self.seed = seed
        self.device = device
        self.verbose = verbose
        self.settings = settings

    def _config(self, n_clusters: int):
        from .pipeline import make_config

        nested: dict[str, Any] = {}
        for key, value in self.settings.items():
            node = nested
            parts = key.split("__")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = value
        base = {"method": {"n_clusters": n_clusters},
                "train": {"seed": self.seed, "device": self.device, "progress": self.verbose}}
        from ..config import deep_update

        cfg = make_config(self.method_name, overrides=deep_update(base, nested))
        if cfg.data.reframe != "none":  # the images come as arrays, already cropped; nothing here reads files
            raise UserError("data__reframe applies where deepclust reads the image files: crop arrays before fit and "
                            f"predict with deepclust.data.reframe.reframe_images(images, size, {cfg.data.reframe!r}), or load "
                            f"a folder with deepclust.data.load_folder(path, reframe={cfg.data.reframe!r})")
        return cfg

    def fit(self, X, y=None, *, known_images=None, known_labels=None) -> "Clusterer":
        """Cluster the images X. `known_images` / `known_labels`: labelled images of other, known classes
        that a transfer method (DTC) learns from first; `known_classes_` keeps their labels in the order
        the network's classifier uses."""
        from .pipeline import fit

        self.input_scale_ = float_scale(X)
        data = as_imageset(X, self.input_scale_)
        known = None
        self.__dict__.pop("known_classes_", None)  # a refit without known classes must not keep old ones
        if (known_images is None) != (known_labels is None):
            raise UserError("give known_images and known_labels together (the labelled images of the known classes)")
        if known_images is not None:
            known = as_imageset(known_images, float_scale(known_images))  # its own [0, 1] or [0, 255]
            y_known = np.asarray(known_labels).reshape(-1)
            if len(y_known) != len(known):
                raise UserError(f"known_labels has {len(y_known)} entries for {len(known)} known images")
            self.known_classes_, inverse = np.unique(y_known, return_inverse=True)
            known = ImageSet(images=known.images, labels=torch.as_tensor(inverse, dtype=torch.int64),
                             names=known.names, name="known")
            if len(self.known_classes_) < 2:
                raise UserError("known_labels holds one class: a classifier of one class learns nothing; give 2 or more")
        self.__dict__.pop("k_estimate_", None)  # a refit with a given k must not keep an old estimate
        k = self.n_clusters
        if k == "auto":  # estimated before training: from known classes as probes, else the pixels (probe_k.py)
            from ..config import merge
            from .probe_k import estimate_k

            cfg = self._config(2)
            if known is not None:
                cfg = merge(cfg, {"encoder": {"n_known": len(self.known_classes_)}})
            self.k_estimate_ = estimate_k(cfg, data, known, echo=print if self.verbose else None,
                                          class_names=[str(c) for c in getattr(self, "known_classes_", [])] or None)
            k = self.k_estimate_.k
        elif not isinstance(k, (int, np.integer)) or isinstance(k, bool):
            raise UserError(f"n_clusters must be an integer of 2 or more, or 'auto', got {k!r}")
        cfg = self._config(int(k))
        if known is not None:
            from ..config import merge

            cfg = merge(cfg, {"encoder": {"n_known": len(self.known_classes_)}})
        self.n_clusters_ = cfg.method.n_clusters  # method__n_clusters, if given, wins over the estimate
        res = fit(cfg, data, echo=print if self.verbose else None, known=known)
        self.config_ = cfg
        self.model_ = res.model.eval()
        self.labels_ = res.labels
        self.confidence_ = res.confidence
        self.cluster_centers_ = res.centers
        self.embedding_ = res.embedding
        self.image_shape_ = tuple(data.images.shape[1:])
        from .. import novelty

        self.novelty_reference_, summary = novelty.fit_reference(self.model_, data.images, seed=self.seed)
        self.novelty_threshold_ = summary["threshold"]
        self.wall_s_ = res.wall_s
        return self

    def fit_predict(self, X, y=None, **fit_params) -> np.ndarray:
        return self.fit(X, **fit_params).labels_

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise UserError(f"this {type(self).__name__} is not fitted yet: call fit(images) first")

    def _images(self, X) -> torch.Tensor:
        data = as_imageset(X, getattr(self, "input_scale_", None))
        if tuple(data.images.shape[1:]) != self.image_shape_:
            raise UserError(f"images of shape {tuple(data.images.shape[1:])} differ from the "
                            f"{self.image_shape_} the model was fitted on")
        return data.images

    def novelty_score(self, X) -> np.ndarray:
        """How unlike the training images each image is (deepclust.novelty): above
        `novelty_threshold_` (the 99 % quantile of the training images' own scores) it fits no cluster."""
        from .. import novelty

        self._check_fitted()
        return novelty.score(self.model_, self._images(X), self.novelty_reference_).numpy()

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """The embedding of each image (N×D), the space `cluster_centers_` live in.

        Unlike scikit-learn's KMeans.transform (distances to the centres), this is the embedding itself
        for every method; for `KMeans` on raw pixels that is the scaled, flattened pixels.
        """
        self._check_fitted()
        return self.model_.embed(self._images(X)).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        from .pipeline import soft_assign

        z = torch.from_numpy(self.transform(X))
        labels, _, _ = soft_assign(z, torch.from_numpy(self.cluster_centers_), self.config_.method.alpha)
        return labels

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        # DEC, IDEC, ... fix their method, so (as scikit-learn's clone needs) `method` is a parameter only
        # of Clusterer itself.
        own = {"method": self.method_name} if type(self) is Clusterer else {}
        return {**own, "n_clusters": self.n_clusters, "seed": self.seed,
                "device": self.device, "verbose": self.verbose, **self.settings}

    def __repr__(self) -> str:
        """Like scikit-learn's: the class and the parameters that differ from their defaults."""
        defaults = {"n_clusters": 10, "seed": 0, "device": "auto", "verbose": False}
        shown = [f"{k}={v!r}" for k, v in self.get_params().items() if k not in defaults or defaults[k] != v]
        return f"{type(self).__name__}({', '.join(shown)})"

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
    def __init__(self, n_clusters: int | str = 10, **kw):
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
DeepCluster = _make("deepcluster", "DeepCluster")
DTC = _make("dtc", "DTC")
