#!/usr/bin/env python
"""DEC on MNIST-test, ClustPy vs deepclust, side by side in one process on the same CPU.

Both libraries get the same array (deepclust.data.load_dataset("mnist-test"): 10,000 uint8
images, pixels / 255, flattened to 784 for ClustPy), the same d-500-500-2000-10 autoencoder,
batch 256, the same number of pretraining and clustering epochs (20 + 20 by default), the
CPU, and the same torch thread count (torch's default unless --threads is given). Each
library keeps its own default optimisers and DEC details; everything used is recorded.

Wall time is time.perf_counter() around the whole `fit` call of each library (ClustPy:
`DEC(...).fit(X)`, deepclust: `deepclust.methods.fit(cfg, data)`). The order alternates:
ClustPy first on even seeds, deepclust first on odd seeds.

ClustPy is not a deepclust dependency: run this from the separate virtualenv described in
benchmarks/clustpy/README.md.

    python benchmarks/clustpy/compare_dec.py                 # seeds 0 1 2, full budget
    python benchmarks/clustpy/compare_dec.py --seeds 0 --epochs 1 --limit 2000 --out /tmp/x  # dry run
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

# No progress bars in either library (ClustPy uses tqdm.trange unconditionally; tqdm>=4.66
# reads TQDM_DISABLE). deepclust's bars are off through train.progress=false anyway.
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # works from a checkout even without `pip install -e`
    sys.path.insert(0, str(REPO))

from deepclust.config import to_dict  # noqa: E402
from deepclust.data import load_dataset  # noqa: E402
from deepclust.methods import fit, make_config  # noqa: E402
from deepclust.metrics import evaluate  # noqa: E402
from deepclust.train.device import resolve_precision  # noqa: E402

try:
    import clustpy  # noqa: E402, F401  (version is read from metadata)
    from clustpy.deep import DEC as ClustpyDEC  # noqa: E402
    from clustpy.deep.neural_networks import FeedforwardAutoencoder  # noqa: E402
except ImportError as e:  # pragma: no cover - depends on the benchmark venv
    sys.exit(f"ClustPy is not installed in this interpreter ({e}); see benchmarks/clustpy/README.md")

DEFAULT_OUT = REPO / "benchmarks" / "results" / "clustpy-dec-mnist-test"
LAYERS = [784, 500, 500, 2000, 10]
EMBED = 10
BATCH = 256
K = 10
ACTIVATIONS = {"leaky_relu": torch.nn.LeakyReLU, "relu": torch.nn.ReLU}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info() -> dict:
    threads = torch.get_num_threads()
    return {
        "device": f"cpu ({platform.processor() or platform.machine()}, {threads} threads)",
        "cpu_model": cpu_model(),
        "torch_threads": threads,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "os_cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
    }


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def deepclust_version() -> str:
    v = version("deepclust")
    try:
        from deepclust.train.rundir import git_commit

        c = git_commit()
        if c:
            v = f"{v}+git.{str(c)[:12]}"
    except Exception:  # noqa: BLE001 - the version string is informational
        pass
    return v


# -- ClustPy -------------------------------------------------------------------------------

def clustpy_settings(epochs_pre: int, epochs_clu: int, seed: int, activation: str) -> dict:
    return {
        "class": "clustpy.deep.DEC",
        "n_clusters": K,
        "batch_size": BATCH,
        "pretrain_epochs": epochs_pre,
        "clustering_epochs": epochs_clu,
        "embedding_size": EMBED,
        "neural_network": {"class": "FeedforwardAutoencoder", "layers": LAYERS, "activation_fn": activation,
                           "batch_norm": False, "dropout": None, "decoder": "mirror of the encoder, linear output"},
        "optimizer_class": "torch.optim.Adam",
        "pretrain_optimizer_params": {"lr": 1e-3},  # ClustPy's default
        "clustering_optimizer_params": {"lr": 1e-4},  # ClustPy's default
        "ssl_loss_fn": "clustpy mean_squared_error (pretraining only; DEC has no reconstruction term)",
        "alpha": 1.0,
        "initial_clustering": "sklearn KMeans(n_clusters=10, random_state=seed), n_init='auto'",
        "stopping": "fixed number of clustering epochs (no tolerance stop)",
        "labels": "labels_ = final KMeans on the embedding (ClustPy's labels_); dec_labels_ also scored",
        "device": "cpu",
        "random_state": seed,
        "input": "float32 pixels / 255, N x 784",
    }


def run_clustpy(X: np.ndarray, y: np.ndarray, seed: int, epochs_pre: int, epochs_clu: int,
                activation: str) -> dict:
    model = ClustpyDEC(
        n_clusters=K,
        batch_size=BATCH,
        pretrain_optimizer_params={"lr": 1e-3},
        clustering_optimizer_params={"lr": 1e-4},
        pretrain_epochs=epochs_pre,
        clustering_epochs=epochs_clu,
        optimizer_class=torch.optim.Adam,
        neural_network=(FeedforwardAutoencoder, {"layers": list(LAYERS), "activation_fn": ACTIVATIONS[activation]}),
        embedding_size=EMBED,
        device=torch.device("cpu"),
        random_state=seed,
    )
    t0 = time.perf_counter()
    model.fit(X)
    wall = time.perf_counter() - t0
    m = evaluate(y, model.labels_)
    m_dec = evaluate(y, model.dec_labels_)
    return {
        "library": "clustpy", "version": version("clustpy"), "seed": seed,
        **m, "wall_s": round(wall, 3),
        "dec_labels": m_dec,
        "settings": clustpy_settings(epochs_pre, epochs_clu, seed, activation),
    }


# -- deepclust -----------------------------------------------------------------------------

class _LogOnly:
    """Collects deepclust's training log records in memory (no files, no checkpoints), so the
    JSON can say how many clustering steps ran and whether the tolerance stop fired."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def log(self, rec: dict) -> None:
        self.records.append(rec)

    def save_checkpoint(self, payload: dict) -> None:  # noqa: ARG002 - nothing is written
        pass

    def load_checkpoint(self, device):  # noqa: ARG002
        return None


def run_deepclust(data, seed: int, epochs_pre: int, epochs_clu: int, extra_sets: list[str]) -> dict:
    sets = [f"pretrain.epochs={epochs_pre}", f"cluster.epochs={epochs_clu}", "cluster.max_steps=null",
            "train.progress=false", "train.device=cpu", f"train.seed={seed}", f"method.n_clusters={K}",
            f"pretrain.batch_size={BATCH}", f"cluster.batch_size={BATCH}", f"encoder.embed_dim={EMBED}",
            f"encoder.hidden=[{', '.join(str(h) for h in LAYERS[1:-1])}]", *extra_sets]
    cfg = make_config("dec", sets=sets)
    rec = _LogOnly()
    t0 = time.perf_counter()
    res = fit(cfg, data, run=rec)
    wall = time.perf_counter() - t0
    cluster_recs = [r for r in rec.records if r.get("stage") == "cluster"]
    stopped = next((r for r in cluster_recs if "stopped" in r), None)
    last_step = max((r.get("step", 0) for r in cluster_recs), default=0)
    return {
        "library": "deepclust", "version": deepclust_version(), "seed": seed,
        "precision": resolve_precision(cfg.train.precision, torch.device("cpu")),
        **res.metrics, "wall_s": round(wall, 3),
        "stage_s": res.stage_s, "fit_reported_wall_s": res.wall_s,
        "cluster_stage": {
            "last_logged_step": last_step,
            "tolerance_stop": (stopped or {}).get("stopped"),
            "tolerance_stop_at_step": (stopped or {}).get("step"),
        },
        "settings": {"make_config": {"method": "dec", "sets": sets}, "config": to_dict(cfg)},
    }


# -- driver --------------------------------------------------------------------------------

def mean_std(xs: list[float]) -> str:
    if not xs:
        return "-"
    m = statistics.fmean(xs)
    s = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{m:.3f} ± {s:.3f}"


def summary_markdown(rows: list[dict], n_images: int, epochs_pre: int, epochs_clu: int, dev: dict) -> str:
    libs = ["clustpy", "deepclust"]
    by = {lib: [r for r in rows if r["library"] == lib] for lib in libs}
    lines = [
        f"DEC on MNIST-test ({n_images} images), {epochs_pre} pretraining + {epochs_clu} clustering epochs, "
        f"batch {BATCH}, {dev['cpu_model']}, {dev['torch_threads']} torch threads, torch {dev['torch']}",
        "",
        "| library | version | seeds | ACC | NMI | ARI | wall s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lib in libs:
        rs = by[lib]
        if not rs:
            continue
        lines.append(
            f"| {lib} | {rs[0]['version']}{' (' + rs[0]['precision'] + ')' if 'precision' in rs[0] else ''} | "
            f"{' '.join(str(r['seed']) for r in rs)} | "
            f"{mean_std([r['acc'] for r in rs])} | {mean_std([r['nmi'] for r in rs])} | "
            f"{mean_std([r['ari'] for r in rs])} | {mean_std([r['wall_s'] for r in rs])} |"
        )
    if by["clustpy"]:
        d = [r["dec_labels"] for r in by["clustpy"]]
        lines.append(f"| clustpy (dec_labels_) | | | {mean_std([x['acc'] for x in d])} | "
                     f"{mean_std([x['nmi'] for x in d])} | {mean_std([x['ari'] for x in d])} | (same run) |")
    if by["clustpy"] and by["deepclust"]:
        c = statistics.fmean(r["wall_s"] for r in by["clustpy"])
        p = statistics.fmean(r["wall_s"] for r in by["deepclust"])
        per_seed = []
        for rc in by["clustpy"]:
            rd = next((r for r in by["deepclust"] if r["seed"] == rc["seed"]), None)
            if rd is not None and rd["wall_s"] > 0:
                per_seed.append(f"seed {rc['seed']}: {rc['wall_s'] / rd['wall_s']:.2f}×")
        lines += ["", f"Speed ratio (mean ClustPy wall / mean deepclust wall): {c / p:.2f}×"
                  + (f" ({', '.join(per_seed)})" if per_seed else "")]
    lines += ["", "| library | seed | ACC | NMI | ARI | wall s |", "| --- | --- | --- | --- | --- | --- |"]
    for r in sorted(rows, key=lambda r: (r["seed"], r["library"])):
        lines.append(f"| {r['library']} | {r['seed']} | {r['acc']:.4f} | {r['nmi']:.4f} | {r['ari']:.4f} | "
                     f"{r['wall_s']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("seeds", nargs="*", type=int, default=None, help="seeds (default: 0 1 2)")
    ap.add_argument("--seeds", dest="seeds_opt", nargs="+", type=int, default=None, help="same as the positional seeds")
    ap.add_argument("--epochs", type=int, default=None,
                    help="override both the pretraining and the clustering epochs (default 20 + 20); for dry runs")
    ap.add_argument("--pretrain-epochs", type=int, default=20)
    ap.add_argument("--cluster-epochs", type=int, default=20)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N images (dry runs)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help=f"folder for the JSON files (default {DEFAULT_OUT})")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads for both libraries (default: leave torch's default)")
    ap.add_argument("--clustpy-activation", choices=sorted(ACTIVATIONS), default="leaky_relu",
                    help="ClustPy's autoencoder activation: leaky_relu is ClustPy's default; relu matches deepclust")
    ap.add_argument("--only", choices=["clustpy", "deepclust"], default=None, help="run one library only")
    ap.add_argument("--set", dest="sets", action="append", default=[],
                    help="extra deepclust --set item (recorded); e.g. --set cluster.tol=0")
    args = ap.parse_args(argv)

    seeds = args.seeds_opt or args.seeds or [0, 1, 2]
    epochs_pre = args.epochs if args.epochs is not None else args.pretrain_epochs
    epochs_clu = args.epochs if args.epochs is not None else args.cluster_epochs
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    data = load_dataset("mnist-test", limit=args.limit)
    y = data.labels.numpy()
    # The very same uint8 array, as ClustPy expects it: float pixels / 255, flattened.
    X = data.images.reshape(len(data), -1).numpy().astype(np.float32) / 255.0
    assert X.shape[1] == LAYERS[0], X.shape
    dev = device_info()
    print(f"# {len(data)} images, seeds {seeds}, {epochs_pre}+{epochs_clu} epochs, {dev['device']}, "
          f"{dev['cpu_model']}, torch {dev['torch']}, clustpy {version('clustpy')}, deepclust {deepclust_version()}",
          flush=True)

    rows: list[dict] = []
    for seed in seeds:
        order = ["clustpy", "deepclust"] if seed % 2 == 0 else ["deepclust", "clustpy"]
        if args.only:
            order = [args.only]
        for lib in order:
            gc.collect()
            if lib == "clustpy":
                r = run_clustpy(X, y, seed, epochs_pre, epochs_clu, args.clustpy_activation)
            else:
                r = run_deepclust(data, seed, epochs_pre, epochs_clu, args.sets)
            r.update({
                "dataset": "mnist-test", "n_images": len(data), "pretrain_epochs": epochs_pre,
                "cluster_epochs": epochs_clu, "batch_size": BATCH, "order": order.index(lib),
                **dev, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            })
            (out / f"{lib}-seed{seed}.json").write_text(json.dumps(r, indent=2) + "\n")
            rows.append(r)
            print(f"{lib:9s} seed {seed}: ACC {r['acc']:.4f} NMI {r['nmi']:.4f} ARI {r['ari']:.4f} "
                  f"wall {r['wall_s']:.2f} s", flush=True)

    md = summary_markdown(rows, len(data), epochs_pre, epochs_clu, dev)
    (out / "summary.md").write_text(md)
    print()
    print(md, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
