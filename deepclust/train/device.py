"""Device, precision and optimiser choices (DESIGN.md performance rules)."""
from __future__ import annotations

import contextlib
import random
import zlib

import numpy as np
import torch

from ..config import OptimConfig
from ..errors import UserError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device '{name}': use auto, cpu or cuda[:N]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device is cuda but no GPU is visible: use --set train.device=cpu")
    return dev


PRECISIONS = ("auto", "fp32", "bf16")


def cpu_has_native_bf16() -> bool:
    """True where the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX); elsewhere oneDNN emulates
    bf16 and it is slower than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_precision(name: str, device: torch.device) -> str:
    """The precision of the training step: bf16 autocast on CUDA and on CPUs with native bf16,
    fp32 elsewhere. Weights, the optimiser, losses and every evaluation pass stay fp32."""
    if name not in PRECISIONS:
        raise UserError(f"unknown train.precision '{name}': use {', '.join(PRECISIONS)}")
    if name != "auto":
        return name
    if device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16()):
        return "bf16"
    return "fp32"


MEMORY_FORMATS = ("auto", "channels_last", "contiguous")


def resolve_channels_last(name: str, device: torch.device, in_shape: tuple[int, ...], encoder: str) -> bool:
    """Whether a run keeps its image batches and conv weights channels-last (NHWC). auto: yes for conv nets on
    CUDA (cuDNN's fast path; not yet timed on a GPU here) and on CPU (oneDNN's; measured faster for every conv
    net here), no for the MLP autoencoder and the identity encoder, which flatten the image first."""
    if name not in MEMORY_FORMATS:
        raise UserError(f"unknown train.memory_format '{name}': use {', '.join(MEMORY_FORMATS)}")
    if len(in_shape) != 3 or encoder in ("mlp", "identity"):
        return False
    if name == "auto":
        return device.type in ("cuda", "cpu")
    return name == "channels_last"


def autocast(device: torch.device, precision: str = "fp32"):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_optimizer(cfg: OptimConfig, params, device: torch.device) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    kw = {"fused": True} if device.type == "cuda" else {}  # one kernel for all parameters on a GPU
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **kw)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, **kw)
    raise UserError(f"unknown optimiser '{cfg.name}': use adam or sgd")


def load_optimizer_state(opt: torch.optim.Optimizer, state: dict) -> None:
    """opt.load_state_dict, then each per-parameter buffer (Adam's moments, SGD's momentum) put in its
    parameter's memory layout. load_state_dict keeps the strides it saved, so a checkpoint written in the other
    layout (a run from before channels-last, or one whose train.memory_format changed) would otherwise resume with
    NCHW moments beside NHWC weights, which fused CUDA optimisers refuse ("must have same ... layout")."""
    opt.load_state_dict(state)
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p)
            for k, v in (st or {}).items():
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    st[k] = torch.empty_like(p, dtype=v.dtype).copy_(v)  # empty_like keeps p's strides


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_permutation(n: int, seed: int, stage: str, epoch: int, device: torch.device) -> torch.Tensor:
    """The order of one epoch, a pure function of (seed, stage, epoch) so a resumed run replays it."""
    g = torch.Generator(device="cpu")
    g.manual_seed((seed * 1_000_003 + zlib.crc32(stage.encode()) * 7919 + epoch) % 2**63)
    return torch.randperm(n, generator=g).to(device, non_blocking=True)
