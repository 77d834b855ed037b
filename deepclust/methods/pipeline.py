"""From a RunConfig and an ImageSet to a fitted model: validate, build, pretrain, cluster, assign."""
from __future__ import annotations

import datetime as _dt
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..cluster import kmeans
from ..cluster.pic import NEIGHBORS as PIC_NEIGHBORS
from ..config import RunConfig, StageConfig, from_dict, load_yaml, merge, parse_sets
from ..data.imageset import ImageSet
from ..errors import UserError
from ..metrics import evaluate
from ..nets import ClusterNet, LinearHead, StudentTHead, build_autoencoder
from ..objectives import ClusterState
from ..refresh import Context, build_refresher
from ..refresh.pseudo_labels import pseudo_classes
from ..registry import LOSSES
from ..train import dist
from ..train.device import resolve_channels_last, resolve_device, resolve_precision, seed_everything
from ..train.loop import Term, run_stage
from ..train.rundir import RunDir, git_commit
from .recipes import recipe

STAGES = ("pretrain", "cluster")


def make_config(method: str, config_file: str | None = None, sets: list[str] | None = None,
                overrides: dict[str, Any] | None = None, base: dict[str, Any] | None = None) -> RunConfig:
    """Method defaults < base (profile / folder defaults) < config file < overrides (CLI flags) < --set."""
    file_data = load_yaml(config_file) if config_file else {}
    name = _method_name(parse_sets(sets), "--set") or _method_name(overrides or {}, "the options") or \
        _method_name(file_data, f"config file '{config_file}'") or method
    cfg = from_dict(recipe(name).defaults)
    cfg = merge(cfg, {"method": {"name": name}})
    cfg = merge(cfg, base or {})
    cfg = merge(cfg, file_data)
    cfg = merge(cfg, overrides or {})
    return merge(cfg, parse_sets(sets))


def load_run_config(run_path: str | Path) -> RunConfig:
    """The settings a run folder was started with. Its config.yaml holds every setting that existed then; one
    added since is missing from it and takes the dataclass default, which is the behaviour from before the
    setting existed, not today's recipe default (a DeepCluster run of 2026-12-06 resumed today must not start
    relabelling 40 steps apart halfway through)."""
    return from_dict(load_yaml(Path(run_path) / "config.yaml"))


def _check_same_images(saved: dict | None, now: dict, data: ImageSet, path: Path, echo) -> None:
    """A checkpoint's per-image state (DEC's target, DeepCluster's pseudo-labels) fits the images it was computed
    on, in their order: other names, order, count or shape are refused; the same names read as other pixels
    (a file replaced in place, or a new decoder or library version) resume with a warning."""
    if saved is None or "names" not in saved:  # written before 2026-12-08
        return
    if saved["names"] != now["names"]:
        change = (f"{saved['n']} images then, {now['n']} now" if saved["n"] != now["n"]
                  else f"the same number ({now['n']}) but other, renamed or reordered images")
        raise UserError(f"the images changed since the run in {path} started ({change}); its checkpoint holds "
                        f"per-image state for the old ones: restore them, or start a new run (without --resume)")
    if saved.get("known") not in (None, now["known"]):
        raise UserError(f"the known images changed since the run in {path} started: restore them, or start a new "
                        f"run (without --resume)")
    if saved["images"] != now["images"] and echo:
        echo(f"warning: some of the {len(data)} images read as other pixels than when the run started (a file "
             f"replaced under the same name, or a new decoder); resuming with them")


def _check_min_update_steps(sname: str, stage: StageConfig) -> None:
    """min_update_steps stretches a once-an-epoch refresher's interval (update_interval 0); a stage where no
    refresher reads it is refused, rather than the setting doing nothing."""
    from ..refresh.base import PeriodicRefresher
    from ..registry import REFRESHERS

    if stage.update_interval > 0:
        return  # an explicit interval wins (DeepCluster's recipe sets 40, a user's --set update_interval=N overrides it)

    def reads_it(c) -> bool:  # built by PeriodicRefresher.from_stage, which passes the setting on, or says it reads it
        return isinstance(c, type) and (getattr(c, "reads_min_update_steps", False) or (
            issubclass(c, PeriodicRefresher) and c.from_stage.__func__ is PeriodicRefresher.from_stage.__func__))

    names = [r for r in stage.refreshers if isinstance(r, str)]
    if len(names) == len(stage.refreshers) and not any(reads_it(REFRESHERS.get(r)) for r in names):
        takers = sorted(n for n, c in REFRESHERS.items() if reads_it(c))
        raise UserError(f"{sname}.min_update_steps={stage.min_update_steps}: none of {sname}.refreshers "
                        f"({', '.join(names) or 'none'}) reads it (it stretches {', '.join(takers)}); "
                        f"set it to 0, or use {sname}.update_interval")


def _method_name(data: dict[str, Any], where: str) -> str | None:
    """The method name a config source asks for, if any; a malformed `method` section is a UserError."""
    section = data.get("method")
    if section is None:
        return None
    if not isinstance(section, dict):
        raise UserError(f"{where}: 'method' must be a mapping such as {{name: dec, n_clusters: 10}}, got {section!r}")
    name = section.get("name")
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        raise UserError(f"{where}: method.name must be a method's name (see `deepclust list`), got {name!r}")
    return name


@dataclass
class FitResult:
    labels: np.ndarray  # N cluster of each image
    confidence: np.ndarray  # N max soft-assignment probability
    distance: np.ndarray  # N distance of each embedding to its cluster centre
    embedding: np.ndarray  # N×D
    centers: np.ndarray  # K×D
    model: ClusterNet
    metrics: dict[str, float] | None
    stage_s: dict[str, float]
    wall_s: float
    device: str
    state: ClusterState | None = None  # what the refreshers left (targets, thresholds, ST snapshots)


def _terms(stage: StageConfig) -> list[Term]:
    return [Term(n, float(w), LOSSES.get(n)()) for n, w in stage.losses.items() if w]


COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune")


def validate(cfg: RunConfig, data: ImageSet, known: ImageSet | None = None) -> None:
    """Impossible settings fail here, before any training, with the fix in the message. `known`: the
    labelled images of known classes a supervised stage learns from (DTC; `data.known.prepare_known`)."""
    k, n = cfg.method.n_clusters, len(data)
    supervised = _uses_known(cfg)
    if supervised and known is None:
        raise UserError(f"{cfg.method.name} first learns from labelled images of other, known classes: give them with "
                        f"--known FOLDER (one subfolder of images per known class), or for a built-in dataset "
                        f"--set data.known_classes=[0,1,2,3,4] (those classes are learnt, the others clustered)")
    if known is not None and not supervised:
        raise UserError(f"labelled known classes were given (--known / data.known_classes) but {cfg.method.name} "
                        f"does not learn from them: use --method dtc, or leave them out")
    if known is not None:
        if tuple(known.images.shape[1:]) != tuple(data.images.shape[1:]):
            raise UserError(f"the known images are {tuple(known.images.shape[1:])} (channels, height, width) and the "
                            f"images to cluster {tuple(data.images.shape[1:])}: give both the same size and channels")
        if known.labels is None or len(known) == 0:
            raise UserError("the known images need labels (one class per image)")
        lo, hi = int(known.labels.min()), int(known.labels.max())
        if lo < 0 or hi >= cfg.encoder.n_known:
            raise UserError(f"the known images' labels run from {lo} to {hi}, and the network's classifier has "
                            f"encoder.n_known={cfg.encoder.n_known} classes: number the classes 0 to n_known - 1")
        if min(cfg.pretrain.batch_size, len(known)) < dist.world_size():
            raise UserError(f"{len(known)} known images cannot be split over {dist.world_size()} processes: "
                            f"give more known images, or start fewer processes")
    if n < 2:
        raise UserError(f"only {n} image{'s' if n != 1 else ''} to cluster: clustering needs at least 2 (and one "
                        f"per cluster); add images")
    if k < 2:
        raise UserError(f"k={k}: ask for at least 2 clusters (--k 2 or more; n_clusters=2 or more in Python)")
    if k > n:
        raise UserError(f"k={k} is more than the {n} images: use --k {n} or fewer (n_clusters in Python)")
    if cfg.train.compile not in COMPILE_MODES:
        raise UserError(f"train.compile must be one of {', '.join(COMPILE_MODES)}, got '{cfg.train.compile}'")
    for sname in STAGES:
        stage: StageConfig = getattr(cfg, sname)
        if stage.batch_size < 1:
            raise UserError(f"{sname}.batch_size must be at least 1")
        world = dist.world_size()
        if min(stage.batch_size, n) < world:
            raise UserError(f"{sname}.batch_size {stage.batch_size} cannot be split over {world} processes: "
                            f"set it to {world} or more, or start fewer processes")
        for name, w in stage.losses.items():
            if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
                raise UserError(f"{sname}.losses.{name} must be a weight of 0 or more (0 turns it off), got {w}")
        terms = _terms(stage)
        for name, length in stage.rampup.items():
            if name not in stage.losses:
                raise UserError(f"{sname}.rampup.{name}: {sname}.losses has no '{name}' term to ramp up "
                                f"(it has {', '.join(sorted(stage.losses)) or 'none'})")
            if not (isinstance(length, (int, float)) and math.isfinite(length) and length >= 0):
                raise UserError(f"{sname}.rampup.{name} must be a number of epochs of 0 or more, got {length}")
        if stage.inputs not in ("clean", "augmented", "both"):
            raise UserError(f"{sname}.inputs must be clean, augmented or both, got '{stage.inputs}'")
        if stage.views < 1:
            raise UserError(f"{sname}.views must be at least 1, got {stage.views}")
        provided: set[str] = set()
        if stage.augment:
            from ..augment import AUGMENTATIONS

            AUGMENTATIONS.get(stage.augment)  # unknown preset: a clear error now, not mid-training
            provided.add("views")
        elif stage.inputs != "clean":
            raise UserError(f"{sname}.inputs is '{stage.inputs}' but {sname}.augment is not set: "
                            f"set {sname}.augment to a preset (heritage, rot, shear, scale, dec-da)")
        for r in stage.refreshers:
            provided |= build_refresher(r, stage).provides
        if cfg.encoder.name != "identity" and not _label_net(cfg) and _has_decoder(cfg):
            provided.add("recon")
        if any("thresholds" in t.loss.needs for t in terms):
            from ..refresh.pairs import check_thresholds

            check_thresholds(cfg.method.thresholds, cfg.method.selection)
        if any("q" in t.loss.needs for t in terms):
            provided.add("q")
        if any("logits" in t.loss.needs for t in terms):
            provided.add("logits")
        if known is not None:
            provided.add("class_labels")
            if hasattr(_encoder_class(cfg), "encode_classify") and cfg.encoder.n_known > 0:
                provided.add("class_logits")
        if any("class_labels" in t.loss.needs for t in terms):
            # this stage trains on the known images: terms tied to the clustered images cannot join it
            tied = {"p", "q", "ensemble", "pseudo_labels", "centroids", "thresholds"}
            for t in terms:
                if t.loss.needs & tied:
                    raise UserError(f"{sname}.losses.{t.name} works on the images being clustered, while "
                                    f"{sname}.losses.supervised trains on the labelled known images: move it to "
                                    f"the other stage")
        if "class_logits" in {x for t in terms for x in t.loss.needs} and "class_logits" not in provided:
            raise UserError(f"{sname}.losses.supervised needs a network with a classifier of the known classes: "
                            f"set encoder.name=dtc_cnn")
        wants_logits = any("logits" in t.loss.needs for t in terms)
        if "pca_init" in stage.refreshers:
            if not hasattr(_encoder_class(cfg), "fit_projection"):
                raise UserError(f"{sname}.refreshers: 'pca_init' sets a network's PCA layer, which encoder "
                                f"'{cfg.encoder.name}' does not have: set encoder.name=dtc_cnn, or drop pca_init")
            later = [r for r in stage.refreshers[:list(stage.refreshers).index("pca_init")]
                     if r in ("kmeans_init", "kmeans_refresh")]
            if later:
                raise UserError(f"{sname}.refreshers: put 'pca_init' before '{later[0]}' (k-means must place the "
                                f"centres in the PCA space, not in the projection it replaces)")
        if "deepcluster" in stage.refreshers and not wants_logits:
            raise UserError(f"{sname}.refreshers: 'deepcluster' makes pseudo-labels for a linear top layer to learn: "
                            f"add pseudo_label to {sname}.losses")
        if "deepcluster" in stage.refreshers and not hasattr(_encoder_class(cfg), "fit_cluster_space"):
            raise UserError(f"{sname}.refreshers: 'deepcluster' clusters whitened features, which encoder "
                            f"'{cfg.encoder.name}' does not provide: set encoder.name=deepcluster_cnn")
        for t in terms:
            missing = set(t.loss.needs - provided)
            if "q" in t.loss.needs and "head_init" not in provided:
                missing.add("head_init")
            if missing:
                raise UserError(
                    f"{sname}.losses.{t.name} needs {', '.join(sorted(missing))}, which this config does not provide: "
                    + _fix_hint(missing, sname)
                )
        if terms and cfg.encoder.name == "identity":
            raise UserError(f"{sname}.losses need a trainable encoder: set encoder.name to mlp or conv_ae")
        if stage.epochs is not None and stage.epochs < 0:
            raise UserError(f"{sname}.epochs must be 0 or more (0 skips the stage), got {stage.epochs}")
        if stage.max_steps is not None and stage.max_steps < 0:
            raise UserError(f"{sname}.max_steps must be 0 or more (or null for the epochs), got {stage.max_steps}")
        if stage.epochs is not None and not math.isfinite(stage.epochs):
            raise UserError(f"{sname}.epochs must be a finite number, got {stage.epochs} (use max_steps to cap by steps)")
        if stage.update_interval < 0:
            raise UserError(f"{sname}.update_interval must be 0 or more (steps between refreshes), got {stage.update_interval}")
        if stage.min_update_steps < 0:
            raise UserError(f"{sname}.min_update_steps must be 0 or more, got {stage.min_update_steps}")
        if stage.min_update_steps > 0:
            _check_min_update_steps(sname, stage)
        if not (stage.tol >= 0):  # also refuses NaN
            raise UserError(f"{sname}.tol must be 0 or more (a fraction of labels, e.g. 0.001), got {stage.tol}")
    if _needs_linear_head(cfg) and _needs_head(cfg):  # after every stage's weights are known to be valid
        raise UserError("pseudo_label trains a linear top layer, and losses on soft assignments (kl_target, "
                        "consistency) need a Student-t head: a network has one or the other; drop one of them")
    if cfg.train.seed < 0:
        raise UserError(f"seed {cfg.train.seed}: use a seed of 0 or more")
    for key in ("log_every", "checkpoint_every", "eval_max"):
        if getattr(cfg.train, key) < 1:
            raise UserError(f"train.{key} must be at least 1, got {getattr(cfg.train, key)}")
    if cfg.method.pseudo_k < 0 or cfg.method.pseudo_k > n:
        raise UserError(f"method.pseudo_k={cfg.method.pseudo_k}: give 0 (about one per 100 images, at least k) or "
                        f"2 up to the {n} images")
    if cfg.method.pseudo_k == 1:
        raise UserError("method.pseudo_k=1 gives every image the same pseudo-label: use 0 (about one per 100 images, "
                        "at least k) or 2 or more")
    if cfg.method.pseudo_clustering not in ("kmeans", "pic"):
        raise UserError(f"method.pseudo_clustering={cfg.method.pseudo_clustering!r}: use kmeans or pic "
                        "(Power Iteration Clustering)")
    if cfg.method.pseudo_clustering == "pic" and n <= PIC_NEIGHBORS:
        raise UserError(f"method.pseudo_clustering=pic joins each image to its {PIC_NEIGHBORS} nearest neighbours: "
                        f"it needs more than {PIC_NEIGHBORS} images (got {n}); use kmeans")
    for key, what in (("assign_dims", "k - 1"), ("pseudo_dims", "pseudo-labels - 1")):
        d = getattr(cfg.method, key)
        if d < -1 or d > max(cfg.encoder.embed_dim, 0):
            raise UserError(f"method.{key}={d}: give -1 ({what}), 0 (all of encoder.embed_dim={cfg.encoder.embed_dim}) "
                            f"or a number of dimensions up to encoder.embed_dim")
    if not (0.0 <= cfg.method.ensemble_momentum < 1.0):
        raise UserError(f"method.ensemble_momentum must be in [0, 1), got {cfg.method.ensemble_momentum}")
    if cfg.method.n_init < 1:
        raise UserError(f"method.n_init (k-means restarts) must be at least 1, got {cfg.method.n_init}")
    if not (math.isfinite(cfg.method.alpha) and cfg.method.alpha > 0):
        raise UserError(f"method.alpha (the Student-t degrees of freedom) must be a positive number, got {cfg.method.alpha}")
    if not (0.0 <= cfg.encoder.dropout < 1.0):
        raise UserError(f"encoder.dropout must be in [0, 1), got {cfg.encoder.dropout}")
    for key in ("hidden", "filters"):
        widths = getattr(cfg.encoder, key)
        if any(w < 1 for w in widths):
            raise UserError(f"encoder.{key} widths must be at least 1, got {list(widths)}")
    if cfg.encoder.embed_dim < 1:
        raise UserError(f"encoder.embed_dim must be at least 1, got {cfg.encoder.embed_dim}")
    # Build what training will build (device, precision, network, each stage's optimiser) so that a bad
    # setting among them fails now, not after a run folder exists or a stage has trained.
    from ..train.device import make_optimizer

    dev = resolve_device(cfg.train.device)
    resolve_precision(cfg.train.precision, dev)
    resolve_channels_last(cfg.train.memory_format, dev, tuple(data.images.shape[1:]), cfg.encoder.name)
    params = list(build_model(cfg, tuple(data.images.shape[1:]), len(data)).parameters())
    for sname in STAGES:
        stage = getattr(cfg, sname)
        if _terms(stage):
            o = stage.optim
            # torch lets these through (an infinite rate, momentum of 2) and the run would diverge later.
            if not (math.isfinite(o.lr) and o.lr >= 0):  # 0 is allowed: it freezes the stage's weights
                raise UserError(f"{sname}.optim.lr must be a finite number of 0 or more, got {o.lr}")
            if not (math.isfinite(o.weight_decay) and o.weight_decay >= 0):
                raise UserError(f"{sname}.optim.weight_decay must be a finite number of 0 or more, got {o.weight_decay}")
            if o.name == "sgd" and not (0 <= o.momentum < 1):
                raise UserError(f"{sname}.optim.momentum must be in [0, 1) for sgd, got {o.momentum}")
            try:
                make_optimizer(stage.optim, params, torch.device("cpu"))
            except UserError:
                raise
            except ValueError as e:  # torch's own checks, e.g. a negative learning rate
                raise UserError(f"{sname}.optim: {e}") from None


def _fix_hint(missing: set[str], sname: str) -> str:
    hints = {"p": f"add 'target' to {sname}.refreshers", "head_init": f"add 'kmeans_init' (or 'kmeans_refresh') to {sname}.refreshers",
             "centroids": f"add 'kmeans_init' (and 'dcn') to {sname}.refreshers",
             "recon": "use an encoder with a decoder (mlp, conv_ae or vgg_cae) or drop the recon loss",
             "thresholds": f"add 'dac_thresholds' to {sname}.refreshers",
             "views": f"set {sname}.augment to a preset (heritage, rot, shear, scale, dec-da)",
             "pseudo_labels": f"add 'deepcluster' to {sname}.refreshers",
             "ensemble": f"add 'temporal_ensemble' (or 'ensemble_target') to {sname}.refreshers",
             "class_labels": "give labelled known classes (--known FOLDER, or data.known_classes)",
             "class_logits": "set encoder.name=dtc_cnn (a network with a classifier of the known classes)"}
    return "; ".join(hints.get(m, m) for m in sorted(missing))


def _uses_known(cfg: RunConfig) -> bool:
    """Does a stage learn from labelled images of known classes (DTC's supervised stage)?"""
    return any("class_labels" in LOSSES.get(n).needs for st in (cfg.pretrain, cfg.cluster) for n, w in st.losses.items() if w)


def _needs_head(cfg: RunConfig) -> bool:
    return any("q" in LOSSES.get(n).needs for st in (cfg.pretrain, cfg.cluster) for n, w in st.losses.items() if w)


def _encoder_class(cfg: RunConfig):
    from ..registry import ENCODERS

    return ENCODERS.get(cfg.encoder.name)


def _has_decoder(cfg: RunConfig) -> bool:
    return bool(getattr(_encoder_class(cfg), "has_decoder", True))


def _needs_linear_head(cfg: RunConfig) -> bool:
    return any("logits" in LOSSES.get(n).needs for st in (cfg.pretrain, cfg.cluster) for n, w in st.losses.items() if w)


def _label_net(cfg: RunConfig) -> bool:
    """Encoders whose output is already a soft cluster assignment (DAC's label features)."""
    from ..registry import ENCODERS

    return bool(getattr(ENCODERS.get(cfg.encoder.name), "label_features", False))


def build_model(cfg: RunConfig, in_shape: tuple[int, int, int], n_images: int | None = None) -> ClusterNet:
    enc = cfg.encoder
    if _label_net(cfg) or getattr(_encoder_class(cfg), "embeds_in_k", False):
        from dataclasses import replace

        # DAC: one label feature per cluster; DTC: the PCA of the features to K dimensions
        enc = replace(enc, embed_dim=cfg.method.n_clusters)
    ae = build_autoencoder(enc, in_shape)
    if _needs_linear_head(cfg):  # DeepCluster: a classifier over the pseudo-labels
        head = LinearHead(pseudo_classes(cfg, n_images), ae.embed_dim)
    else:
        head = StudentTHead(cfg.method.n_clusters, ae.embed_dim, cfg.method.alpha) if _needs_head(cfg) else None
    return ClusterNet(ae, head)


def fit(cfg: RunConfig, data: ImageSet, run: RunDir | None = None, resume: bool = False,
        echo: Callable[[str], None] | None = None, known: ImageSet | None = None, assign: bool = True) -> FitResult:
    """Train on `data` (the images to cluster); a stage with the `supervised` loss trains on `known`, the
    labelled images of known classes (labels 0..C-1; DTC). `assign=False`: train only, for a caller that wants
    the model (the result's per-image fields are then empty)."""
    validate(cfg, data, known)
    seed_everything(cfg.train.seed)
    dev = dist.local_device(resolve_device(cfg.train.device))
    precision = resolve_precision(cfg.train.precision, dev)
    t_start = time.perf_counter()
    model = build_model(cfg, tuple(data.images.shape[1:]), len(data)).to(dev)
    if resolve_channels_last(cfg.train.memory_format, dev, tuple(data.images.shape[1:]), cfg.encoder.name):
        model.use_channels_last()
    if cfg.train.compile != "none":
        # in place: state_dict keys, refreshers' embed() (eager) and checkpoints unchanged
        model.compile(mode=cfg.train.compile)
    images = data.images.to(dev)
    state = ClusterState()
    known_images = None
    if known is not None:
        known_images = known.images.to(dev)
        state.class_labels = known.labels.to(dev)
    main = dist.is_main()  # under torchrun only process 0 logs and checkpoints
    ckpt = run.load_checkpoint(dev) if (run is not None and resume) else None
    if run is not None and not resume and main:
        # A fresh start in a folder an earlier attempt used (e.g. a bench cell whose settings changed) writes
        # its own log; appended to the old one, two runs' lines would read as one curve.
        (run.path / "metrics.jsonl").unlink(missing_ok=True)
    if resume and run is not None and ckpt is None and main:
        if echo:
            echo(f"no checkpoint in {run.path} yet (one is saved every {cfg.train.checkpoint_interval} steps): "
                 f"starting again from step 0")
        (run.path / "metrics.jsonl").unlink(missing_ok=True)  # the new run writes its own log
    fingerprint = None
    if run is not None:
        fingerprint = {"names": data.fingerprint(pixels=False), "images": data.fingerprint(), "n": len(data),
                       "known": known.fingerprint(pixels=False) if known is not None else None}
    if ckpt is not None:
        _check_same_images(ckpt.get("data"), fingerprint, data, run.path, echo if main else None)
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError:
            raise UserError(f"the checkpoint in {run.path} does not fit the network built for the images now "
                            f"({len(data)} of shape {tuple(data.images.shape[1:])}): the folder changed since the "
                            f"run started (e.g. a colour image joined grey ones); start a new run") from None
        for k, v in ckpt["state"].items():
            setattr(state, k, v)
        if known is not None:
            saved = ckpt["state"].get("class_labels")
            if saved is not None and (saved.shape != known.labels.shape or not torch.equal(saved.cpu(), known.labels)):
                raise UserError(f"the known images changed since the run started ({len(saved)} then, {len(known)} now, "
                                f"or other labels): restore them, or start a new run")
            state.class_labels = known.labels.to(dev)
        if main:
            run.trim_log(STAGES, ckpt["stage"], int(ckpt["step"]))
        if echo and main:
            echo(f"resuming {ckpt['stage']} at step {ckpt['step']}")
    if ckpt is None:
        dist.sync_from_main(model, state)
    log = run.log if (run is not None and main) else (lambda rec: None)
    stage_s: dict[str, float] = {}
    done_stages = set(ckpt["done"]) if ckpt is not None else set()
    # wall time counts every session of a resumed run, not only this one
    earlier_s = float(ckpt.get("elapsed_s", 0.0)) if ckpt is not None else 0.0
    for sname in STAGES:
        stage: StageConfig = getattr(cfg, sname)
        terms = _terms(stage)
        if not terms or sname in done_stages:
            continue
        refreshers = [build_refresher(r, stage) for r in stage.refreshers]
        on_known = any("class_labels" in t.loss.needs for t in terms)  # DTC's supervised stage
        ctx = Context(model=model, images=known_images if on_known else images, labels=None if on_known else data.labels,
                      state=state, cfg=cfg, stage=stage, device=dev)
        resume_stage = ckpt if (ckpt is not None and ckpt["stage"] == sname) else None

        def save(stage_name, step, opt, _done=frozenset(done_stages)):
            if run is not None and main:
                run.save_checkpoint({"stage": stage_name, "step": step, "done": sorted(_done),
                                     "model": model.state_dict(), "optim": opt.state_dict(),
                                     "state": state.tensors(), "data": fingerprint,
                                     "elapsed_s": earlier_s + time.perf_counter() - t_start})

        t0 = time.perf_counter()
        if echo and main:
            echo(f"{sname}: {', '.join(f'{t.name}×{t.weight:g}' for t in terms)}")
        run_stage(sname, ctx, terms, refreshers, log, save=save, resume=resume_stage,
                  progress=cfg.train.progress and main)
        stage_s[sname] = round(time.perf_counter() - t0, 3)
        done_stages.add(sname)
        if on_known:  # the known images' part is done: free them (device memory, later checkpoints)
            known_images, state.class_labels = None, None
        state.stop = False
    if assign:
        res = _assign(cfg, model, images, state, dev)
    else:
        res = {"labels": np.empty(0, np.int64), "confidence": np.empty(0, np.float32),
               "distance": np.empty(0, np.float32), "embedding": np.empty((0, 0), np.float32),
               "centers": np.empty((0, 0), np.float32)}
    metrics = evaluate(data.labels, res["labels"]) if (data.labels is not None and assign) else None
    wall = earlier_s + time.perf_counter() - t_start
    return FitResult(model=model, metrics=metrics, stage_s=stage_s, wall_s=round(wall, 3),
                     device=_device_name(dev, precision, model.channels_last), state=state, **res)


@torch.no_grad()
def _assign(cfg: RunConfig, model: ClusterNet, images: torch.Tensor, state: ClusterState, dev) -> dict[str, Any]:
    ctx = Context(model=model, images=images, labels=None, state=state, cfg=cfg, stage=cfg.cluster, device=dev)
    if hasattr(model.ae, "fit_cluster_space"):
        # DeepCluster: the whitening was fitted at the last reassignment; the features moved since. One pass
        # over the images gives the features for both the refit and the whitened embedding.
        feats = model.embed(images, cfg.train.eval_max, raw=True)
        model.ae.fit_cluster_space(feats, keep=assign_dims(cfg))
        z = model.ae.cluster_space(feats)
    else:
        z = ctx.embed_all()
    if getattr(model.ae, "label_features", False):
        # DAC: cluster = argmax of the label features = the nearest one-hot vector.
        centers = torch.eye(cfg.method.n_clusters, device=dev)
    elif isinstance(model.head, StudentTHead):
        centers = model.head.centroids.detach().float()
    elif state.centroids is not None:
        centers = state.centroids.float()
    else:
        _, c = kmeans(z, cfg.method.n_clusters, n_init=cfg.method.n_init, seed=cfg.train.seed)
        centers = torch.from_numpy(c).to(dev)
        state.centroids = centers
    labels, conf, dist = soft_assign(z, centers, cfg.method.alpha, getattr(model.ae, "label_features", False))
    return {"labels": labels, "confidence": conf, "distance": dist,
            "embedding": z.cpu().numpy(), "centers": centers.cpu().numpy()}


def assign_dims(cfg: RunConfig) -> int | None:
    """How many whitened dimensions DeepCluster's final k-means sees (method.assign_dims); None: all of them."""
    from ..cluster.whiten import whitened_dims

    return whitened_dims(cfg.method.assign_dims, cfg.method.n_clusters)


def soft_assign(z: torch.Tensor, centers: torch.Tensor, alpha: float = 1.0, label_features: bool = False):
    """Hard label, confidence and distance to the chosen centre, for each row of z. The confidence is
    the Student-t soft assignment's, or for label features (DAC: z is already a softmax over the
    clusters, centres one-hot) the softmax probability itself."""
    d2 = torch.cdist(z.float(), centers.float()).pow(2)
    if label_features:
        q = z.float()
    else:
        q = (1.0 + d2 / alpha).pow(-(alpha + 1.0) / 2.0)
        q = q / q.sum(1, keepdim=True)
    # The label is the nearest centre (as k-means'), taken from the distances: where every distance
    # is tiny, q = 1/(1+d²) rounds to equal values in float32 and its argmax would pick the first.
    labels = q.argmax(1) if label_features else d2.argmin(1)
    conf = q.gather(1, labels[:, None]).squeeze(1)
    dist = d2.gather(1, labels[:, None]).squeeze(1).sqrt()
    return labels.cpu().numpy(), conf.cpu().numpy(), dist.cpu().numpy()


def _device_name(dev: torch.device, precision: str, channels_last: bool = False) -> str:
    """What every result file and report records: the device (× processes under torchrun), the layout where it
    is channels-last, and the training precision."""
    world = dist.world_size()
    times = f"{world} × " if world > 1 else ""
    layout = "channels-last, " if channels_last else ""
    if dev.type == "cuda":
        return f"{times}{torch.cuda.get_device_name(dev)} ({layout}{precision})"
    import platform

    return (f"{times}cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
            f"{layout}{precision})")


def write_outputs(run: RunDir, cfg: RunConfig, data: ImageSet, res: FitResult) -> dict[str, Any]:
    truth = data.labels.numpy() if data.labels is not None else None
    sizes = np.bincount(res.labels, minlength=cfg.method.n_clusters).tolist()
    # What `predict` compares new images with, to say whether they look like the training images.
    from .. import novelty

    novelty_tensors, novelty_summary = novelty.fit_reference(res.model, data.images, seed=cfg.train.seed)
    result = {
        "method": cfg.method.name, "dataset": data.name, "n_images": len(data), "n_clusters": cfg.method.n_clusters,
        "acc": None, "nmi": None, "ari": None, **(res.metrics or {}),
        "cluster_sizes": sizes, "wall_s": res.wall_s, "stage_s": res.stage_s, "device": res.device,
        "torch": torch.__version__, "seed": cfg.train.seed, "profile": cfg.profile, "git_commit": git_commit(),
        "n_skipped": len(data.skipped), "image_shape": list(data.images.shape[1:]),
        "novelty": novelty_summary, "created": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    used = sum(1 for n in sizes if n)
    if used < cfg.method.n_clusters:
        # A collapsed clustering looks like a result; say so where a person looks (console, report).
        result["warning"] = (f"only {used} of the {cfg.method.n_clusters} clusters have images: the clustering "
                             "collapsed. Try --method kmeans (a baseline on the pixels), fewer clusters (--k), or a "
                             "smaller clustering learning rate (--set cluster.optim.lr=...)")
        run.log({"stage": "result", "warning": result["warning"]})
    run.write_result(result)
    run.write_assignments(data.names, res.labels, res.confidence, truth)
    run.write_gallery(data.images, data.names, res.labels, res.confidence, source=data.root,  # folders: originals
                      reframe=cfg.data.reframe)
    run.write_embedding_2d(res.embedding, res.labels, truth, seed=cfg.train.seed)
    preset = cfg.pretrain.augment or cfg.cluster.augment
    if preset:
        from ..augment import AUGMENTATIONS

        g = torch.Generator().manual_seed(cfg.train.seed)
        pick = torch.randperm(len(data), generator=g)[:8]
        x = data.images[pick].float() / 255
        views = torch.stack([AUGMENTATIONS.get(preset)(x, g) for _ in range(4)], 1)  # n×4×C×H×W
        run.write_augmented(data.images[pick], (views * 255).round().clamp(0, 255).to(torch.uint8),
                            [data.names[i] for i in pick.tolist()], preset)
    if getattr(res.model.ae, "n_st", 0) >= 1:
        write_st_pictures(run, cfg, data, res)
    tensors = {f"model.{k}": v for k, v in res.model.state_dict().items()}
    tensors["centers"] = torch.from_numpy(res.centers)
    run.save_model({**tensors, **novelty_tensors})
    write_gradcam(run, data, res)
    return result


def write_gradcam(run: RunDir, data: ImageSet, res: FitResult, per_cluster: int = 6) -> None:
    """Grad-CAM++ maps of each cluster's most confident images (gradcam.npz), for the report: what in each
    image made the network put it in its cluster. Networks without a convolution or cluster scores to
    explain get none; a failure here costs the pictures, never the run."""
    from ..explain.gradcam import cam_maps, explainable

    if not explainable(res.model):
        return
    try:
        pick = []
        for c in np.unique(res.labels):
            members = np.flatnonzero(res.labels == c)
            pick += members[np.argsort(-res.confidence[members], kind="stable")[:per_cluster]].tolist()
        pick = np.asarray(pick, dtype=np.int64)
        maps = cam_maps(res.model, data.images[pick], res.labels[pick])
        if len(maps) != len(pick):
            raise RuntimeError(f"{len(maps)} maps for {len(pick)} images")
        run.write_gradcam(images=data.images[pick].numpy(), maps=(maps * 255).round().astype(np.uint8),
                          clusters=res.labels[pick], names=[data.names[i] for i in pick.tolist()])
    except Exception as exc:  # noqa: BLE001  (pictures are extra; the run's results are already written)
        import logging

        logging.getLogger(__name__).warning("Grad-CAM maps skipped: %s", exc)


def load_model(run_path, device: str = "cpu") -> tuple[RunConfig, ClusterNet, torch.Tensor, dict[str, Any]]:
    """Rebuild a trained model from its run folder (safetensors only; nothing is unpickled)."""
    import json

    from safetensors.torch import load_file

    p = Path(run_path)
    for f in ("config.yaml", "result.json", "model.safetensors"):
        if not (p / f).is_file():
            if f != "config.yaml" and (p / "config.yaml").is_file():
                raise UserError(f"the run in '{p}' has not finished ({f} missing): continue it with "
                                f"deepclust cluster --resume {p} (or fit --resume), then predict")
            raise UserError(f"'{p}' is not a finished run folder ({f} missing): pass a folder under runs/")
    cfg = load_run_config(p)
    result = json.loads((p / "result.json").read_text())
    tensors = load_file(str(p / "model.safetensors"), device=device)
    model = build_model(cfg, tuple(result["image_shape"]), result.get("n_images"))
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    model.to(device).eval()
    if resolve_channels_last(cfg.train.memory_format, torch.device(device), tuple(result["image_shape"]),
                             cfg.encoder.name):
        model.use_channels_last()  # predict's embed() in the layout training used (the speed, not the result)
    return cfg, model, tensors["centers"], result


def load_novelty(run_path) -> dict[str, torch.Tensor] | None:
    """The novelty reference stored beside a run's model (deepclust.novelty), or None for a run written
    before it was stored."""
    from safetensors import safe_open

    with safe_open(str(Path(run_path) / "model.safetensors"), framework="pt") as f:
        keys = [k for k in f.keys() if k.startswith("novelty.")]
        return {k: f.get_tensor(k) for k in keys} or None


@torch.no_grad()
def write_st_pictures(run: RunDir, cfg: RunConfig, data: ImageSet, res: FitResult, probe: int = 16) -> None:
    """What the first spatial-transformer layer does (ST-DAC Fig. 4 and 5): probe images, the layer's
    output early in training and at the end, and per-group mean and std images of the input and of the
    output (groups: true classes when known, else clusters). Written to st.npz for the report."""
    model = res.model
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    g = torch.Generator().manual_seed(cfg.train.seed)
    pick = torch.randperm(len(data), generator=g)[:probe]
    state = res.state
    groups = data.labels.numpy() if data.labels is not None else res.labels
    k = int(groups.max()) + 1
    c, h, w = data.images.shape[1:]
    sums = torch.zeros(2, k, c, h, w, dtype=torch.float64)
    sq = torch.zeros_like(sums)
    counts = torch.bincount(torch.as_tensor(groups), minlength=k).double()
    gt = torch.as_tensor(groups)
    for i in range(0, len(data), 4096):
        x = data.images[i:i + 4096].to(dev).float().div_(255)
        y = model.ae.transformed(x).float().cpu().double()
        x = x.cpu().double()
        gi = gt[i:i + 4096]
        for j, t in enumerate((x, y)):
            sums[j].index_add_(0, gi, t)
            sq[j].index_add_(0, gi, t * t)
    n = counts.clamp_min(1)[None, :, None, None, None]
    mean = sums / n
    std = (sq / n - mean ** 2).clamp_min(0).sqrt()
    final = model.ae.transformed(data.images[pick].to(dev).float().div_(255)).clamp(0, 1)
    early = getattr(state, "st_early", None)
    model.train(was)
    run.write_st(
        originals=data.images[pick].numpy(),
        early=early.cpu().numpy() if early is not None else None,
        early_step=int(getattr(state, "st_early_step", torch.tensor(-1))),
        final=(final * 255).round().to(torch.uint8).cpu().numpy(),
        mean=mean.float().numpy(), std=std.float().numpy(), group_kind="class" if data.labels is not None else "cluster",
    )
