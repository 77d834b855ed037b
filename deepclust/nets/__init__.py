from . import conv_ae, dac_cnn, deepcluster_cnn, dtc_cnn, mlp_ae, vgg_cae  # noqa: F401  (registers the encoders)
from .heads import LinearHead, StudentTHead
from .model import ClusterNet, Output, build_autoencoder

__all__ = ["ClusterNet", "LinearHead", "Output", "StudentTHead", "build_autoencoder"]
