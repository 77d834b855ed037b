"""Deep Transfer Clustering's refreshers (Han et al. 2019; Gunari et al., papers/003):

- `pca_init`: at the start of clustering, the batch-norm statistics are re-estimated on the new images
  (`refit_batchnorm`), then the PCA of the new images' transferred features becomes the network's last linear
  layer (`DTCNet.fit_projection`), so that `kmeans_init`, which runs next, places the centres in the principal
  components, as DTC does;
- `temporal_ensemble`: once per epoch (from step 0; on epochs shorter than `stage.min_update_steps`, once every
  that many steps rounded up to whole epochs, as DEC's target), q of every image (clean, eval mode) joins an
  exponential moving average, q~ = (β Q + (1 - β) q) / (1 - β^t) (eq. 6-7), the target of the
  `ensemble_consistency` term (DTC-TE);
- `ensemble_target`: the same, and DEC's target P is computed from q~ instead of q (DTC-TEP).
"""
from __future__ import annotations

import torch
from torch import nn

from ..metrics import evaluate
from ..objectives.kl_target import target_distribution
from ..registry import REFRESHERS
from .base import Context, PeriodicRefresher, Refresher


@torch.no_grad()
def refit_batchnorm(model, images: torch.Tensor, batch_size: int) -> int:
    """Re-estimate the running mean and variance of every batch-norm layer of `model.ae` (DTCNet: its trunk) on `images`
    (uint8, N×C×H×W): the running statistics are reset and accumulated as the average over batches of
    `batch_size` of each batch's statistics (momentum None, as torch.optim.swa_utils.update_bn), in training mode, no gradients, nothing else in training mode (dropout off). Returns the
    number of layers refitted.

    Why: the clustering stage trains in training mode, where batch norm uses the statistics of each batch
    of new images, and updates the running statistics towards them (momentum 0.1) at every step; the PCA,
    k-means, DEC's target and the final assignment read the embedding in eval mode, through the running
    statistics. Those come from the supervised stage on the known images, and on a small folder from a few
    steps (216 known images, batch 128: 10 steps, so 0.9^10 = 35 % of them is still the initial mean 0 and
    variance 1; measured 20-108x the new images' variance). The PCA and the centres were then fitted to an
    embedding that shrinks or moves as soon as training refreshes the statistics: the eval embedding's spread
    grew from 0.38 to 1.1 in 11 steps with the learning rate at 1e-12, away from the fixed centres, and every
    image was in one cluster from step 4. With the statistics of the new images, eval and training see the same
    normalisation from the first step (the reference's classifier, trained for many epochs on known images
    of the same kind, is near that already)."""
    bns = [m for m in model.ae.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
           and m.track_running_stats]
    if not bns or len(images) == 0:
        return 0
    was_training = model.training
    model.eval()
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
        m.train()
    dev = next(model.parameters()).device
    try:
        bs = max(2, int(batch_size))  # batch norm in training mode needs 2 values per channel
        for i in range(0, len(images), bs):
            x = images[i:i + bs]
            if len(x) < 2:  # a lone last image would give a variance of nothing
                break
            model.ae.trunk(model.layout(x.to(dev).float().div_(255.0)))
    finally:
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        model.train(was_training)
    return len(bns)


@REFRESHERS.register("pca_init")
class PCAInit(Refresher):
    provides = frozenset({"projection"})

    @torch.no_grad()
    def at_start(self, ctx: Context):
        refit_batchnorm(ctx.model, ctx.images, ctx.stage.batch_size)
        feats = ctx.model.embed(ctx.images, ctx.cfg.train.eval_max, trunk=True)
        ratio = ctx.model.ae.fit_projection(feats)
        return {"event": "pca_init", "explained_variance": round(float(ratio.sum()), 4)}


@REFRESHERS.register("temporal_ensemble")
class TemporalEnsemble(PeriodicRefresher):
    provides = frozenset({"ensemble"})
    needs = frozenset({"head_init"})
    sets_target = False
    reads_min_update_steps = True  # pipeline._check_min_update_steps

    @classmethod
    def from_stage(cls, stage):
        obj = cls(0)  # once per epoch, or every ceil(min_update_steps / steps per epoch) epochs on short epochs
        obj.min_update_steps = int(stage.min_update_steps)
        return obj

    @torch.no_grad()
    def __call__(self, ctx: Context):
        q = ctx.model.head(ctx.embed_all()).float()
        st = ctx.state
        beta = float(ctx.cfg.method.ensemble_momentum)
        if st.ensemble_raw is None:
            st.ensemble_raw = torch.zeros_like(q)
            st.ensemble_t = torch.zeros((), device=q.device)
        st.ensemble_raw.mul_(beta).add_(q, alpha=1.0 - beta)
        st.ensemble_t += 1
        st.ensemble = st.ensemble_raw / (1.0 - beta ** float(st.ensemble_t))
        rec = {"event": "ensemble", "epochs_in_ensemble": int(st.ensemble_t)}
        if self.sets_target:
            st.p = target_distribution(st.ensemble)
            new = st.ensemble.argmax(1)
            old = st.labels
            rec["label_change"] = float((new != old).float().mean()) if old is not None else 1.0
            st.labels = new
            if ctx.labels is not None:
                rec.update(evaluate(ctx.labels, new.cpu()))
        return rec


@REFRESHERS.register("ensemble_target")
class EnsembleTarget(TemporalEnsemble):
    provides = frozenset({"ensemble", "p"})
    sets_target = True
