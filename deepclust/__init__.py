"""deepclust: deep image clustering (DEC, IDEC, DCN, DCEC, GAP-DCEC, DeepCluster, ...) on any folder of images."""
from . import nets, objectives, refresh  # noqa: F401  (fill the registries)
from .errors import UserError
from .methods import AEKMeans, DCEC, DCN, DEC, GAPDCEC, IDEC, Clusterer, DeepCluster, KMeans

__version__ = "0.1.0"
__all__ = ["AEKMeans", "DCEC", "DCN", "DEC", "DeepCluster", "GAPDCEC", "IDEC", "KMeans", "Clusterer", "UserError"]
