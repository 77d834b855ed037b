"""DeepCluster (Caron et al. 2018; reproduced by Arora, papers/002) as a recipe: a CNN with a Sobel
front end, every epoch (epochs shorter than 40 steps grouped) k-means on its PCA-whitened features gives
pseudo-labels, and the network learns to predict them (cross-entropy, a fresh top layer at each relabelling,
images drawn uniformly over the pseudo-labels). No pretraining stage. The clusters a run reports are a final k-means (k = --k) on
the trained network's whitened features."""
from __future__ import annotations

from .recipes import _register

_register("deepcluster", "DeepCluster (Caron et al. 2018): k-means pseudo-labels on whitened CNN features, "
          "relearned every epoch (at least 40 steps apart)", {
              "encoder": {"name": "deepcluster_cnn", "filters": [32, 64, 128], "hidden": [1024, 1024],
                          # PCA-whitened to 32 dims, not the reference's 256 (measured on MNIST-test, 10 epochs:
                          # 0.735 ACC at 32 dims, 0.33-0.45 at 256; docs/decisions.md)
                          "embed_dim": 32, "dropout": 0.5, "sobel": True},
              # the final k-means on k - 1 whitened dims, not all 32 (measured: docs/decisions.md)
              "method": {"assign_dims": -1},
              "pretrain": {"epochs": 0, "losses": {}},
              "cluster": {"epochs": 200, "max_steps": None, "batch_size": 256,
                          "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-5},
                          "losses": {"pseudo_label": 1.0}, "refreshers": ["deepcluster"], "update_interval": 0,
                          # every epoch, as the reference, but at least 40 steps apart: a 720-photo folder's epoch is
                          # 2 steps, too few for the fresh top layer (measured: docs/decisions.md, DeepCluster)
                          "min_update_steps": 40,
                          "augment": "dac", "inputs": "augmented"},
              "note": "Reference defaults (facebookresearch/deepcluster): SGD 0.05, momentum 0.9, weight decay 1e-5, "
                      "batch 256, 200 epochs, reassignment every epoch (here: every epoch once 40 steps have passed), Sobel input, PCA-whitening to 256 dims + L2 (32 here: measured better on small sets; the final k-means into the run's k clusters on the top k - 1 of them), "
                      "k-means with one start per epoch (run to convergence here, the reference stops at 20 iterations), uniform-per-pseudo-label sampling, top layer re-initialised N(0, 0.01). "
                      "Sized for small images: a VGG-style trunk (one 3x3 conv + BN + max-pool per block, 32-64-128 as DCEC's widths) and two "
                      "1024-unit dense layers instead of AlexNet's 4096 on 224 px crops. The reference trains on random "
                      "resized crops and flips (for photos: cluster.augment=crop-flip, the folder default; crop: no flips); the default here is DAC's "
                      "small rotations, shifts and zoom, which keep digits readable.",
          })
