from . import kl_target, kmeans_loss, reconstruction  # noqa: F401  (registers the losses)
from .base import Batch, ClusterState, LossTerm
from .kl_target import KLTargetLoss, target_distribution
from .kmeans_loss import KMeansLoss
from .reconstruction import ReconstructionLoss

__all__ = ["Batch", "ClusterState", "LossTerm", "KLTargetLoss", "KMeansLoss", "ReconstructionLoss",
           "target_distribution"]
