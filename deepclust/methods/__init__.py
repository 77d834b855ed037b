from . import dac, deepcluster, recipes  # noqa: F401  (registers the methods)
from .estimator import AEKMeans, DCEC, DCN, DEC, DTC, GAPDCEC, IDEC, Clusterer, DeepCluster, KMeans, as_imageset
from .pipeline import FitResult, fit, load_model, make_config

__all__ = ["AEKMeans", "DCEC", "DCN", "DEC", "DeepCluster", "DTC", "GAPDCEC", "IDEC", "KMeans", "Clusterer", "as_imageset",
           "FitResult", "fit", "load_model", "make_config"]
