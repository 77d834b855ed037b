"""A picture of what `data.reframe` does: photos as stored, the box found, and the 32 px image the network
sees with the centre square (none), the object's square (object) and that square with the backdrop set to
black (isolate, the folder default since 2026-12-07). Used for docs/reframe-coil20-wild.png:

    python benchmarks/folder_defaults/make_wild.py /tmp/coil-wild --seed 0
    python benchmarks/folder_defaults/reframe_figure.py /tmp/coil-wild docs/reframe-coil20-wild.png
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches as patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from deepclust.data.folder import resize_crop  # noqa: E402
from deepclust.data.reframe import object_square  # noqa: E402


def main(folder: str, out: str, n: int = 8, size: int = 32) -> None:
    files = sorted(Path(folder).glob("obj*__*.png"))
    picks = [files[i] for i in np.linspace(0, len(files) - 1, n).astype(int)]
    fig, axes = plt.subplots(4, n, figsize=(1.6 * n, 6.9))
    for j, f in enumerate(picks):
        im = Image.open(f).convert("L")
        box = object_square(im)
        axes[0, j].imshow(im, cmap="gray", vmin=0, vmax=255)
        if box is not None:
            x0, y0, x1, y1 = box
            axes[0, j].add_patch(patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="#e41a1c", lw=1.5))
        axes[0, j].set_title(f.name, fontsize=7)
        axes[1, j].imshow(np.asarray(resize_crop(im, size, "none")), cmap="gray", vmin=0, vmax=255)
        axes[2, j].imshow(np.asarray(resize_crop(im, size, "object")), cmap="gray", vmin=0, vmax=255)
        axes[3, j].imshow(np.asarray(resize_crop(im, size, "isolate")), cmap="gray", vmin=0, vmax=255)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("photo, box found", fontsize=8)
    axes[1, 0].set_ylabel(f"centre square, {size} px", fontsize=8)
    axes[2, 0].set_ylabel(f"object: cropped, {size} px", fontsize=8)
    axes[3, 0].set_ylabel("isolate: backdrop black", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
