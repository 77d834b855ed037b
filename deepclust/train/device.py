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


def autocast(device: torch.device):
    # bf16 on CUDA; fp32 on the CPU, where bf16 is far slower on these machines.
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_optimizer(cfg: OptimConfig, params, device: torch.device) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if cfg.name == "adam":
        kw = {"fused": True} if device.type == "cuda" else {}
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **kw)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise UserError(f"unknown optimiser '{cfg.name}': use adam or sgd")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_permutation(n: int, seed: int, stage: str, epoch: int, device: torch.device) -> torch.Tensor:
    """The order of one epoch, a pure function of (seed, stage, epoch) so a resumed run replays it."""
    g = torch.Generator(device="cpu")
    g.manual_seed((seed * 1_000_003 + zlib.crc32(stage.encode()) * 7919 + epoch) % 2**63)
    return torch.randperm(n, generator=g).to(device, non_blocking=True)
