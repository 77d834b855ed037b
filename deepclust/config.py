"""Frozen dataclasses: the one source of configuration.

YAML files are these dataclasses written out; the CLI only loads and overrides them
(`--set encoder.pool=gap`). Precedence: method defaults < config file < --set.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError


@dataclass(frozen=True)
class OptimConfig:
    name: str = "adam"  # adam | sgd
    lr: float = 1e-3
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0


@dataclass(frozen=True)
class DataConfig:
    name: str = "digits"  # a built-in dataset name or a folder path
    root: str | None = None  # data root for built-ins; None = DEEPCLUST_DATA or ../shared/datasets
    image_size: int | None = None  # folders: side of the square images (None = the method's default)
    channels: int | None = None  # 1 or 3; None = keep (built-ins) / auto (folders)
    limit: int | None = None  # use the first N images only (tests, quick looks)
    # DTC (transfer clustering): labelled images of *other* classes, known beforehand, that the network first
    # learns to classify. Either these class ids of a built-in dataset (its other classes are clustered) …
    known_classes: tuple[int, ...] = ()
    # … or a folder with one subfolder of images per known class (`deepclust cluster NEW/ --known SORTED/`).
    known: str | None = None
    # Gunari et al.'s "manual attention": none | grabcut (the known images' background removed by GrabCut, in a
    # box of the image less 10 % a side, before the classifier learns from them)
    attention: str = "none"
    # none | object | isolate: crop each photo to the square around its object (found against a plane fitted to
    # the photo's border) instead of the centre square, before it is shrunk to image_size; isolate also sets a
    # plain backdrop to black (deepclust/data/reframe.py)
    reframe: str = "none"


@dataclass(frozen=True)
class EncoderConfig:
    name: str = "mlp"  # a registered encoder: mlp | conv_ae
    hidden: tuple[int, ...] = (500, 500, 2000)  # mlp: DEC's d-500-500-2000-10
    filters: tuple[int, ...] = (32, 64, 128)  # conv_ae: DCEC's 5x5/5x5/3x3 stride-2 convs
    embed_dim: int = 10
    pool: str = "flatten"  # conv_ae: flatten (DCEC) | gap (GAP-DCEC: global average pooling) | gap-add | flatten+gap (readings of GAP-DCEC eq. 3)
    batch_norm: bool = False  # DCEC has none; deeper photo encoders may want it
    st_layers: int = 0  # stdac_cnn: spatial-transformer layers (0-3: input, after block 2, after block 3)
    dropout: float = 0.0  # label-feature nets: dropout after the hidden dense layer (ST-DAC's code: 0.5); deepcluster_cnn: before each dense layer
    sobel: bool = False  # deepcluster_cnn: grey + Sobel filters in front of the trunk (DeepCluster's --sobel)
    init: str = "torch"  # weight init: torch (PyTorch's defaults) | keras (glorot-uniform weights, zero biases)
    n_known: int = 0  # dtc_cnn: classes of its supervised classifier (set from the labelled known images)


@dataclass(frozen=True)
class StageConfig:
    """One training stage (autoencoder pretraining, or clustering)."""

    epochs: float | None = None  # stop after this many passes over the data …
    max_steps: int | None = None  # … or this many steps, whichever comes first
    batch_size: int = 256
    optim: OptimConfig = field(default_factory=OptimConfig)
    losses: dict[str, float] = field(default_factory=dict)  # loss name -> weight
    refreshers: tuple[str, ...] = ()  # periodic jobs, run in this order
    update_interval: int = 140  # steps between DEC target-distribution refreshes
    # With update_interval 0 (once an epoch): where epochs are shorter than this many steps, refresh only every
    # ceil(min_update_steps / steps per epoch) epochs, so that a small folder's two-step epochs still leave
    # DeepCluster's fresh top layer some steps to learn its new pseudo-labels before the next reassignment
    min_update_steps: int = 0
    tol: float = 0.001  # stop clustering when fewer than tol of the labels change at a refresh
    augment: str | None = None  # augmentation preset for this stage (heritage, rot, shear, scale, dec-da)
    inputs: str = "clean"  # what recon/KL/k-means terms see: clean | augmented (DEC-DA) | both (original + augmented)
    views: int = 1  # augmented copies per image handed to consistency terms
    # loss name -> epochs over which its weight ramps up from 0 (Laine & Aila's sigmoid ramp-up,
    # exp(-5 (1 - t)^2); DTC's consistency terms: 5 epochs)
    rampup: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodConfig:
    name: str = "dec"
    n_clusters: int = 10
    alpha: float = 1.0  # Student-t degrees of freedom (DEC: 1)
    n_init: int = 20  # k-means restarts for the centroid initialisation
    thresholds: tuple[float, ...] = (0.9, 0.99)  # DAC: (lower, upper) pair-selection thresholds at the start
    selection: str = "dac*"  # DAC: dac* (every pair labelled, one threshold) | dac (pairs between l and u unused)
    # DeepCluster: k-means clusters for the pseudo-labels; 0: one per ~100 images, between n_clusters and
    # 10 x n_clusters. More than n_clusters over-clusters, as DeepCluster does (k=10,000 on ImageNet); the
    # run's own n_clusters clusters then come from a final k-means on the trained features.
    pseudo_k: int = 0
    # DeepCluster: how the pseudo-labels are found: kmeans (the number above) | pic (Power Iteration Clustering
    # on a 5-nearest-neighbour graph, the reproduction's choice in papers/002: as many clusters as the graph has
    # local maxima; the head has only the number above, so beyond it the largest stay and the others' images
    # join the nearest of their means; the reference sizes its top layer to what PIC finds instead)
    pseudo_clustering: str = "kmeans"
    # DeepCluster: how many whitened dimensions the final k-means (the run's n_clusters clusters, and `predict`)
    # sees: 0 = all of encoder.embed_dim (the default before 2026-12-07, kept for old runs); -1 = n_clusters - 1
    # (at least 2; the recipe's default): k clusters' centres span k - 1 directions, and whitening gives every
    # further direction, within-cluster noise, the same weight as those (measured: docs/decisions.md); N = N.
    assign_dims: int = 0
    # DeepCluster: the same for the k-means that gives the pseudo-labels during training: 0 = all of
    # encoder.embed_dim; -1 = pseudo-labels - 1 (at least 2, at most embed_dim; PIC always reads all); N = N.
    pseudo_dims: int = 0
    # DTC's temporal ensemble (TE/TEP): q~ <- beta q~ + (1 - beta) q once per epoch (the reference's alpha 0.6)
    ensemble_momentum: float = 0.6


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # auto = bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16/AMX), else fp32
    precision: str = "auto"  # auto | fp32 | bf16
    log_every: int = 100  # steps between metrics.jsonl lines (host syncs happen only here)
    checkpoint_every: int = 1000  # steps between checkpoints (for --resume)
    progress: bool = True
    eval_max: int = 100_000  # refreshes embed at most this many images at once per chunk
    # torch.compile mode for the network's training forward (and so its backward): none | default |
    # reduce-overhead (adds CUDA graphs on a GPU) | max-autotune. Fewer, fused kernels matter where small
    # nets are launch-bound on a GPU. Off by default: compiling costs tens of seconds up front, and
    # benchmarks/gpu/run.py measures each mode on the GPU before one earns a default.
    compile: str = "none"

    @property
    def checkpoint_interval(self) -> int:
        """Steps between checkpoints as written: a checkpoint follows a log line, where the loss is checked
        (a NaN keeps the last good one), so checkpoint_every counts in whole log intervals, rounded down."""
        return self.log_every * max(1, self.checkpoint_every // max(1, self.log_every))
    # Memory layout of image batches and conv weights: auto | channels_last | contiguous. auto = channels_last for
    # conv nets on CUDA (cuDNN's fast layout; not yet timed on a GPU here) and on CPU (measured faster there:
    # benchmarks/results/cpu-memory-format/), contiguous for the fully-connected autoencoder, where layout does
    # not apply. The device string of every result names channels-last where it was used.
    memory_format: str = "auto"


@dataclass(frozen=True)
class RunConfig:
    method: MethodConfig = field(default_factory=MethodConfig)
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    pretrain: StageConfig = field(default_factory=StageConfig)
    cluster: StageConfig = field(default_factory=StageConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    out_dir: str = "runs"
    profile: str = "custom"  # quick | full | custom: recorded with every result
    note: str = ""  # where the config departs from the paper or its reference code, say so here


def to_dict(cfg: Any) -> Any:
    """Plain dicts, lists and scalars (what YAML holds)."""
    if is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in fields(cfg)}
    if isinstance(cfg, (tuple, list)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    return cfg


def _coerce(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except UserError as e:
                errors.append(str(e))
        raise UserError(errors[0] if errors else f"bad value for {key}: {value!r}")
    if origin is tuple:
        given = value
        if isinstance(value, (int, float, str)):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{key} must be a list, got {value!r}")
        inner = args[0] if args else Any
        try:
            return tuple(_coerce(v, inner, key) for v in value)
        except UserError:
            kind = {int: "integers", float: "numbers", str: "strings"}.get(inner, "values")
            raise UserError(f"{key} must be a list of {kind}, e.g. [32, 64, 128], got {given!r}") from None
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{key} must be a mapping, got {value!r}")
        return {str(k): _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{key} must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{key} must be an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise UserError(f"{key} must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise UserError(f"{key} must be a string, got {value!r}")
        return str(value)
    return value


def merge(cfg: Any, overrides: dict[str, Any], prefix: str = "") -> Any:
    """A copy of the dataclass `cfg` with nested `overrides` applied; unknown keys are errors."""
    if not overrides:
        return cfg
    if not isinstance(overrides, dict):
        raise UserError(f"config section '{prefix.rstrip('.') or 'top'}' must be a mapping")
    hints = typing.get_type_hints(type(cfg))
    names = {f.name for f in fields(cfg)}
    changes = {}
    for k, v in overrides.items():
        key = f"{prefix}{k}"
        if k not in names:
            raise UserError(f"unknown config key '{key}': valid keys here are {', '.join(sorted(names))}")
        cur = getattr(cfg, k)
        if is_dataclass(cur):
            changes[k] = merge(cur, v, key + ".")
        elif isinstance(cur, dict) and isinstance(v, dict):
            merged = dict(cur)  # a weight of null removes an entry (e.g. a loss term)
            merged.update(_coerce({n: w for n, w in v.items() if w is not None}, hints[k], key))
            changes[k] = {n: w for n, w in merged.items() if v.get(n, 0) is not None}
        else:
            changes[k] = _coerce(v, hints[k], key)
    return replace(cfg, **changes)


def parse_sets(items: list[str]) -> dict[str, Any]:
    """['a.b=1', 'c=x'] -> {'a': {'b': 1}, 'c': 'x'}; values parsed as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"--set expects key=value, got '{item}' (e.g. --set encoder.pool=gap)")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def deep_update(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_update(out[k], v)
        else:
            out[k] = v
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        raise UserError(f"config file '{p}' is a folder: give --config a YAML file (e.g. configs/heritage/table1/cae-aug-mse.yaml)")
    if not p.is_file():
        raise UserError(f"config file '{p}' not found: check the path given to --config")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise UserError(f"config file '{p}' is not a text file: give a YAML file to --config") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"config file '{p}' is not valid YAML{where}: {problem}; fix that line") from None
    if not isinstance(data, dict):
        raise UserError(f"config file '{p}' must hold a mapping at the top level")
    return data


def dump_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def from_dict(data: dict[str, Any]) -> RunConfig:
    return merge(RunConfig(), data)


__all__ = [
    "OptimConfig", "DataConfig", "EncoderConfig", "StageConfig", "MethodConfig", "TrainConfig",
    "RunConfig", "merge", "parse_sets", "load_yaml", "dump_yaml", "to_dict", "from_dict", "deep_update",
    "dataclasses",
]
