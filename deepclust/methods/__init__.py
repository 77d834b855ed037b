from . import dac, recipes  # noqa: F401  (registers the methods)
from .estimator import AEKMeans, DCEC, DCN, DEC, GAPDCEC, IDEC, Clusterer, KMeans, as_imageset
from .pipeline import FitResult, fit, load_model, make_config

__all__ = ["AEKMeans", "DCEC", "DCN", "DEC", "GAPDCEC", "IDEC", "KMeans", "Clusterer", "as_imageset",
           "FitResult", "fit", "load_model", "make_config"]
