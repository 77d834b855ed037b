"""Data loading: built-in benchmark datasets and arbitrary image folders, as `ImageSet`s.

`load_dataset` is the single entry point the CLI and benchmarks use; it hides whether the
images came from an idx file, an HDF5 file or a folder of JPEGs.
"""

from __future__ import annotations

import os
from pathlib import Path

from deepclust.data.builtin import DATASETS, load_builtin, resolve_data_root
from deepclust.data.folder import FOLDER_IMAGE_SIZE, load_folder
from deepclust.data.imageset import ImageSet
from deepclust.data.reframe import check_reframe, reframe_images
from deepclust.data.transforms import check_channels, check_image_size, check_limit, convert_channels, resize_images
from deepclust.errors import UserError

__all__ = ["DATASETS", "FOLDER_IMAGE_SIZE", "ImageSet", "load_dataset", "load_folder", "resolve_data_root"]


def load_dataset(
    name: str | os.PathLike,
    root: str | os.PathLike | None = None,
    image_size: int | None = None,
    channels: int | None = None,
    limit: int | None = None,
    reframe: str = "none",
) -> ImageSet:
    """A built-in dataset by name, or every image of a folder.

    Built-ins keep their native size and 1 channel unless `image_size` / `channels` ask
    otherwise (e.g. coil20 at 32 px). Folders default to FOLDER_IMAGE_SIZE (32) px and automatic channels.
    `root` is where the built-in datasets live (see `resolve_data_root`); folders ignore it.
    `reframe="object"` crops each image to the square around its object, "isolate" also sets a plain backdrop
    to black (deepclust.data.reframe).
    """
    check_image_size(image_size)
    check_channels(channels)
    check_limit(limit)
    check_reframe(reframe)
    key = str(name).strip()
    if key.lower() in DATASETS:
        data = load_builtin(key.lower(), root=root, limit=limit)
        images = data.images
        if reframe != "none":
            images = reframe_images(images, image_size or int(images.shape[-1]), reframe)
        elif image_size is not None:
            images = resize_images(images, image_size)
        if channels is not None:
            images = convert_channels(images, channels)
        if images is data.images:
            return data
        return ImageSet(images=images, labels=data.labels, names=data.names, name=data.name)
    folder = Path(key).expanduser()
    if key and folder.exists():
        return load_folder(folder, image_size or FOLDER_IMAGE_SIZE, channels, limit=limit, reframe=reframe)
    if folder.is_absolute() or "/" in key or os.sep in key:
        raise UserError(f"folder not found: {folder}; check the path")
    raise UserError(
        f"unknown dataset {key!r}: use one of {', '.join(DATASETS)}, or a folder path"
    )
