"""Load any folder of images (recursively) as an ImageSet.

Real folders hold surprises: corrupt, truncated and empty files, text files with an
image extension, palette/CMYK/16-bit/transparent images, animations, huge scans. One
bad file must never stop a run, so every file is decoded inside its own try/except and
a failure becomes an entry in `skipped` (relative path, short reason) that the caller
reports. Decoded results are cached (see cache.py) so a second run does not decode again.
"""

from __future__ import annotations

import math

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from deepclust.data import cache
from deepclust.data.imageset import ImageSet
from deepclust.data.reframe import REFRAME_VERSION, WORK_SIDE, check_reframe, frame, reframe_digest
from deepclust.data.transforms import check_channels, check_image_size, check_limit
from deepclust.errors import UserError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
_HIGH_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
# RGB images whose bands differ by at most this much are grey (JPEG rounding leaves ±1).
_GREY_TOLERANCE = 2


def printable_name(name: str) -> str:
    """A file name as text that can be written to any UTF-8 file or console. Bytes of a name that are
    not UTF-8 (old drives, zip files from Windows) reach Python as surrogates, which no UTF-8 writer
    accepts; they become \\xNN escapes here. Names are kept as they are for opening the files."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        try:
            return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return name.encode("utf-8", "backslashreplace").decode("utf-8")


# Folders that hold no photos of their own: macOS' resource forks inside zip files.
_JUNK_DIRS = frozenset({"__MACOSX"})


def find_images(folder: Path, unreadable: list[tuple[str, str]] | None = None) -> list[str]:
    """Relative POSIX paths of image files under `folder`, sorted; hidden files/dirs left out.

    Symlinked folders are followed (each real folder once, so a link loop ends); sub-folders that cannot
    be listed are appended to `unreadable` as (relative path, reason) when a list is given."""
    found = []
    seen: set[str] = set()

    def failed(err: OSError) -> None:
        if unreadable is not None:
            rel = os.path.relpath(err.filename, folder) if err.filename else "."
            unreadable.append((Path(rel).as_posix() + "/", f"folder cannot be read: {err.strerror or err}"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=failed, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # reached again through a link: a loop, or two links to one folder
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _JUNK_DIRS]  # prune hidden dirs
        for fname in filenames:
            if not fname.startswith(".") and os.path.splitext(fname)[1].lower() in IMAGE_EXTENSIONS:
                found.append(Path(dirpath, fname).relative_to(folder).as_posix())
    return sorted(found)


def _flatten_alpha(im: Image.Image) -> Image.Image:
    """Composite a transparent image onto white: clustering should see the object, not
    whatever colour happens to sit under fully transparent pixels."""
    target = "LA" if im.mode in ("LA", "La") else "RGBA"
    arr = np.asarray(im.convert(target), dtype=np.int32)
    colour, alpha = arr[..., :-1], arr[..., -1:]
    out = (colour * alpha + 255 * (255 - alpha) + 127) // 255
    out = out[..., 0] if target == "LA" else out
    return Image.fromarray(out.astype(np.uint8))


def _rescale_high_bit(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit or float → 0–255 as an image viewer shows it, so the same picture saved in 8 and in 16
    bits gives the same pixels (a flat white stays white, a low-contrast scan stays low-contrast):
    16-bit by its full range (÷ 257); 32-bit integers likewise when they hold 16-bit values, as they are
    as 8-bit when they hold nothing above 255; floats in [0, 1] × 255, in [0, 255] as they are. Only values
    outside those ranges (or negative) have no known scale, and are stretched from the image's own min/max."""
    arr = np.asarray(im, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.any():
        return Image.fromarray(np.zeros(arr.shape, dtype=np.uint8))
    lo, hi = arr[finite].min(), arr[finite].max()
    if im.mode.startswith("I;16"):
        scale, lo = 255.0 / 65535.0, 0.0
    elif lo >= 0 and im.mode == "F" and hi <= 1.0:
        scale, lo = 255.0, 0.0
    elif lo >= 0 and hi <= 255.0:
        scale, lo = 1.0, 0.0
    elif lo >= 0 and im.mode == "I" and hi <= 65535.0:
        scale, lo = 255.0 / 65535.0, 0.0
    else:
        scale = 255.0 / (hi - lo)
    out = np.where(finite, (arr - lo) * scale, 0.0)
    return Image.fromarray(np.rint(out).clip(0, 255).astype(np.uint8))


def _to_8bit(im: Image.Image) -> Image.Image:
    """Any PIL mode → "L" or "RGB"."""
    mode = im.mode
    if mode in ("L", "RGB"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode in _HIGH_BIT_MODES:
        return _rescale_high_bit(im)
    if mode in ("P", "PA", "LA", "La", "RGBA", "RGBa"):
        return _flatten_alpha(im)
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation (phone photos are often stored sideways)."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - a broken EXIF block is no reason to drop the image
        return im


def resize_crop(im: Image.Image, size: int, reframe: str = "none") -> Image.Image:
    """Shorter side → size, centre crop to size×size, in one antialiased resize; with reframe="object" the
    square around the photo's object instead of the centre one, with "isolate" that square with a plain
    backdrop set to black (deepclust.data.reframe).

    `reducing_gap` first shrinks big images by an integer factor (fast, low memory).
    """
    box, alpha = frame(im, reframe)
    if alpha is None and im.size == (size, size) and box == (0, 0, size, size):
        return im
    out = im.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    if alpha is not None:  # reframe="isolate" on a plain backdrop: the background goes black
        out = Image.composite(out, Image.new(out.mode, out.size), alpha(size))
    return out


# PIL warns above 89 MP and refuses above 179 MP, judged on the stored size, as a guard against
# decompression bombs. Big scans are real in a curator's folder, and a JPEG decodes at 1/8 scale here
# (draft), so our own guard judges what will actually be decoded, against DEEPCLUST_MAX_MEGAPIXELS
# (default 400 MP: 1.2 GB as RGB, per decoding thread).
DEFAULT_MAX_MEGAPIXELS = 400
_pil_guard_lock = threading.Lock()
_pil_guard_users = 0
_pil_saved_limit: int | None = None


def max_decode_pixels() -> int:
    raw = os.environ.get("DEEPCLUST_MAX_MEGAPIXELS", "")
    try:
        mp = float(raw) if raw.strip() else DEFAULT_MAX_MEGAPIXELS
    except ValueError:
        raise UserError(f"DEEPCLUST_MAX_MEGAPIXELS={raw!r} is not a number: set it to megapixels, e.g. 400") from None
    if not (math.isfinite(mp) and mp * 1_000_000 >= 1):  # below a millionth no image has a pixel left
        raise UserError(f"DEEPCLUST_MAX_MEGAPIXELS={raw!r} must be a finite number of megapixels of at least 1e-6, e.g. 400")
    return int(mp * 1_000_000)


@contextmanager
def _own_size_guard():
    """Switch PIL's stored-size guard off while our own one (in decode_image) is in charge.

    Counted and locked, so the decoding threads share one switch and PIL's setting comes back after.
    """
    global _pil_guard_users, _pil_saved_limit
    with _pil_guard_lock:
        if _pil_guard_users == 0:
            _pil_saved_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        _pil_guard_users += 1
    try:
        yield
    finally:
        with _pil_guard_lock:
            _pil_guard_users -= 1
            if _pil_guard_users == 0:
                Image.MAX_IMAGE_PIXELS = _pil_saved_limit


class ImageTooLarge(ValueError):
    pass


def decode_image(path: Path, size: int, channels: int | None, reframe: str = "none") -> np.ndarray:
    """One file → H×W×C uint8 (C = channels, or for None 1 when grey and 3 when colour).

    Raises on any unreadable file; the caller turns that into a `skipped` entry.
    """
    if path.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    limit = max_decode_pixels()
    with _own_size_guard(), Image.open(path) as im:  # animated files open on their first frame
        if im.format in ("JPEG", "MPO"):
            # decode at 1/2, 1/4, 1/8 scale when that suffices (reframing crops, so it keeps more pixels)
            im.draft(None, (size, size) if reframe == "none" else (max(4 * size, WORK_SIDE),) * 2)
        w, h = im.size  # after draft: what will be decoded
        if w * h > limit:
            raise ImageTooLarge(
                f"too large to decode safely: {w}×{h} = {w * h / 1e6:.3g} MP to decode, over the "
                f"{limit / 1e6:g} MP limit (set DEEPCLUST_MAX_MEGAPIXELS to raise it)")
        im.load()  # decode now, so truncation is detected here
        # Everything stays inside `with`: `out` may be `im` itself, which closing invalidates.
        out = resize_crop(_to_8bit(_upright(im)), size, reframe)
        if channels == 1 and out.mode != "L":
            out = out.convert("L")
        elif channels == 3 and out.mode != "RGB":
            out = out.convert("RGB")
        arr = np.array(out)  # a copy, owned by numpy
        if channels is None and arr.ndim == 3:
            bands = arr.astype(np.int16)
            diff = max(np.abs(bands[..., 0] - bands[..., 1]).max(), np.abs(bands[..., 0] - bands[..., 2]).max())
            if diff <= _GREY_TOLERANCE:
                arr = np.array(out.convert("L"))
    return arr[..., None] if arr.ndim == 2 else arr


def _reason(e: Exception) -> str:
    """A short one-line reason for `skipped`."""
    if isinstance(e, ImageTooLarge):
        return str(e)
    if isinstance(e, Image.DecompressionBombError):  # PIL's own guard, should a caller re-enable it
        return "too large to decode safely: " + str(e).split(",")[0]
    if isinstance(e, UnidentifiedImageError):
        return "not an image, or an unsupported format"
    msg = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, OSError) and "truncated" in msg:
        return f"truncated file ({msg})"
    return msg if len(msg) <= 160 else msg[:157] + "..."


def _try_decode(path: Path, size: int, channels: int | None, reframe: str) -> np.ndarray | str:
    try:
        return decode_image(path, size, channels, reframe)
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the run
        return _reason(e)


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
        return st.st_size, st.st_mtime_ns
    except OSError:
        return -1, -1


def _decode_all(folder: Path, rels: list[str], size: int, channels: int | None, reframe: str) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """Decode in a small thread pool (PIL releases the GIL while decoding)."""
    workers = min(4, max(2, os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda rel: _try_decode(folder / rel, size, channels, reframe), rels))
    good = [(rel, r) for rel, r in zip(rels, results) if isinstance(r, np.ndarray)]
    skipped = [(rel, r) for rel, r in zip(rels, results) if isinstance(r, str)]
    if not good:
        first = f"{printable_name(skipped[0][0])}: {skipped[0][1]}" if skipped else "none"
        raise UserError(
            f"no readable image under {folder}: all {len(skipped)} image files were skipped "
            f"(first: {first}); check or replace the files"
        )
    n_ch = channels or (3 if any(a.shape[2] == 3 for _, a in good) else 1)
    images = np.empty((len(good), n_ch, size, size), dtype=np.uint8)
    for i, (_, arr) in enumerate(good):
        images[i] = arr.transpose(2, 0, 1)  # a grey image broadcasts into 3 channels
    return images, [rel for rel, _ in good], skipped


# Folders have no native size; this is their default. 32 px measured best for DCEC (and ST-DAC) on COIL-20 read as a
# folder (0.641 ± 0.004 ACC over 3 seeds vs 0.601 ± 0.036 at 64 px, at a quarter of the cost):
# benchmarks/results/folder-defaults/.
FOLDER_IMAGE_SIZE = 32


def load_folder(path: str | os.PathLike, image_size: int = FOLDER_IMAGE_SIZE, channels: int | None = None, *,
                limit: int | None = None, reframe: str = "none") -> ImageSet:
    """All images under `path` (recursively), size×size, labels None.

    channels: None = 3 if any readable image is colour, else 1; 1 = grey; 3 = RGB.
    limit: decode only the first N files (in sorted order), for tests and quick looks.
    reframe: "object" crops each photo to the square around its object instead of the centre (reframe.py).
    Unreadable files are listed in `skipped` as (relative path, reason), not raised.
    """
    check_image_size(image_size)
    check_channels(channels)
    check_limit(limit)
    check_reframe(reframe)
    max_pixels = max_decode_pixels()  # a bad DEEPCLUST_MAX_MEGAPIXELS fails here, once
    folder = Path(path).expanduser()
    if not folder.exists():
        raise UserError(f"folder not found: {folder}; check the path or pass an existing folder of images")
    if not folder.is_dir():
        raise UserError(f"{folder} is a file, not a folder; pass the folder that holds the images")
    unreadable: list[tuple[str, str]] = []
    rels = find_images(folder, unreadable)
    if not rels and unreadable and unreadable[0][0] == "./":
        raise UserError(f"cannot read the folder {folder}: {unreadable[0][1].split(': ', 1)[1]}; "
                        f"check its permissions")
    if not rels:
        exts = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        raise UserError(f"no image files ({exts}) found under {folder}; pass the folder that holds the images")
    if limit is not None:
        rels = rels[:limit]

    key = cache.make_key("folder", str(folder.resolve()), image_size, channels, max_pixels,
                         *(() if reframe == "none" else (f"reframe={reframe}/{REFRAME_VERSION}/{reframe_digest()}",)),
                         [(rel, *_stat(folder / rel)) for rel in rels])
    cache_file = cache.cache_dir() / "folders" / f"{key}.npz"
    cached = cache.load_npz(cache_file)
    if cached is not None and {"images", "names", "skipped_files", "skipped_reasons"} <= cached.keys():
        images, names = cached["images"], [str(s) for s in cached["names"]]
        skipped = list(zip(map(str, cached["skipped_files"]), map(str, cached["skipped_reasons"])))
    else:
        ImageFile.LOAD_TRUNCATED_IMAGES = False  # PIL's default; a truncated file must fail, not half-load
        images, names, skipped = _decode_all(folder, rels, image_size, channels, reframe)
        cache.save_npz(
            cache_file, images=images, names=np.array(names, dtype=str),
            skipped_files=np.array([f for f, _ in skipped], dtype=str),
            skipped_reasons=np.array([r for _, r in skipped], dtype=str),
        )
    skipped = unreadable + skipped
    return ImageSet(images=torch.from_numpy(images), labels=None, names=names, name=str(path), skipped=skipped,
                    root=str(folder.resolve()))
