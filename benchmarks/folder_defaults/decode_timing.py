"""What each `data.reframe` setting costs when a folder is decoded (once: decoded folders are cached).

Decodes FOLDER at 32 px with reframe none, object and isolate, into a fresh cache each time, and writes the
seconds per setting to OUT (JSON). A record of the order of magnitude on the machine it ran on, not a speed
benchmark: the decoding threads share the CPU with whatever else runs.

    python benchmarks/folder_defaults/decode_timing.py /tmp/coil-wild benchmarks/results/folder-defaults-wild/decode-timing.json
"""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(folder: str, out: str) -> None:
    import torch

    from deepclust.data import load_folder
    from deepclust.train.rundir import git_commit

    rec = {"folder": folder, "image_size": 32, "seconds": {}, "per_image_ms": {}}
    for reframe in ("none", "object", "isolate"):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["DEEPCLUST_CACHE"] = cache
            t = time.perf_counter()
            data = load_folder(folder, 32, reframe=reframe)
            s = time.perf_counter() - t
        rec["n_images"] = len(data)
        rec["seconds"][reframe] = round(s, 2)
        rec["per_image_ms"][reframe] = round(1000 * s / len(data), 1)
        print(reframe, rec["seconds"][reframe], "s", rec["per_image_ms"][reframe], "ms per image", flush=True)
    rec.update({"device": f"cpu ({platform.machine()}, {os.cpu_count()} cores, decoding threads as load_folder "
                          f"picks; other jobs running)", "torch": torch.__version__, "git_commit": git_commit(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
    Path(out).write_text(json.dumps(rec, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
