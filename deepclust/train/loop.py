"""The one training loop. Data stays on the device; batches are sliced from a permutation;
the host syncs only every `log_every` steps (logging, NaN check, checkpoint)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..config import StageConfig
from ..errors import UserError
from ..objectives.base import Batch, LossTerm
from ..refresh.base import Context, Refresher
from . import dist
from .device import autocast, epoch_permutation, load_optimizer_state, make_optimizer, resolve_precision


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class Term:
    name: str
    weight: float
    loss: LossTerm


def stage_steps(stage: StageConfig, n: int, world: int = 1) -> tuple[int, int, int]:
    """(global batch size, steps per epoch, total steps). Fixed batch shapes: the ragged tail is
    dropped and a fresh permutation is drawn every epoch, so every image is seen over time. Under
    torchrun the global batch is split evenly over the `world` processes."""
    bs = min(stage.batch_size, n)
    bs -= bs % world
    spe = max(1, n // bs)
    limits = []
    if stage.epochs is not None:
        limits.append(int(math.ceil(stage.epochs * spe)))
    if stage.max_steps is not None:
        limits.append(int(stage.max_steps))
    return bs, spe, (min(limits) if limits else 0)


def rampup(t: float, length: float | None) -> float:
    """Laine & Aila's sigmoid ramp-up from 0 to 1 over `length` epochs: exp(-5 (1 - t/length)^2); 1 without
    a length. t: epochs done (fractional)."""
    if not length:
        return 1.0
    x = min(max(t / length, 0.0), 1.0)
    return math.exp(-5.0 * (1.0 - x) ** 2)


def run_stage(
    name: str,
    ctx: Context,
    terms: list[Term],
    refreshers: list[Refresher],
    log: Callable[[dict[str, Any]], None],
    save: Callable[[str, int, torch.optim.Optimizer], None] | None = None,
    resume: dict[str, Any] | None = None,
    progress: bool = True,
) -> int:
    """Train one stage; returns the number of steps taken. `save(stage, step, opt)` checkpoints."""
    stage, cfg, dev = ctx.stage, ctx.cfg, ctx.device
    n = len(ctx.images)
    world, rank = dist.world_size(), dist.rank()
    bs, spe, total = stage_steps(stage, n, world)
    local = bs // world  # this process's share of every global batch
    model = ctx.model
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(stage.optim, params, dev)
    ctx.optimizer = opt
    # Refreshers that update state from each batch see the whole global batch under torchrun.
    gather_batch = world > 1 and any(type(r).after_step is not Refresher.after_step for r in refreshers)
    precision = resolve_precision(cfg.train.precision, dev)
    start = 0
    for r in refreshers:
        r.setup(spe, total)
    if resume is not None:
        load_optimizer_state(opt, resume["optim"])
        start = int(resume["step"])
    else:
        for r in refreshers:
            rec = r.at_start(ctx)
            if rec:
                log({"stage": name, "step": 0, "epoch": 0.0, **rec})
        dist.sync_from_main(model, ctx.state)
    reconstruct = any("recon" in t.loss.needs for t in terms)
    want_views = any("views" in t.loss.needs for t in terms)
    # the pass on x builds a graph only if some term trains through it (pairwise_views, self_label do not)
    grad_on_inputs = any(t.loss.grads_through_inputs for t in terms)
    aug = None
    if stage.augment:
        from ..augment import AUGMENTATIONS

        aug = AUGMENTATIONS.get(stage.augment)
        aug_gen = torch.Generator(device=dev)
    sums = torch.zeros(len(terms) + 1, device=dev)
    count = 0
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=start, desc=name, unit="step", leave=False, disable=None)
    perm = None
    step = start
    for step in range(start, total):
        ctx.step = step
        epoch, pos = divmod(step, spe)
        for r in refreshers:
            if r.due(step):
                rec = r(ctx)
                if rec:
                    log({"stage": name, "step": step, "epoch": round(step / spe, 3), **rec})
                dist.sync_from_main(model, ctx.state)
        if ctx.state.stop:
            break
        if perm is None or pos == 0:
            # A refresher may draw the epoch's order (DeepCluster's sampler, uniform over pseudo-labels), afresh
            # every epoch, also between its refreshes.
            perm = None
            for r in refreshers:
                order = r.epoch_order(ctx, epoch)
                if order is not None:
                    perm = order
            if perm is None:
                perm = epoch_permutation(n, cfg.train.seed, name, epoch, dev)
        idx = perm[pos * bs + rank * local:pos * bs + (rank + 1) * local]
        clean = ctx.to_float(ctx.images[idx])
        x, views = clean, []
        if aug is not None:
            # Reseeded from (seed, step): a resumed run draws the same augmentations.
            aug_gen.manual_seed(cfg.train.seed * 1_000_003 + step * 7919 + 17 + rank * 104_729)
            # One batched warp per call; inputs picks what the ordinary loss terms see.
            if stage.inputs == "augmented":
                x = aug(clean, aug_gen)
            elif stage.inputs == "both":
                x, idx = torch.cat([clean, aug(clean, aug_gen)]), torch.cat([idx, idx])
            if want_views:
                views = [aug(clean, aug_gen) for _ in range(stage.views)]
        x, views = model.layout(x), [model.layout(v) for v in views]  # the weights' layout (NHWC for conv nets)
        batch = Batch(x=x, idx=idx, views=views)
        with autocast(dev, precision):
            with torch.set_grad_enabled(grad_on_inputs):
                out = model(x, reconstruct=reconstruct)
            out.views = [model(v, reconstruct=False) for v in views]
            values = [t.loss(out, batch, ctx.state).float() for t in terms]
            loss = sum(t.weight * rampup(step / spe, stage.rampup.get(t.name)) * v for t, v in zip(terms, values))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(params)
        opt.step()
        if gather_batch:
            batch = Batch(x=batch.x, idx=dist.gather_cat(batch.idx), views=[])
            out = type(out)(z=dist.gather_cat(out.z.detach()))
        for r in refreshers:
            r.after_step(ctx, batch, out)
        sums += torch.stack([loss.detach(), *[v.detach() for v in values]])
        count += 1
        done = step + 1
        if done % cfg.train.log_every == 0 or done == total:
            vals = dist.mean_across(sums / count).tolist()  # the only host sync of the loop
            if not all(math.isfinite(v) for v in vals):
                raise TrainingDiverged(
                    f"{name}: the loss became {vals[0]} at step {done}; the last good checkpoint is kept. "
                    f"Lower the learning rate ({name}.optim.lr) and run again with --resume"
                )
            log({"stage": name, "step": done, "epoch": round(done / spe, 3), "loss": vals[0],
                 "losses": {t.name: v for t, v in zip(terms, vals[1:])},
                 "time_s": round(time.perf_counter() - t0, 3)})
            sums.zero_()
            count = 0
            if bar is not None:
                bar.update(done - bar.n)
                bar.set_postfix(loss=f"{vals[0]:.4g}")
            # and at the stage's last step: an interrupted clustering then resumes after the pretraining
            if save is not None and (done % cfg.train.checkpoint_interval == 0 or done == total):
                save(name, done, opt)
    if bar is not None:
        bar.close()
    return step
