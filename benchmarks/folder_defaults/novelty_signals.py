"""Which signal tells new images like the training ones from noise? (the choice behind deepclust.novelty)

For each run folder given (models trained on TRAIN), every candidate score is thresholded at the 99 %
quantile of the training images' own scores (k-NN scores leave each image out of its neighbours), and
the fraction flagged is counted on HELD (new images like the training ones: should be ~1 %) and on 20
noise + 10 flat-grey 128-px images (should be 100 %). Writes a JSON to --out.

    python benchmarks/folder_defaults/novelty_signals.py RUN_DIR [...] --train TRAIN --held HELD --out FILE.json
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from deepclust import novelty
from deepclust.data import load_folder
from deepclust.methods.pipeline import load_model, soft_assign


def knn_score(q: torch.Tensor, ref: torch.Tensor, k: int, self_: bool) -> torch.Tensor:
    d = torch.cdist(q, ref)
    if self_:
        d.fill_diagonal_(float("inf"))
    return d.topk(k, largest=False).values[:, -1]


@torch.no_grad()
def candidates(model, centers, cfg, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """name -> per-image score (1-D) or features for a 5-NN score (2-D)."""
    z = model.embed(x)
    lf = getattr(model.ae, "label_features", False)
    _, conf, dist = soft_assign(z, centers, cfg.method.alpha, lf)
    groups = novelty.features(model, x)
    out = {"centre distance": torch.as_tensor(dist), "1 - confidence": 1 - torch.as_tensor(conf),
           "5-NN, L2-normalised embedding": F.normalize(z.float(), dim=1),
           "5-NN, standardised layer statistics": groups["model"],
           "5-NN, standardised image statistics": groups["image"]}
    xf = x.float() / 255
    if hasattr(model.ae, "penultimate"):
        model.eval()
        out["5-NN, L2-normalised penultimate layer"] = F.normalize(model.ae.penultimate(xf).float(), dim=1)
    elif not lf and novelty.kind(model) == "layer-statistics":
        out["reconstruction error"] = ((model.ae.decode(z) - xf) ** 2).flatten(1).mean(1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--train", required=True)
    ap.add_argument("--held", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    g = np.random.default_rng(1)  # the same images as outlier_check.py
    for i in range(20):
        Image.fromarray(g.integers(0, 256, (128, 128), dtype=np.uint8)).save(tmp / f"noise{i}.png")
    for i in range(10):
        Image.fromarray(np.full((128, 128), g.integers(0, 256), dtype=np.uint8)).save(tmp / f"flat{i}.png")
    recs = []
    for run in args.runs:
        cfg, model, centers, result = load_model(run)
        c, h, w = result["image_shape"]
        sets = {n: load_folder(Path(p), image_size=h, channels=c, reframe=cfg.data.reframe).images
                for n, p in (("train", args.train), ("held", args.held), ("noise", tmp))}
        scores = {n: candidates(model, centers, cfg, x) for n, x in sets.items()}
        flagged = {}
        for name, tr in scores["train"].items():
            if tr.dim() == 2:
                mu, sd = tr.mean(0), tr.std(0, correction=0)
                sd = sd.clamp_min(max(float(sd.median()) * 0.1, 1e-6))
                std = (lambda f, mu=mu, sd=sd: (f - mu) / sd) if "standardised" in name else (lambda f: f)
                ref = std(tr)
                thr = torch.quantile(knn_score(ref, ref, 5, True), 0.99)
                get = {n: knn_score(std(scores[n][name]), ref, 5, False) for n in ("held", "noise")}
            else:
                thr = torch.quantile(tr.float(), 0.99)
                get = {n: scores[n][name].float() for n in ("held", "noise")}
            flagged[name] = {n: round(float((v > thr).float().mean()), 4) for n, v in get.items()}
        # what predict uses: the larger of the two groups' scores, each in units of its own quantile
        ref_t, summ = novelty.fit_reference(model, sets["train"])
        flagged["novelty: layer and image statistics (kept)"] = {
            n: round(float((novelty.score(model, sets[n], ref_t) > summ["threshold"]).float().mean()), 4)
            for n in ("held", "noise")}
        rec = {"run": Path(run).name, "method": result.get("method"), "flagged": flagged}
        recs.append(rec)
        print(json.dumps(rec))
    Path(args.out).write_text(json.dumps({
        "check": "fraction flagged at the 99 % training quantile: held (new images like the training ones) "
                 "and 20 noise + 10 flat-grey 128-px images",
        "train": args.train, "held": args.held,
        "device": f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "torch": torch.__version__, "runs": recs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
