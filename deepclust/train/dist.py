"""Scaling out with PyTorch's own engine: `torchrun --nproc_per_node N -m deepclust ...`.

Every process holds the whole (small) dataset on its device and walks the same seeded
permutation; each takes its own slice of every global batch, so the global batch size and the
schedule do not change with N. After `backward`, the gradients of all processes are averaged in
one flattened all-reduce (the mean of equal shards' mean losses is the global batch's mean loss).
Refreshers (k-means, DEC's target, DAC's thresholds) run on every process and process 0's result
is then broadcast, so the state never drifts apart. Process 0 alone logs, checkpoints and writes
the run folder. NCCL on GPUs, gloo on CPUs. With one process nothing here does anything.
"""
from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def launched() -> bool:
    """True when started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str = "auto") -> None:
    """Join the process group torchrun describes (no-op for a single process or if already joined)."""
    if not launched() or dist.is_initialized():
        return
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda") or device.startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def local_device(dev: torch.device) -> torch.device:
    """Under torchrun, 'cuda' means this process's own GPU (LOCAL_RANK)."""
    if dev.type == "cuda" and dev.index is None and world_size() > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return dev


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def broadcast_object(obj: Any) -> Any:
    """Process 0's value of a small picklable object, on every process."""
    if world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def average_gradients(params: list[torch.nn.Parameter]) -> None:
    """Mean of every process's gradients, in one collective (no host sync). Parameters without a
    gradient (unused in this stage) are left without one, exactly as in a single process."""
    if world_size() == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch._utils._flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat.div_(world_size())
    for g, synced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
        g.copy_(synced)


def sync_from_main(model: torch.nn.Module, state) -> None:
    """Make every process hold process 0's parameters, buffers and refresher state."""
    if world_size() == 1:
        return
    for t in list(model.parameters()) + list(model.buffers()):
        dist.broadcast(t.data, src=0)
    for name, t in sorted(state.tensors().items()):
        dist.broadcast(t, src=0)
        setattr(state, name, t)
    stop = torch.tensor([1.0 if state.stop else 0.0], device=next(model.parameters()).device)
    dist.broadcast(stop, src=0)
    state.stop = bool(stop.item())


def mean_across(t: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor over processes (for logged losses)."""
    if world_size() == 1:
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t.div_(world_size())


def gather_cat(t: torch.Tensor) -> torch.Tensor:
    """Every process's rows of `t` (same shape on each), concatenated in rank order."""
    if world_size() == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)
