from . import centroids, dcn, pairs, pseudo_labels, target, transfer  # noqa: F401  (registers the refreshers)
from .base import Context, Refresher
from .centroids import KMeansInit, KMeansRefresh
from .dcn import DCNRefresher
from .target import TargetRefresher

__all__ = ["Context", "Refresher", "KMeansInit", "KMeansRefresh", "DCNRefresher", "TargetRefresher", "build_refresher"]


def build_refresher(name_or_obj, stage):
    """A refresher from its registered name (configured from the stage) or the object itself."""
    from ..registry import REFRESHERS

    obj = REFRESHERS.get(name_or_obj)
    return obj.from_stage(stage) if isinstance(obj, type) else obj
