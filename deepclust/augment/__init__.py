"""Batched on-device augmentation (one affine warp per batch). Wiring views into the training
loop and the consistency loss comes with the augmentation issue."""
from .affine import RandomAffine, forward_matrices, inverse_theta, warp
from .presets import AUGMENTATIONS

__all__ = ["AUGMENTATIONS", "RandomAffine", "forward_matrices", "inverse_theta", "warp"]
