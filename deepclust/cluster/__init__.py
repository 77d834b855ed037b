from .kmeans import kmeans

__all__ = ["kmeans"]
