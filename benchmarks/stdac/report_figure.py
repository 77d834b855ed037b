"""Tile the spatial-transformer pictures of a run's report.html into one PNG.

The pictures are the report's own embedded images (decoded from report.html), so the
figure shows exactly what a user sees in the report; only the layout is new. Used for
docs/report-stdac-coil20.png:

    python benchmarks/stdac/report_figure.py RUN_DIR/report.html docs/report-stdac-coil20.png
"""

from __future__ import annotations

import base64
import html
import io
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

FIGURE = re.compile(
    r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*>\s*<figcaption>(.*?)</figcaption>', re.S
)


def groups(section: str) -> list[list[tuple[Image.Image, str]]]:
    out = []
    for block in section.split('<div class="st-group">')[1:]:
        tiles = [
            (Image.open(io.BytesIO(base64.b64decode(b64))).convert("L"), html.unescape(cap))
            for b64, cap in FIGURE.findall(block)
        ]
        if tiles:
            out.append(tiles)
    return out


def main(report: str, out_png: str, per_row: int = 4, max_clusters: int = 12) -> None:
    page = open(report, encoding="utf-8").read()
    start = page.index("What the spatial transformer does")
    end = page.index("</section>", start)
    section = page[start:end]
    split = section.index("Per cluster")
    pairs = groups(section[:split])
    clusters = groups(section[split:])[:max_clusters]
    rows = [pairs[i:i + per_row] for i in range(0, len(pairs), per_row)]
    per_row_c = max(1, (per_row * 3) // 4)
    rows_c = [clusters[i:i + per_row_c] for i in range(0, len(clusters), per_row_c)]
    ncols = per_row * 3
    fig, axes = plt.subplots(len(rows) + len(rows_c), ncols, figsize=(ncols * 0.9, (len(rows) + len(rows_c)) * 1.1))
    for ax in axes.flat:
        ax.axis("off")
    for r, row in enumerate(rows + rows_c):
        tiles = [t for g in row for t in g]
        for c, (img, cap) in enumerate(tiles):
            ax = axes[r, c]
            ax.imshow(img, cmap="gray", vmin=0, vmax=255)
            ax.set_title(cap, fontsize=6, y=-0.28)
    fig.suptitle(
        "ST-DAC on COIL-20 (report.html): rows 1-%d image / first ST layer early / at the end; "
        "then per cluster mean and std before and after ST" % len(rows),
        fontsize=8,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out_png, dpi=110)
    print(f"{out_png}: {len(pairs)} image triples, {len(clusters)} clusters")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
