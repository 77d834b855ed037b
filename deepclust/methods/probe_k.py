"""`--k auto`: how many clusters, before the method trains.

Without labelled known classes, from the pixels (`cluster.estimate_k.estimate_k_images`, the eigengap). With
them (DTC, `--known SORTED/`), by Deep Transfer Clustering's probe estimate (Han et al. 2019, §2.3;
`cluster.estimate_k.estimate_k_probe`): some known classes are held out as probes, a classifier of the others
is trained with the method's own supervised stage, and its features of the probes and of the new images are
clustered for each candidate number of new classes. This costs one more supervised stage on part of the known
classes; the run itself then learns from all of them.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..cluster.estimate_k import KEstimate, ProbeKEstimate, estimate_k_images, estimate_k_probe
from ..config import RunConfig, merge
from ..data.imageset import ImageSet
from ..data.known import class_index, known_class_names

MIN_KNOWN_CLASSES = 4  # a classifier of 2 classes, and 2 validation probe classes
MAX_PROBE_CLASSES = 10  # the reference holds out 10 of CIFAR-100's 80 known classes
ANCHOR_SHARE = 0.6  # of the probe classes, the share that keeps its labels (the reference's split_ratio)
MIN_VALIDATION = 2  # with one validation class its ACC is best at the fewest clusters, whatever they hold


def estimate_k(cfg: RunConfig, data: ImageSet, known: ImageSet | None = None,
               echo: Callable[[str], None] | None = None,
               class_names: list[str] | None = None) -> KEstimate | ProbeKEstimate:
    """The estimate `--k auto` uses: from probe classes when `known` has at least MIN_KNOWN_CLASSES classes,
    else from the pixels. `class_names`: the known classes' names by label (default: their subfolders, or
    data.known_classes)."""
    seed = cfg.train.seed
    if known is not None:
        n_classes = int(known.labels.max()) + 1
        if n_classes >= MIN_KNOWN_CLASSES:
            return estimate_k_known(cfg, data, known, echo, class_names)
        if echo:
            echo(f"--k auto: {n_classes} known classes are too few to hold some out as probes (at least "
                 f"{MIN_KNOWN_CLASSES}); estimating k from the pixels instead")
    return estimate_k_images(data.images, seed=seed)


def split_probe_classes(n_classes: int, seed: int = 0) -> tuple[list[int], list[int], list[int]]:
    """(anchor, validation, trained) class indices: a seeded draw of half the classes (at least MIN_VALIDATION,
    at most MAX_PROBE_CLASSES) as probes, ANCHOR_SHARE of them anchors as long as MIN_VALIDATION remain to
    validate (so with 4 or 5 known classes there are no anchors)."""
    order = np.random.default_rng(seed).permutation(n_classes).tolist()
    n_probe = max(MIN_VALIDATION, min(MAX_PROBE_CLASSES, n_classes // 2))
    n_anchor = min(n_probe - MIN_VALIDATION, round(ANCHOR_SHARE * n_probe))
    return sorted(order[:n_anchor]), sorted(order[n_anchor:n_probe]), sorted(order[n_probe:])


def _classes(known: ImageSet, classes: list[int], relabel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of `classes` and their labels (renumbered 0.. in the given order when `relabel`)."""
    mapped = class_index(known.labels, classes)
    keep = mapped >= 0
    return known.images[keep], (mapped[keep] if relabel else known.labels[keep])


def estimate_k_known(cfg: RunConfig, data: ImageSet, known: ImageSet,
                     echo: Callable[[str], None] | None = None, class_names: list[str] | None = None) -> ProbeKEstimate:
    """DTC's probe estimate: train the method's supervised stage on the known classes that are not probes,
    then `estimate_k_probe` on its features (the trunk, before the known-class classifier)."""
    from ..data.folder import printable_name
    from ..registry import LOSSES
    from .pipeline import fit

    names = list(class_names) if class_names is not None else known_class_names(known, cfg.data.known_classes)
    anchor, val, trained = split_probe_classes(len(names), cfg.train.seed)
    if echo:
        echo(f"--k auto: learning {len(trained)} of the {len(names)} known classes; the other {len(anchor) + len(val)} "
             f"({', '.join(printable_name(names[c]) for c in anchor + val)}) are probes for the number of new classes")
    x_train, y_train = _classes(known, trained, relabel=True)
    train_set = ImageSet(images=x_train, labels=y_train, names=[f"known/{i}" for i in range(len(x_train))],
                         name=f"{known.name} (classes without the probes)")
    # The supervised stage only: the clustering stage's terms off (its k is what is being estimated), but for a
    # term that learns from the known classes, wherever a config puts it.
    off = {name: 0.0 for name in cfg.cluster.losses if "class_labels" not in LOSSES.get(name).needs}
    sub = merge(cfg, {"encoder": {"n_known": len(trained)}, "cluster": {"losses": off},
                      "method": {"n_clusters": min(cfg.method.n_clusters, len(data))}})
    res = fit(sub, data, echo=None, known=train_set, assign=False)
    chunk = cfg.train.eval_max
    x_anchor, y_anchor = _classes(known, anchor, relabel=True) if anchor else (known.images[:0], known.labels[:0])
    x_val, y_val = _classes(known, val, relabel=False)
    est = estimate_k_probe(res.model.embed(x_anchor, chunk, trunk=True).cpu(), y_anchor,
                           res.model.embed(x_val, chunk, trunk=True).cpu(), y_val,
                           res.model.embed(data.images, chunk, trunk=True).cpu(), seed=cfg.train.seed,
                           class_names={"anchor": [names[c] for c in anchor], "validation": [names[c] for c in val],
                                        "trained": [names[c] for c in trained]})
    return est
