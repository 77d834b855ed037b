"""On-disk cache of decoded images, so a second load of the same data skips decoding.

Keys are hashes of everything the decoded result depends on (source paths, sizes,
modification times, loader settings, a format version), so a changed source or setting
simply misses the cache: nothing ever has to be invalidated by hand. Writes are atomic
(temporary file + rename) because several runs may share one cache folder. The cache is
only an accelerator: if it cannot be read or written, loading carries on without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

# Bump when the decoded layout or the decoding itself changes, so old entries miss.
CACHE_VERSION = 2  # 2: 16-bit and float images by their full range, not their own min/max (2026-12-08)


def cache_dir() -> Path:
    """$DEEPCLUST_CACHE if set, else ~/.cache/deepclust (not created here)."""
    env = os.environ.get("DEEPCLUST_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "deepclust"


def file_stats(paths: Iterable[Path]) -> list[tuple[str, int, int]]:
    """(absolute path, size, mtime_ns) of each file: cheap to get, and changes with the file."""
    out = []
    for p in paths:
        st = os.stat(p)
        out.append((str(Path(p).resolve()), st.st_size, st.st_mtime_ns))
    return out


def make_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (plus the cache version)."""
    blob = json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    """Write through a temporary file in the same folder, then rename over `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    except OSError:
        return  # unwritable cache folder: carry on uncached
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a cache entry holds nothing secret
        os.replace(tmp, path)
    except Exception:
        Path(tmp).unlink(missing_ok=True)


def save_npy(path: Path, array: np.ndarray) -> None:
    """Cache one array as .npy (never pickled)."""
    _atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


def load_npy(path: Path, rows: int | None = None) -> np.ndarray | None:
    """A cached array (only its first `rows` rows if given), or None when absent/unreadable."""
    if not path.is_file():
        return None
    try:
        if rows is None:
            return np.load(path, allow_pickle=False)
        # Memory-map so that taking a few rows of a big array reads only those rows.
        return np.array(np.load(path, mmap_mode="r", allow_pickle=False)[:rows])
    except Exception:  # truncated or foreign file: treat as a miss
        return None


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Cache several arrays as one uncompressed .npz (never pickled)."""
    _atomic_write(path, lambda f: np.savez(f, **arrays))


def load_npz(path: Path) -> dict[str, np.ndarray] | None:
    """All arrays of a cached .npz, or None when absent/unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception:  # truncated or foreign file: treat as a miss
        return None
