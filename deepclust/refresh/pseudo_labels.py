"""DeepCluster's reassignment (Caron et al. 2018): every epoch, cluster the features of all images
and train on the clusters as labels.

Each time it runs: the features of every image (eval mode, clean images) are PCA-whitened and
L2-normalised (the network keeps the whitening, `fit_cluster_space`), k-means gives each image a
pseudo-label (or Power Iteration Clustering does, `method.pseudo_clustering=pic`), the epoch's
images are drawn uniformly over the pseudo-labels (the reference's
`UnifLabelSampler`, so a big cluster cannot take over), and the top layer starts again (N(0, 0.01),
its optimiser state dropped), since its classes are new ones. It logs the NMI between this and the
previous assignment (the curve the reference prints) and ACC/NMI/ARI against ground truth when known.
"""
from __future__ import annotations

import torch

from ..cluster import kmeans
from ..cluster.pic import cap_clusters, pic
from ..cluster.whiten import whitened_dims
from ..metrics import evaluate, nmi
from ..registry import REFRESHERS
from .base import Context, PeriodicRefresher


def balanced_order(labels: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """n image indices drawn uniformly over the labels present: about n / (labels present) of each
    label, without replacement where a label has that many images, then shuffled (DeepCluster's
    UnifLabelSampler). labels: int64 N (on the CPU)."""
    present = torch.unique(labels)
    per = n // len(present) + 1
    picks = []
    for c in present.tolist():
        members = (labels == c).nonzero().squeeze(1)
        if len(members) >= per:
            picks.append(members[torch.randperm(len(members), generator=generator)[:per]])
        else:
            picks.append(members[torch.randint(len(members), (per,), generator=generator)])
    out = torch.cat(picks)
    return out[torch.randperm(len(out), generator=generator)][:n]


def pseudo_classes(cfg, n_images: int | None) -> int:
    """DeepCluster's number of pseudo-labels: method.pseudo_k, or when 0 about one per 100 images, at least
    the k asked for and at most 10 k (over-clustering: 100 pseudo-labels for k = 10 on MNIST-test's 10,000
    images reached 0.811 ACC after 10 epochs where 10 reached 0.735; docs/decisions.md)."""
    m = cfg.method
    if m.pseudo_k:
        return m.pseudo_k
    return int(min(10 * m.n_clusters, max(m.n_clusters, (n_images or 0) // 100)))


def pseudo_dims(cfg, k_pseudo: int) -> int | None:
    """How many whitened dimensions the pseudo-labels' k-means reads (method.pseudo_dims); None: all."""
    if cfg.method.pseudo_clustering == "pic":
        return None
    return whitened_dims(cfg.method.pseudo_dims, k_pseudo)


@REFRESHERS.register("deepcluster")
class DeepClusterRefresher(PeriodicRefresher):
    """Every `stage.update_interval` steps (0: every epoch, the reference's rule), from step 0."""

    provides = frozenset({"pseudo_labels"})
    _cpu_of: torch.Tensor | None = None  # the pseudo-labels whose host copy `_cpu` is (epoch_order's cache)
    _cpu: torch.Tensor | None = None

    @torch.no_grad()
    def __call__(self, ctx: Context):
        model = ctx.model
        feats = model.embed(ctx.images, ctx.cfg.train.eval_max, raw=True)
        k_pseudo = pseudo_classes(ctx.cfg, len(ctx.images))
        model.ae.fit_cluster_space(feats, keep=pseudo_dims(ctx.cfg, k_pseudo))
        z = model.ae.cluster_space(feats)
        seed = ctx.cfg.train.seed * 1_000_003 + ctx.step  # the reference reseeds its k-means every epoch
        rec = {"event": "pseudo_labels"}
        if ctx.cfg.method.pseudo_clustering == "pic":
            zc = z.float().cpu().numpy()
            found = pic(zc)
            rec["pic_clusters"] = int(found.max()) + 1
            labels = cap_clusters(found, zc, k_pseudo)  # the head has k_pseudo outputs
        else:
            labels, _ = kmeans(z, k_pseudo, n_init=1, seed=seed % (2 ** 31))
        labels_t = torch.from_numpy(labels)
        rec["clusters_used"] = int(torch.unique(labels_t).numel())
        prev = ctx.state.pseudo_labels
        if prev is not None:
            rec["nmi_previous"] = round(nmi(prev.cpu().numpy(), labels), 5)
        if ctx.labels is not None:
            scores = evaluate(ctx.labels, labels)
            if rec["clusters_used"] > ctx.cfg.method.n_clusters:
                # ACC matches clusters to classes one to one: with 100 pseudo-labels for 10 classes it cannot
                # pass ~0.1 however good they are (with fewer clusters than classes it still means what it says).
                # NMI and ARI still say how well they agree with the classes.
                scores.pop("acc")
            rec.update(scores)
        ctx.state.pseudo_labels = labels_t.to(ctx.device)
        g = torch.Generator().manual_seed(seed)
        head = model.head
        head.reset_parameters(g)  # from (seed, step): a resumed run restarts it as an uninterrupted one
        opt = ctx.optimizer
        if opt is not None:
            # Its momentum (and Adam's moments and step count) start again too. Zeroed in place, not dropped: a
            # fused optimiser (CUDA) expects every parameter's state once any has one.
            for p in head.parameters():
                for v in opt.state.get(p, {}).values():
                    if isinstance(v, torch.Tensor):
                        v.zero_()
        return rec

    def epoch_order(self, ctx: Context, epoch: int) -> torch.Tensor | None:
        """Every epoch a new draw, uniform over the current pseudo-labels (the reference draws one per
        reassignment, of as many images as the epochs until the next one see): from (seed, epoch), so a
        resumed run draws what an uninterrupted one did."""
        labels = ctx.state.pseudo_labels
        if labels is None:
            return None
        if self._cpu_of is not labels:  # one host copy per relabelling, not one per epoch
            self._cpu_of, self._cpu = labels, labels.cpu()
        g = torch.Generator().manual_seed(ctx.cfg.train.seed * 1_000_003 + 7_919 * (epoch + 1) + 31)
        return balanced_order(self._cpu, len(labels), g).to(ctx.device)
