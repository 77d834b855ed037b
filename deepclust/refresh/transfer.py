"""Deep Transfer Clustering's refreshers (Han et al. 2019; Gunari et al., papers/003):

- `pca_init`: at the start of clustering, the PCA of the new images' transferred features becomes the
  network's last linear layer (`DTCNet.fit_projection`), so that `kmeans_init`, which runs next, places the
  centres in the principal components, as DTC does;
- `temporal_ensemble`: once per epoch (from step 0), q of every image (clean, eval mode) joins an
  exponential moving average, q~ = (β Q + (1 - β) q) / (1 - β^t) (eq. 6-7), the target of the
  `ensemble_consistency` term (DTC-TE);
- `ensemble_target`: the same, and DEC's target P is computed from q~ instead of q (DTC-TEP).
"""
from __future__ import annotations

import torch

from ..metrics import evaluate
from ..objectives.kl_target import target_distribution
from ..registry import REFRESHERS
from .base import Context, PeriodicRefresher, Refresher


@REFRESHERS.register("pca_init")
class PCAInit(Refresher):
    provides = frozenset({"projection"})

    @torch.no_grad()
    def at_start(self, ctx: Context):
        feats = ctx.model.embed(ctx.images, ctx.cfg.train.eval_max, trunk=True)
        ratio = ctx.model.ae.fit_projection(feats)
        return {"event": "pca_init", "explained_variance": round(float(ratio.sum()), 4)}


@REFRESHERS.register("temporal_ensemble")
class TemporalEnsemble(PeriodicRefresher):
    provides = frozenset({"ensemble"})
    needs = frozenset({"head_init"})
    sets_target = False

    @classmethod
    def from_stage(cls, stage):
        return cls(0)  # once per epoch

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
