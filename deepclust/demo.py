"""`make demo`: cluster scikit-learn's bundled digits (1,797 real 8×8 images) with a deep method,
print ACC/NMI/ARI beside k-means on raw pixels, and write a report."""
from __future__ import annotations

import sys

from .cli import main

DEMO_METHOD = "idec"


def run() -> int:
    print("deepclust demo: scikit-learn digits, 1,797 images of 8x8, 10 classes\n")
    print("== baseline: k-means on raw pixels ==")
    rc = main(["fit", "--method", "kmeans", "--data", "digits", "--out", "runs/demo", "--quiet", "--no-report"])
    if rc:
        return rc
    print(f"\n== deep: {DEMO_METHOD} (autoencoder pretraining, then clustering) ==")
    return main(["fit", "--method", DEMO_METHOD, "--data", "digits", "--out", "runs/demo",
                 "--config", str(_demo_config())])


def _demo_config():
    from pathlib import Path

    return Path(__file__).with_name("configs") / "demo-digits.yaml"


if __name__ == "__main__":
    sys.exit(run())
