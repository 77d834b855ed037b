"""Built-in benchmark datasets, read straight from their original files.

MNIST and Fashion-MNIST are read from the idx `.gz` files with gzip + numpy rather than
through torchvision's dataset classes, because those write decompressed copies next to
the sources and the shared dataset folder is read-only. Decoded arrays are cached as
`.npy` (see cache.py), keyed by the source files' size and modification time.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image

from deepclust.data import cache
from deepclust.data.imageset import ImageSet
from deepclust.data.transforms import check_limit
from deepclust.errors import UserError

DATASETS: tuple[str, ...] = ("mnist", "mnist-test", "fashion-mnist", "usps", "coil20", "digits",
                             "fashion-mnist-1500", "coil20-32")

# Proxies for Kudari et al.'s Indian Digital Heritage set (10 classes x 150 images, not public), built
# reproducibly from a public set. name -> (source dataset, images per class or None = all, side in px or
# None = native). fashion-mnist-1500: 150 images of each of the 10 classes, drawn without replacement
# from all 70,000 Fashion-MNIST images with numpy's default_rng(PROXY_SEED), kept in source order.
# coil20-32: all of COIL-20 (72 poses per object) at 32x32 (bilinear, antialiased), small enough for
# the paper's 4-block VGG autoencoder (32 -> 16 -> 8 -> 4 -> 2) to train in seconds per epoch on a CPU.
PROXY_SEED = 20210917
PROXIES: dict[str, tuple[str, int | None, int | None]] = {
    "fashion-mnist-1500": ("fashion-mnist", 150, None),
    "coil20-32": ("coil20", None, 32),
}

# The checkout sits beside shared/; resolved from this file so any working directory works.
_REPO_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"

_DISPLAY = {"mnist": "MNIST", "mnist-test": "MNIST", "fashion-mnist": "Fashion-MNIST",
            "usps": "USPS", "coil20": "COIL-20", "digits": "digits",
            "fashion-mnist-1500": "Fashion-MNIST", "coil20-32": "COIL-20"}
# name -> (folder under the data root, idx splits in dataset order)
_IDX = {"mnist": ("MNIST", ("train", "t10k")), "mnist-test": ("MNIST", ("t10k",)),
        "fashion-mnist": ("FashionMNIST", ("train", "t10k"))}
_COIL_RE = re.compile(r"^obj(\d+)__(\d+)\.png$")

Arrays = tuple[np.ndarray, np.ndarray]  # images N×H×W uint8, labels N int64


def default_data_root() -> Path:
    """Where datasets are downloaded when nothing else is found: <cache dir>/datasets."""
    return cache.cache_dir() / "datasets"


def resolve_data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds the datasets.

    Order: explicit `root` > $DEEPCLUST_DATA > ../shared/datasets from the working
    directory > ../shared/datasets beside this checkout > <cache dir>/datasets
    (~/.cache/deepclust/datasets unless $DEEPCLUST_CACHE is set).
    """
    if root is not None and str(root).strip():
        return Path(root).expanduser()
    env = os.environ.get("DEEPCLUST_DATA", "").strip()
    if env:
        return Path(env).expanduser()
    for candidate in (Path.cwd() / ".." / "shared" / "datasets", _REPO_DATA):
        if candidate.is_dir():
            return candidate.resolve()
    return default_data_root()


def _not_found(name: str, root: Path) -> UserError:
    return UserError(f"{_DISPLAY[name]} not found under {root}; pass --data-root or set DEEPCLUST_DATA")


def _torchvision_download(folder: str, root: Path) -> None:
    """Fetch the idx `.gz` files into root/<folder>/raw with torchvision (needs internet).

    torchvision prints progress; it is silenced because loaders never print.
    """
    from torchvision import datasets

    cls = {"MNIST": datasets.MNIST, "FashionMNIST": datasets.FashionMNIST}[folder]
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)  # torchvision sets none: an offline machine could hang
    try:
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            cls(str(root), train=False, download=True)  # fetches all four files
    finally:
        socket.setdefaulttimeout(old_timeout)


def read_idx(path: Path) -> np.ndarray:
    """One idx file (gzipped or not) as a uint8 array: images from byte 16, labels from byte 8."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise UserError(f"{path} is unreadable ({e}); replace it with a good copy") from e
    ndim = data[3] if len(data) >= 4 else 0
    header = 4 + 4 * ndim
    if len(data) < header or data[:3] != b"\x00\x00\x08" or ndim == 0:
        raise UserError(f"{path} is not a uint8 idx file; replace it with a good copy")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) - header != int(np.prod(dims)):
        raise UserError(f"{path} is cut short or padded; replace it with a good copy")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _idx_file(raw: Path, split: str, kind: str) -> Path | None:
    """The .gz file, or the decompressed one torchvision may have left, or None."""
    stem = f"{split}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    for p in (raw / f"{stem}.gz", raw / stem):
        if p.is_file():
            return p
    return None


def _idx_sources(name: str, root: Path, allow_download: bool) -> list[Path]:
    folder, splits = _IDX[name]
    raw = root / folder / "raw"

    def find() -> list[Path | None]:
        return [_idx_file(raw, s, k) for s in splits for k in ("images", "labels")]

    files = find()
    if None in files and allow_download:
        try:
            _torchvision_download(folder, root)
        except Exception as e:  # any failure means: not available here
            raise _not_found(name, root) from e
        files = find()
    if None in files:
        raise _not_found(name, root)
    return [p for p in files if p is not None]


def _decode_idx(sources: list[Path]) -> Arrays:
    """Images and labels of all splits, concatenated in order (train then test)."""
    images, labels = [], []
    for img_path, lab_path in zip(sources[::2], sources[1::2]):
        imgs, labs = read_idx(img_path), read_idx(lab_path)
        if imgs.ndim != 3 or labs.ndim != 1 or len(imgs) != len(labs):
            raise UserError(f"{img_path} and {lab_path} do not match; replace them with good copies")
        images.append(imgs)
        labels.append(labs.astype(np.int64))
    return np.concatenate(images), np.concatenate(labels)


def _decode_usps(sources: list[Path]) -> Arrays:
    """usps.h5: train then test, floats in [0, 1] → uint8 by round(x*255)."""
    images, labels = [], []
    try:
        with h5py.File(sources[0], "r") as f:
            for split in ("train", "test"):
                data = np.asarray(f[split]["data"], dtype=np.float32)
                images.append(np.rint(np.clip(data, 0.0, 1.0) * 255).astype(np.uint8).reshape(-1, 16, 16))
                labels.append(np.asarray(f[split]["target"]).astype(np.int64))
    except (OSError, KeyError, ValueError) as e:
        raise UserError(f"{sources[0]} is not a readable USPS HDF5 file ({e}); replace it with a good copy") from e
    return np.concatenate(images), np.concatenate(labels)


def _coil_sources(root: Path) -> list[Path]:
    """COIL-20 PNGs sorted by (object, pose): the order labels and names follow."""
    folder = root / "COIL20" / "coil-20-proc"
    found = []
    if folder.is_dir():
        for p in folder.iterdir():
            m = _COIL_RE.match(p.name)
            if m:
                found.append(((int(m.group(1)), int(m.group(2))), p))
    if not found:
        raise _not_found("coil20", root)
    return [p for _, p in sorted(found)]


def _read_grey(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    except Exception as e:  # noqa: BLE001 - any decoder failure means a bad file
        raise UserError(f"{path} is not a readable image ({e}); replace it with a good copy") from e


def _decode_coil(sources: list[Path]) -> Arrays:
    with ThreadPoolExecutor(max_workers=min(4, max(2, os.cpu_count() or 2))) as pool:
        images = list(pool.map(_read_grey, sources))
    if len({im.shape for im in images}) != 1:
        raise UserError(f"COIL-20 images under {sources[0].parent} differ in size; replace them with the 128×128 originals")
    labels = np.array([int(_COIL_RE.match(p.name).group(1)) - 1 for p in sources], dtype=np.int64)
    return np.stack(images), labels


def _load_digits(limit: int | None) -> Arrays:
    """scikit-learn's bundled 8×8 digits; values 0–16 scaled to 0–255 (no cache: it is tiny)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.rint(d.images[:limit] * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return images, d.target[:limit].astype(np.int64)


def _cached(name: str, sources: list[Path], decode: Callable[[list[Path]], Arrays], limit: int | None) -> Arrays:
    """Decoded arrays from the cache when the sources are unchanged; else decode and cache."""
    key = cache.make_key(name, cache.file_stats(sources))
    base = cache.cache_dir() / "builtin" / f"{name}-{key}"
    img_path, lab_path = Path(f"{base}.images.npy"), Path(f"{base}.labels.npy")
    images, labels = cache.load_npy(img_path, limit), cache.load_npy(lab_path, limit)
    if images is not None and labels is not None and len(images) == len(labels):
        return images, labels
    images, labels = decode(sources)
    cache.save_npy(img_path, images)
    cache.save_npy(lab_path, labels)
    if limit is None:
        return images, labels
    return images[:limit].copy(), labels[:limit].copy()  # copies: let the full arrays go


def _names(name: str, sources: list[Path], n: int) -> list[str]:
    if name == "coil20":
        return [f"coil20/{p.name}" for p in sources[:n]]
    return [f"{name}/{i:06d}" for i in range(n)]


def proxy_indices(labels: np.ndarray, per_class: int, seed: int = PROXY_SEED) -> np.ndarray:
    """Indices of `per_class` images of every class, drawn without replacement with a fixed seed,
    sorted (so the subset keeps the source's order)."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        pool = np.flatnonzero(labels == c)
        if len(pool) < per_class:
            raise UserError(f"class {c} has only {len(pool)} images; cannot draw {per_class}")
        picks.append(rng.choice(pool, size=per_class, replace=False))
    return np.sort(np.concatenate(picks))


def _load_proxy(name: str, root: str | os.PathLike | None, limit: int | None) -> ImageSet:
    from deepclust.data.transforms import resize_images

    source, per_class, size = PROXIES[name]
    base = load_builtin(source, root=root)
    images, labels, names = base.images, base.labels, base.names
    if per_class is not None:
        idx = torch.from_numpy(proxy_indices(labels.numpy(), per_class))
        images, labels, names = images[idx], labels[idx], [names[i] for i in idx.tolist()]
    if size is not None:
        images = resize_images(images, size)
    if limit is not None:
        images, labels, names = images[:limit], labels[:limit], names[:limit]
    return ImageSet(images=images.contiguous(), labels=labels.clone(), names=list(names), name=name)


def load_builtin(name: str, root: str | os.PathLike | None = None, limit: int | None = None) -> ImageSet:
    """One built-in dataset at its native size, grey (N×1×H×W), with labels.

    `limit` keeps the first N images (for tests and quick looks).
    """
    if name not in DATASETS:
        raise UserError(f"unknown built-in dataset {name!r}: use one of {', '.join(DATASETS)}")
    check_limit(limit)
    if name in PROXIES:
        return _load_proxy(name, root, limit)
    if name == "digits":
        sources: list[Path] = []
        images, labels = _load_digits(limit)
    else:
        data_root = resolve_data_root(root)
        at_default = root is None and data_root == default_data_root()
        if name in _IDX:
            sources, decode = _idx_sources(name, data_root, allow_download=at_default), _decode_idx
        elif name == "usps":
            h5 = data_root / "USPS" / "usps.h5"
            if not h5.is_file():
                raise _not_found(name, data_root)
            sources, decode = [h5], _decode_usps
        else:
            sources, decode = _coil_sources(data_root), _decode_coil
        images, labels = _cached(name, sources, decode, limit)
    images = np.ascontiguousarray(images)
    if not images.flags.writeable:  # torch.from_numpy needs a writable array
        images = images.copy()
    return ImageSet(
        images=torch.from_numpy(images).unsqueeze(1),
        labels=torch.from_numpy(np.array(labels, dtype=np.int64)),
        names=_names(name, sources, len(images)),
        name=name,
    )
