"""DAC's threshold schedule and the spatial-transformer monitor."""
from __future__ import annotations

import torch

from ..errors import UserError
from ..metrics import evaluate
from ..registry import REFRESHERS
from .base import Context, PeriodicRefresher


def dac_thresholds(lower0: float, upper0: float, frac: float, selection: str) -> tuple[float, float]:
    """(l, u) after a fraction `frac` of the stage. DAC (Chang et al. 2017): u(λ) = u0 - λ, l(λ) = l0 + 0.1 λ,
    λ growing linearly until the two meet at the end of the stage. DAC*: one threshold, moving linearly
    from u0 to l0, labels every pair (as DAC's and ST-DAC's reference code do)."""
    frac = min(max(frac, 0.0), 1.0)
    if selection == "dac*":
        t = upper0 - (upper0 - lower0) * frac
        return t, t
    if selection == "dac":
        lam = frac * (upper0 - lower0) / 1.1
        return lower0 + 0.1 * lam, upper0 - lam
    raise UserError(f"method.selection must be dac or dac*, got '{selection}'")


def check_thresholds(thresholds, selection: str) -> None:
    if len(thresholds) != 2:
        raise UserError(f"method.thresholds must be two numbers [lower, upper], got {list(thresholds)}")
    lo, up = thresholds
    if not (0.0 <= lo < up <= 1.0):
        raise UserError(f"method.thresholds [{lo}, {up}]: need 0 <= lower < upper <= 1 (the paper: [0.9, 0.99] "
                        f"for MNIST, [0.8, 0.99] for Fashion-MNIST)")
    dac_thresholds(lo, up, 0.0, selection)


def _steps(ctx: Context) -> tuple[int, int]:
    from ..train.loop import stage_steps

    _, spe, total = stage_steps(ctx.stage, len(ctx.images))
    return spe, max(total, 1)


@REFRESHERS.register("dac_thresholds")
class DACThresholds(PeriodicRefresher):
    """Every `stage.update_interval` steps (0: every epoch, the paper's rule; from step 0): move (l, u) along DAC's schedule, and, when
    ground truth is known, log ACC/NMI/ARI of the argmax clusters (the paper's ACC-per-epoch curve)."""

    provides = frozenset({"thresholds"})
    EVAL_SAMPLE = 10_000

    def __init__(self, update_interval: int):
        super().__init__(update_interval)
        self._eval_idx: torch.Tensor | None = None

    @torch.no_grad()
    def __call__(self, ctx: Context):
        m = ctx.cfg.method
        spe, total = _steps(ctx)
        lo, up = dac_thresholds(m.thresholds[0], m.thresholds[1], ctx.step / total, m.selection)
        ctx.state.thresholds = torch.tensor([lo, up], device=ctx.device)
        rec = {"event": "thresholds", "lower": round(lo, 5), "upper": round(up, 5)}
        if ctx.labels is not None:
            # The learning curve is scored on a fixed sample of at most EVAL_SAMPLE images (one embedding
            # pass over 70,000 images costs as much as ~400 training steps on a CPU); the final
            # result always scores every image.
            n = len(ctx.images)
            if self._eval_idx is None:
                g = torch.Generator().manual_seed(ctx.cfg.train.seed)
                self._eval_idx = torch.randperm(n, generator=g)[: self.EVAL_SAMPLE].sort().values
            idx = self._eval_idx
            labels = ctx.model.embed(ctx.images[idx.to(ctx.images.device)]).argmax(1).cpu()
            rec.update(evaluate(ctx.labels[idx], labels))
            rec["clusters_used"] = int(torch.unique(labels).numel())
            rec["eval_images"] = int(len(idx))
        return rec


@REFRESHERS.register("st_monitor")
class STMonitor(PeriodicRefresher):
    """Watches the spatial-transformer layers on a fixed probe of images every `stage.update_interval`
    steps. Logs θ's health (|det A|: area of the sampled window; shift) and how much contrast the first
    layer's output keeps; warns when a layer collapses (the window vanishes or blows up, or the output
    goes blank) instead of letting a bad number pass silently. Keeps the first layer's output on the
    probe early in training (after the first epoch, or a tenth of a shorter stage) for the report."""

    PROBE = 16

    def due(self, step: int) -> bool:
        return step > 0 and super().due(step)

    def _probe(self, ctx: Context) -> torch.Tensor:
        g = torch.Generator().manual_seed(ctx.cfg.train.seed)
        idx = torch.randperm(len(ctx.images), generator=g)[: self.PROBE].to(ctx.images.device)
        return ctx.to_float(ctx.images[idx])

    @torch.no_grad()
    def __call__(self, ctx: Context):
        from ..nets.stn import theta_health

        net = ctx.model.ae
        layers = net.st_layers_list() if hasattr(net, "st_layers_list") else []
        if not layers:
            return None
        was = ctx.model.training
        ctx.model.eval()
        x = self._probe(ctx)
        net.encode(x)
        y = net.transformed(x)
        ctx.model.train(was)
        rec: dict = {"event": "st_monitor"}
        warnings = []
        for i, layer in enumerate(layers, 1):
            h = theta_health(layer.last_theta)
            rec[f"st{i}"] = {k: round(v, 4) for k, v in h.items()}
            if h["det_mean"] < 0.05 or h["det_mean"] > 20:
                warnings.append(f"ST layer {i} collapsed: mean |det θ| = {h['det_mean']:.3g} "
                                f"(1 = identity; the layer samples a {'vanishing' if h['det_mean'] < 1 else 'huge'} window)")
        if y is not None:
            ratio = float(y.std() / x.std().clamp_min(1e-8))
            rec["st1_contrast"] = round(ratio, 4)
            if ratio < 0.05:
                warnings.append(f"ST layer 1 output went blank (contrast {ratio:.3f} of the input's)")
            spe, total = _steps(ctx)
            if getattr(ctx.state, "st_early", None) is None and ctx.step >= min(spe, total // 10):
                ctx.state.st_early = (y.clamp(0, 1) * 255).round().to(torch.uint8)
                ctx.state.st_early_step = torch.tensor(ctx.step)
        if warnings:
            rec["warning"] = "; ".join(warnings)
            import sys

            print("warning: " + rec["warning"] + " (see metrics.jsonl; lower the learning rate or use fewer "
                  "encoder.st_layers)", file=sys.stderr)
        return rec
