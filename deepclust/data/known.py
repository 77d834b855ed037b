"""The labelled images of known classes that Deep Transfer Clustering learns from before it clusters the
new images (Han et al. 2019; Gunari et al., papers/003): a built-in dataset split by class
(`data.known_classes`: those classes are known, the others are clustered), or a folder with one subfolder
of images per known class (`data.known`, `--known SORTED/`)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..config import RunConfig, merge
from ..errors import UserError
from .imageset import ImageSet


def prepare_known(cfg: RunConfig, data: ImageSet) -> tuple[RunConfig, ImageSet, ImageSet | None]:
    """(config with encoder.n_known set, images to cluster, labelled known images with labels 0..C-1 or None).
    The known images get the size and channels of the images to cluster."""
    d = cfg.data
    if d.attention not in ("none", "grabcut"):
        raise UserError(f"data.attention must be none or grabcut, got '{d.attention}'")
    if d.attention == "grabcut" and d.reframe != "none":
        raise UserError("data.attention=grabcut takes the outer 10 % of each known image for background, and "
                        f"data.reframe={d.reframe} crops the images close around their objects, so GrabCut would cut "
                        "into them: use one of the two")
    if d.attention != "none" and not (d.known_classes or d.known):
        raise UserError("data.attention removes the background of the labelled known images, and none were given: "
                        "add --known FOLDER, or drop data.attention")
    if d.known_classes and d.known:
        raise UserError("give the known classes one way: data.known_classes (classes of a built-in dataset) or "
                        "data.known / --known (a folder of class subfolders), not both")
    if d.known_classes:
        known, target = split_by_class(data, d.known_classes)
    elif d.known:
        known, target = load_known_folder(d.known, data, d.reframe), data
    else:
        return cfg, data, None
    if d.attention == "grabcut":
        from ..explain.grabcut import grabcut_foreground

        images, _ = grabcut_foreground(known.images)
        known = ImageSet(images=images, labels=known.labels, names=known.names, name=known.name,
                         skipped=known.skipped, root=known.root)
    n_known = int(known.labels.max()) + 1
    return merge(cfg, {"encoder": {"n_known": n_known}}), target, known


def class_index(labels: torch.Tensor, classes) -> torch.Tensor:
    """Each label's position in `classes` (the labels renumbered 0..C-1 in that order), -1 where not among them."""
    classes = torch.as_tensor(list(classes), dtype=torch.int64)
    top = max(int(labels.max()) if len(labels) else -1, int(classes.max()) if len(classes) else -1)
    lookup = torch.full((top + 1,), -1, dtype=torch.int64)
    lookup[classes] = torch.arange(len(classes))
    return lookup[labels]


def split_by_class(data: ImageSet, classes) -> tuple[ImageSet, ImageSet]:
    """(the images of `classes`, labels renumbered 0..C-1 in the given order; every other image, labels kept)."""
    if data.labels is None:
        raise UserError(f"data.known_classes needs a dataset with labels ({data.name} has none): for a folder, "
                        f"give the known classes as a folder of class subfolders with --known SORTED/")
    classes = list(dict.fromkeys(int(c) for c in classes))
    present = set(torch.unique(data.labels).tolist())
    absent = [c for c in classes if c not in present]
    if absent:
        raise UserError(f"data.known_classes {absent} are not classes of {data.name} (it has {sorted(present)})")
    if len(classes) < 2:
        raise UserError("data.known_classes needs at least 2 classes: a classifier of one class learns nothing")
    if set(classes) >= present:
        raise UserError(f"data.known_classes holds every class of {data.name}: leave some out to cluster them")
    mapped = class_index(data.labels, classes)
    is_known = mapped >= 0
    known = data.subset(is_known.numpy())
    known = ImageSet(images=known.images, labels=mapped[is_known].contiguous(), names=known.names,
                     name=f"{data.name} classes {classes}")
    target = data.subset((~is_known).numpy())
    target = ImageSet(images=target.images, labels=target.labels, names=target.names,
                      name=f"{data.name} without classes {classes}", skipped=data.skipped, root=data.root)
    return known, target


def load_known_folder(path: str, like: ImageSet, reframe: str = "none") -> ImageSet:
    """Every image under `path`, labelled by its first-level subfolder (the class), at the size and channels
    of `like`, cropped as the images to cluster are (`reframe`). Files outside the class subfolders, and
    unreadable files, are left out and listed."""
    from . import load_folder

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UserError(f"--known {path}: not a folder; give a folder with one subfolder of images per known class")
    data = load_folder(folder, int(like.images.shape[-1]), like.n_channels, reframe=reframe)
    classes = sorted({n.split("/", 1)[0] for n in data.names if "/" in n})
    loose = [n for n in data.names if "/" not in n]
    if len(classes) < 2:
        raise UserError(f"--known {path}: found {len(classes)} class subfolder(s) with images; put the labelled images "
                        f"in one subfolder per known class (at least 2), e.g. {path}/tower/, {path}/gate/")
    keep = [i for i, n in enumerate(data.names) if "/" in n]
    index = {c: i for i, c in enumerate(classes)}
    sub = data.subset(keep)
    labels = torch.tensor([index[n.split("/", 1)[0]] for n in sub.names], dtype=torch.int64)
    skipped = list(data.skipped) + [(n, "not in a class subfolder") for n in loose]
    return ImageSet(images=sub.images, labels=labels, names=sub.names, name=str(folder), skipped=skipped,
                    root=str(folder))


def known_class_names(known: ImageSet, classes=()) -> list[str]:
    """The name of each known class, by label: the subfolder of a folder's images; for a built-in dataset's
    `data.known_classes` (label i is classes[i]) the original class; else the label itself."""
    if known.root is None:
        n = int(known.labels.max()) + 1
        classes = list(dict.fromkeys(int(c) for c in classes))  # as split_by_class numbers them
        return [str(c) for c in classes] if len(classes) == n else [str(i) for i in range(n)]
    names: dict[int, str] = {}
    for n, y in zip(known.names, known.labels.tolist()):
        names.setdefault(y, n.split("/", 1)[0])
    return [names[i] for i in range(len(names))]
