"""Tests for deepclust.data: built-in datasets, folder loading, caching, errors.

Every test writes its cache under a temporary folder (DEEPCLUST_CACHE), never the home.
Built-in tests read the offline datasets beside the checkout (../shared/datasets, or
$DEEPCLUST_DATA) and are skipped when those are absent.
"""

from __future__ import annotations

import gzip
import os
import struct
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

import deepclust.data.builtin as builtin
import deepclust.data.folder as folder_mod
from deepclust.data import DATASETS, ImageSet, load_dataset, load_folder, resolve_data_root
from deepclust.errors import UserError

DATA = Path(os.environ.get("DEEPCLUST_DATA") or Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets")
needs_data = pytest.mark.skipif(not (DATA / "MNIST" / "raw").is_dir(), reason=f"offline datasets not found at {DATA}")


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One cache for the whole session, so each real dataset is decoded once."""
    return tmp_path_factory.mktemp("deepclust-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(session_cache, monkeypatch):
    monkeypatch.setenv("DEEPCLUST_CACHE", str(session_cache))


# ---------------------------------------------------------------- ImageSet


def _tiny_set(n: int = 4, c: int = 1) -> ImageSet:
    images = torch.arange(n * c * 4, dtype=torch.uint8).reshape(n, c, 2, 2)
    return ImageSet(images=images, labels=torch.arange(n), names=[f"x/{i}" for i in range(n)], name="x")


def test_imageset_properties_and_subset():
    s = _tiny_set(5, 3)
    assert len(s) == 5 and s.n_channels == 3 and s.image_shape == (3, 2, 2)
    assert s.skipped == []
    sub = s.subset([4, 0, -1])
    assert sub.names == ["x/4", "x/0", "x/4"]
    assert sub.labels.tolist() == [4, 0, 4]
    assert torch.equal(sub.images[1], s.images[0]) and sub.images.is_contiguous()
    assert s.subset(slice(1, 3)).names == ["x/1", "x/2"]
    assert s.subset(np.array([True, False, False, False, True])).names == ["x/0", "x/4"]
    with pytest.raises(IndexError):
        s.subset([5])
    with pytest.raises(AttributeError):
        s.name = "y"  # frozen


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(images=torch.zeros(2, 1, 3, 3)), TypeError),  # float
        (dict(images=torch.zeros(2, 3, 3, dtype=torch.uint8)), ValueError),  # 3-D
        (dict(images=torch.zeros(2, 2, 3, 3, dtype=torch.uint8)), ValueError),  # 2 channels
        (dict(images=torch.zeros(2, 1, 3, 6, dtype=torch.uint8)[..., ::2]), ValueError),  # not contiguous
        (dict(labels=torch.zeros(2, dtype=torch.int32)), TypeError),
        (dict(labels=torch.zeros(3, dtype=torch.int64)), ValueError),
        (dict(names=["a"]), ValueError),
    ],
)
def test_imageset_rejects_bad_layout(kwargs, error):
    args = dict(images=torch.zeros(2, 1, 3, 3, dtype=torch.uint8), labels=None, names=["a", "b"], name="t")
    args.update(kwargs)
    with pytest.raises(error):
        ImageSet(**args)


# ---------------------------------------------------------------- built-in datasets


@needs_data
def test_mnist_test_full():
    s = load_dataset("mnist-test", root=DATA)
    assert s.images.shape == (10_000, 1, 28, 28) and s.images.dtype == torch.uint8
    assert s.labels.dtype == torch.int64 and s.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert torch.bincount(s.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert s.names[123] == "mnist-test/000123" and s.name == "mnist-test"
    assert s.images.is_contiguous() and int(s.images.max()) == 255


@needs_data
def test_mnist_test_second_load_hits_cache(monkeypatch):
    first = load_dataset("mnist-test", root=DATA, limit=300)

    def boom(path):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(builtin, "read_idx", boom)
    second = load_dataset("mnist-test", root=DATA, limit=300)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)


@needs_data
@pytest.mark.parametrize("name, first_label", [("mnist", 5), ("fashion-mnist", 9)])
def test_mnist_and_fashion_train_then_test(name, first_label):
    s = load_dataset(name, root=DATA, limit=64)
    assert s.images.shape == (64, 1, 28, 28) and s.labels[0].item() == first_label
    assert s.names[-1] == f"{name}/000063"


@needs_data
def test_usps_matches_h5():
    s = load_dataset("usps", root=DATA)
    assert s.images.shape == (9298, 1, 16, 16) and s.images.dtype == torch.uint8
    with h5py.File(DATA / "USPS" / "usps.h5", "r") as f:
        train_t, test_t = f["train/target"][:], f["test/target"][:]
        first_pixels = np.rint(f["train/data"][0] * 255).reshape(16, 16)
    assert s.labels[:50].tolist() == train_t[:50].tolist()
    assert s.labels[7291:7341].tolist() == test_t[:50].tolist()
    assert np.array_equal(s.images[0, 0].numpy(), first_pixels.astype(np.uint8))


@needs_data
def test_coil20_full_and_resized():
    s = load_dataset("coil20", root=DATA)
    assert s.images.shape == (1440, 1, 128, 128)
    assert torch.bincount(s.labels).tolist() == [72] * 20
    assert s.names[:2] == ["coil20/obj1__0.png", "coil20/obj1__1.png"] and s.names[-1] == "coil20/obj20__71.png"
    small = load_dataset("coil20", root=DATA, image_size=32, channels=3, limit=100)
    assert small.images.shape == (100, 3, 32, 32) and small.images.dtype == torch.uint8
    assert torch.equal(small.images[:, 0], small.images[:, 2])  # grey repeated into RGB
    assert abs(small.images.float().mean() - s.images[:100].float().mean()) < 3  # resize keeps brightness


def test_digits():
    from sklearn.datasets import load_digits

    s = load_dataset("digits")
    assert s.images.shape == (1797, 1, 8, 8) and int(s.images.max()) == 255
    assert s.labels.tolist() == load_digits().target.tolist()


def _write_fake_mnist(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    with gzip.open(raw / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, len(images), 28, 28) + images.tobytes())
    with gzip.open(raw / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def test_changed_source_invalidates_cache(tmp_path):
    _write_fake_mnist(tmp_path, np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 3]))
    assert load_dataset("mnist-test", root=tmp_path).labels.tolist() == [1, 2, 3]
    _write_fake_mnist(tmp_path, np.full((4, 28, 28), 7, np.uint8), np.array([4, 5, 6, 7]))
    os.utime(tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz", ns=(1, 10**18))
    s = load_dataset("mnist-test", root=tmp_path)
    assert s.labels.tolist() == [4, 5, 6, 7] and int(s.images.max()) == 7


def test_corrupt_idx_is_user_error(tmp_path):
    _write_fake_mnist(tmp_path, np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 3]))
    with gzip.open(tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, 3, 28, 28) + b"\0" * 100)  # cut short
    with pytest.raises(UserError, match="cut short"):
        load_dataset("mnist-test", root=tmp_path)


def test_missing_dataset_names_the_fix(tmp_path):
    for name, shown in [("mnist", "MNIST"), ("usps", "USPS"), ("coil20", "COIL-20")]:
        with pytest.raises(UserError, match=rf"{shown} not found under .*--data-root.*DEEPCLUST_DATA"):
            load_dataset(name, root=tmp_path)


def test_resolve_data_root_order(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPCLUST_DATA", str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_data_root() == tmp_path / "env"
    monkeypatch.delenv("DEEPCLUST_DATA")
    (tmp_path / "shared" / "datasets").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert resolve_data_root() == (tmp_path / "shared" / "datasets").resolve()


@pytest.fixture
def no_data_anywhere(tmp_path, monkeypatch) -> Path:
    """Nothing found by the resolver, so it falls back to <cache>/datasets."""
    monkeypatch.delenv("DEEPCLUST_DATA", raising=False)
    monkeypatch.setenv("DEEPCLUST_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(builtin, "_REPO_DATA", tmp_path / "nowhere")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    assert resolve_data_root() == tmp_path / "cache" / "datasets"
    return tmp_path / "cache" / "datasets"


def test_default_location_download_failure(no_data_anywhere, monkeypatch):
    def offline(folder, root):
        raise OSError("network unreachable")

    monkeypatch.setattr(builtin, "_torchvision_download", offline)
    with pytest.raises(UserError, match="MNIST not found under .*DEEPCLUST_DATA"):
        load_dataset("mnist-test")


def test_default_location_download_success(no_data_anywhere, monkeypatch):
    calls = []

    def fake_download(folder, root):
        calls.append(folder)
        _write_fake_mnist(root, np.zeros((2, 28, 28), np.uint8), np.array([3, 4]))

    monkeypatch.setattr(builtin, "_torchvision_download", fake_download)
    assert load_dataset("mnist-test").labels.tolist() == [3, 4] and calls == ["MNIST"]


def test_bad_arguments_are_user_errors():
    with pytest.raises(UserError, match="unknown dataset 'cifar99': use one of mnist.*folder path"):
        load_dataset("cifar99")
    for kwargs in (dict(limit=0), dict(image_size=-1), dict(channels=2)):
        with pytest.raises(UserError):
            load_dataset("digits", **kwargs)
    assert set(DATASETS) == {"mnist", "mnist-test", "fashion-mnist", "usps", "coil20", "digits",
                             "fashion-mnist-1500", "coil20-32"}


# ---------------------------------------------------------------- folders

ODD_NAME = '<script>&".png'


def _thirds(w: int = 90, h: int = 30) -> Image.Image:
    """Red | green | blue vertical thirds: a centre crop must be green."""
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, : w // 3, 0] = 255
    arr[:, w // 3 : 2 * w // 3, 1] = 255
    arr[:, 2 * w // 3 :, 2] = 255
    return Image.fromarray(arr)


@pytest.fixture
def messy_folder(tmp_path) -> Path:
    root = tmp_path / "photos"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / ".git").mkdir()
    _thirds().save(root / "a" / "thirds.png")
    _thirds(64, 48).save(root / "a" / "b" / "photo.jpg", quality=95)
    Image.new("RGB", (20, 20), (10, 120, 200)).save(root / "a" / "b" / "c" / "upper.BMP")
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    Image.new("L", (40, 50), 90).save(root / "scan.tiff")
    Image.new("RGB", (30, 30), (200, 30, 30)).save(root / "pic.webp")
    Image.new("RGBA", (30, 30), (255, 0, 0, 0)).save(root / "rgba.png")  # fully transparent
    pal = Image.new("P", (30, 30), 1)
    pal.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    pal.save(root / "palette.png")
    Image.new("CMYK", (30, 30), (0, 255, 255, 0)).save(root / "cmyk.jpg")
    deep = np.full((64, 64), 1000, np.uint16)
    deep[:, 32:] = 60000
    Image.fromarray(deep).save(root / "deep16.png")
    Image.new("RGB", (10, 10), (0, 0, 0)).save(root / ODD_NAME)
    Image.new("RGB", (10, 10)).save(root / ".hidden.png")
    Image.new("RGB", (10, 10)).save(root / ".git" / "inside.png")
    (root / "readme.txt").write_text("not listed")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.jpg").write_text("this is text, not a JPEG")
    _thirds(200, 200).save(root / "whole.jpg")
    data = (root / "whole.jpg").read_bytes()
    (root / "trunc.jpg").write_bytes(data[: len(data) // 2])
    return root


GOOD = sorted([
    "a/thirds.png", "a/b/photo.jpg", "a/b/c/upper.BMP", "anim.gif", "scan.tiff", "pic.webp",
    "rgba.png", "palette.png", "cmyk.jpg", "deep16.png", ODD_NAME, "whole.jpg",
])


def test_folder_loads_good_files_and_lists_bad_ones(messy_folder):
    s = load_folder(messy_folder, image_size=16)
    assert s.names == GOOD and s.labels is None and s.name == str(messy_folder)
    assert s.images.shape == (len(GOOD), 3, 16, 16) and s.images.dtype == torch.uint8
    reasons = dict(s.skipped)
    assert sorted(reasons) == ["empty.png", "notes.jpg", "trunc.jpg"]
    assert "empty" in reasons["empty.png"] and "truncated" in reasons["trunc.jpg"]
    assert "not an image" in reasons["notes.jpg"]

    def px(name: str) -> list[int]:
        return s.images[s.names.index(name), :, 8, 8].tolist()

    assert px("a/thirds.png") == [0, 255, 0]  # centre crop of red|green|blue
    assert px("anim.gif") == [255, 0, 0]  # first frame
    assert px("rgba.png") == [255, 255, 255]  # transparent → white
    assert px("palette.png") == [0, 200, 0]
    assert px("scan.tiff") == [90, 90, 90]  # grey repeated into RGB
    r, g, b = px("cmyk.jpg")
    assert r > 200 and g < 60 and b < 60
    deep = s.images[s.names.index("deep16.png"), 0]
    assert int(deep.min()) == 4 and int(deep.max()) == 233  # 16-bit by its full range: 1000 / 257, 60000 / 257


def test_high_bit_images_read_as_a_viewer_shows_them():
    """The same picture in 8 and in 16 bits gives the same pixels: a 16-bit image is scaled by its full range,
    not stretched by its own min/max (which turned a flat white page black and a faint scan high-contrast)."""
    from deepclust.data.folder import _rescale_high_bit

    def read(arr, mode=None):
        im = Image.fromarray(arr) if mode is None else Image.fromarray(arr, mode)
        out = np.asarray(_rescale_high_bit(im))
        assert out.dtype == np.uint8
        return out

    white = np.full((8, 8), 65535, np.uint16)
    assert Image.fromarray(white).mode.startswith("I;16") and (read(white) == 255).all()
    faint = (np.linspace(100, 150, 64).reshape(8, 8) * 257).astype(np.uint16)
    assert read(faint).min() == 100 and read(faint).max() == 150
    as_int = np.linspace(0, 200, 64).reshape(8, 8).astype(np.int32)  # mode I holding 8-bit values
    assert read(as_int).max() == 200
    assert read((as_int * 257).astype(np.int32)).max() == 200  # mode I holding 16-bit values
    unit = np.linspace(0, 1, 64).reshape(8, 8).astype(np.float32)
    assert read(unit).min() == 0 and read(unit).max() == 255
    odd = np.linspace(-5, 5, 64).reshape(8, 8).astype(np.float32)  # no known scale: its own min/max
    assert read(odd).min() == 0 and read(odd).max() == 255
    nan = unit.copy()
    nan[0, 0] = np.nan
    assert read(nan)[0, 0] == 0 and read(nan).max() == 255


def test_folder_exif_orientation_and_decompression_bomb(tmp_path, monkeypatch):
    root = tmp_path / "exif"
    root.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90° clockwise to show, so the left half goes on top
    arr = np.zeros((32, 32, 3), np.uint8)
    arr[:, :16, 0] = 255  # left red, right blue
    arr[:, 16:, 2] = 255
    Image.fromarray(arr).save(root / "turned.jpg", exif=exif, quality=95)
    Image.new("RGB", (80, 80), (1, 2, 3)).save(root / "huge.png")
    Image.new("RGB", (200, 200), (9, 9, 9)).save(root / "scan.jpg")  # decodes at 1/8: 25×25
    # 80×80 and 200×200 count as huge now, for PIL (which would warn or refuse) and for our guard
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    monkeypatch.setenv("DEEPCLUST_MAX_MEGAPIXELS", "0.002")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw DecompressionBombWarning on the console
        s = load_folder(root, image_size=16)
    assert s.names == ["scan.jpg", "turned.jpg"] and s.images.shape == (2, 3, 16, 16)
    r, _, b = s.images[1, :, 2, 13].tolist()  # top right: red once upright (blue if not)
    assert r > 200 and b < 60
    assert s.skipped[0][0] == "huge.png" and "too large" in s.skipped[0][1]
    assert "80×80" in s.skipped[0][1] and "DEEPCLUST_MAX_MEGAPIXELS" in s.skipped[0][1]
    assert Image.MAX_IMAGE_PIXELS == 2000  # PIL's own setting is back
    for bad in ("lots", "nan", "inf", "0", "-5", "1e-7"):
        monkeypatch.setenv("DEEPCLUST_MAX_MEGAPIXELS", bad)
        with pytest.raises(UserError, match="DEEPCLUST_MAX_MEGAPIXELS"):
            load_folder(root, image_size=16)


def test_folder_channels(messy_folder, tmp_path):
    assert load_folder(messy_folder, image_size=8, channels=1).images.shape == (len(GOOD), 1, 8, 8)
    grey = tmp_path / "grey"
    grey.mkdir()
    Image.new("L", (12, 12), 40).save(grey / "a.png")  # already at the target size
    Image.new("RGB", (12, 12), (70, 70, 70)).save(grey / "b.jpg")  # colour file, grey content
    auto = load_folder(grey, image_size=12)
    assert auto.images.shape == (2, 1, 12, 12) and abs(int(auto.images[1].float().mean()) - 70) <= 2
    assert load_folder(grey, image_size=12, channels=3).images.shape == (2, 3, 12, 12)


def test_folder_second_load_hits_cache(messy_folder, monkeypatch):
    first = load_folder(messy_folder, image_size=20)
    calls = []
    monkeypatch.setattr(folder_mod, "decode_image", lambda *a: calls.append(a))
    second = load_folder(messy_folder, image_size=20)
    assert calls == [] and torch.equal(first.images, second.images)
    assert second.names == first.names and second.skipped == first.skipped
    os.utime(messy_folder / "scan.tiff", ns=(1, 10**18))  # a changed file means a new key
    monkeypatch.setattr(folder_mod, "decode_image", lambda *a: calls.append(a) or np.zeros((20, 20, 1), np.uint8))
    load_folder(messy_folder, image_size=20)
    assert len(calls) == len(GOOD) + 3


def test_load_dataset_dispatches_folders(messy_folder):
    s = load_dataset(str(messy_folder), image_size=24, limit=3)
    assert s.images.shape == (3, 3, 24, 24) and s.names == GOOD[:3]
    assert load_dataset(messy_folder).images.shape[-1] == 32  # folders default to 32 px (measured best)


def test_folder_errors(tmp_path):
    with pytest.raises(UserError, match="folder not found"):
        load_folder(tmp_path / "missing")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        load_folder(tmp_path / "file.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(UserError, match="no image files"):
        load_dataset(str(tmp_path / "empty"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_text("text")
    (bad / "b.png").write_bytes(b"")
    with pytest.raises(UserError, match="all 2 image files were skipped"):
        load_folder(bad)
    with pytest.raises(UserError, match="folder not found: .*missing; check the path"):  # a path: a folder that is gone
        load_dataset(str(tmp_path / "missing"))
    with pytest.raises(UserError, match="unknown dataset 'mnsit'"):  # a bare name: a mistyped dataset
        load_dataset("mnsit")
