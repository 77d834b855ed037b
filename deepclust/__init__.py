"""deepclust: deep image clustering (DEC, IDEC, DCN, DCEC, GAP-DCEC, DeepCluster, DTC, ...) on any folder of images."""
from . import nets, objectives, refresh  # noqa: F401  (fill the registries)
from .errors import UserError
from .methods import AEKMeans, DCEC, DCN, DEC, DTC, GAPDCEC, IDEC, Clusterer, DeepCluster, KMeans

__version__ = "0.1.0"
__all__ = ["AEKMeans", "DCEC", "DCN", "DEC", "DeepCluster", "DTC", "GAPDCEC", "IDEC", "KMeans", "Clusterer", "UserError"]
