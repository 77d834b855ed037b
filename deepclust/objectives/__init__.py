from . import consistency, kl_target, kmeans_loss, pairwise, pseudo_label, reconstruction, transfer  # noqa: F401  (registers the losses)
from .base import Batch, ClusterState, LossTerm
from .consistency import ConsistencyLoss
from .kl_target import KLTargetLoss, target_distribution
from .kmeans_loss import KMeansLoss
from .reconstruction import ReconstructionLoss

__all__ = ["ConsistencyLoss", "Batch", "ClusterState", "LossTerm", "KLTargetLoss", "KMeansLoss", "ReconstructionLoss",
           "target_distribution"]
