"""Deep Adaptive Clustering (Chang et al. 2017) and ST-DAC (Souza & Zanchettin 2019) as recipes: a
label-feature CNN, the pairwise loss on adaptively selected pairs, DAC's threshold schedule, and
DAC's augmentation (the network trains on augmented images). No pretraining stage."""
from __future__ import annotations

from .recipes import _register

_DAC_STAGE = {
    "epochs": 10, "batch_size": 32, "optim": {"name": "adam", "lr": 1e-4},
    "losses": {"pairwise": 1.0}, "refreshers": ["dac_thresholds"], "update_interval": 0,
    "augment": "dac", "inputs": "augmented",
}

_register("dac-star", "DAC* (Chang et al. 2017): DAC's CNN, every pair of a batch labelled by one moving threshold", {
    "encoder": {"name": "dac_cnn"},
    "method": {"selection": "dac*", "thresholds": [0.9, 0.99]},
    "pretrain": {"epochs": 0, "losses": {}},
    "cluster": _DAC_STAGE,
    "note": "ST-DAC 5.1: DAC* re-run with thresholds [0.9, 0.99] (MNIST) / [0.8, 0.99] (Fashion-MNIST), Adam 1e-4. "
            "DAC's code: one threshold 0.9 -> 0.5 over 20 epochs, RMSprop, batch 128, MSE on pairs; we keep "
            "ST-DAC's settings so that DAC* and ST-DAC differ only in the network. Labels come from the same "
            "(augmented) forward pass, detached; the reference labels a block of 1000 clean images first.",
})
_register("dac", "DAC (Chang et al. 2017): pairs between the two thresholds are left out; u falls and l rises until they meet", {
    "method": {"selection": "dac", "thresholds": [0.455, 0.95]},
    "note": "DAC paper: u(λ) = 0.95 - λ, l(λ) = 0.455 + 0.1 λ; λ grows linearly until l meets u at the end of the stage.",
}, base="dac-star")
_register("stdac", "ST-DAC (Souza & Zanchettin 2019): DAC* on a small VGG-like CNN with 0-3 spatial-transformer layers", {
    "encoder": {"name": "stdac_cnn", "st_layers": 2},
    "cluster": {"refreshers": ["dac_thresholds", "st_monitor"]},
    "note": "Paper Table 1 CNN; ST layers after the input, after block 2 and after block 3 (each after its pool + BN, "
            "as the text says; the reference code puts the 2nd before block 2's pool and wires only two layers in its "
            "3-layer script). ST layers start at the identity (the reference's start is a 1.3x zoom). The reference's "
            "dropout 0.5, auxiliary self-labelling loss (weight 10), mean subtraction and channel shift are not in the "
            "paper and are left out; thresholds [0.9, 0.99] as the paper's text (the code has them reversed).",
}, base="dac-star")
