"""Grad-CAM / Grad-CAM++ maps (Selvaraju et al. 2017; Chattopadhyay et al. 2018; the `grad-cam` package):
which parts of an image made the network put it in its cluster. Gunari et al. (papers/003) use them to see
whether a network looks at the object or at its background. The score explained is the image's soft
closeness to its cluster (see `_Assignment`); the layer is the encoder's last convolution
(found in its encoding path: `features`, `blocks` or `block3`, never the decoder)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class _Assignment(nn.Module):
    """images -> N×K cluster scores, what Grad-CAM differentiates. As a classifier's logits rather than its
    softmax: for a Student-t head the log of the unnormalised kernel, -log(1 + ||z - mu_k||^2 / alpha),
    which depends on the distance to cluster k's centre alone (the normalised q also moves when the image
    nears another centre); for DAC's label features (a softmax) their log."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.model.ae.encode(x)
        head = getattr(self.model, "head", None)
        if head is not None and hasattr(head, "centroids"):
            return -torch.log1p(torch.cdist(z, head.centroids).pow(2) / head.alpha)
        return z.clamp_min(1e-12).log()


def cam_layer(ae: nn.Module) -> nn.Module | None:
    """The last 2-D convolution of an encoder's encoding path (its ReLU when one follows, or None). The ReLU,
    not the convolution: an in-place ReLU would overwrite the convolution's stored output on a CPU (where
    the hook's copy shares memory) and not on a GPU, so the maps would depend on the device."""
    for name in ("block3", "features", "blocks"):
        part = getattr(ae, name, None)
        if isinstance(part, nn.Module):
            mods = list(part.modules())
            convs = [i for i, m in enumerate(mods) if isinstance(m, nn.Conv2d)]
            if convs:
                after = [m for m in mods[convs[-1] + 1:] if isinstance(m, nn.ReLU)]
                return after[0] if after else mods[convs[-1]]
    return None


def explainable(model: nn.Module) -> bool:
    """Grad-CAM applies to a network with a convolution to look into and cluster scores to explain."""
    ae = getattr(model, "ae", None)
    head = getattr(model, "head", None)
    has_scores = head is not None and getattr(head, "gives", "q") == "q"
    return ae is not None and cam_layer(ae) is not None and (has_scores or getattr(ae, "label_features", False))


def cam_maps(model: nn.Module, images: torch.Tensor, clusters: np.ndarray, method: str = "gradcam++",
             batch: int = 64) -> np.ndarray:
    """images: uint8 N×C×H×W; clusters: N. Returns N×H×W maps in [0, 1] (float32) of what raised each
    image's assignment to its cluster."""
    from pytorch_grad_cam import GradCAM, GradCAMPlusPlus
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cls = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus}[method]
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    wrapped = _Assignment(model)
    maps = []
    try:
        with cls(model=wrapped, target_layers=[cam_layer(model.ae)]) as cam:
            for i in range(0, len(images), batch):
                x = images[i:i + batch].to(dev).float().div_(255)
                targets = [ClassifierOutputTarget(int(c)) for c in clusters[i:i + batch]]
                maps.append(np.asarray(cam(input_tensor=x, targets=targets), dtype=np.float32))
    finally:
        model.zero_grad(set_to_none=True)  # the maps' backward passes leave no gradients behind
        model.train(was)
    return np.concatenate(maps) if maps else np.zeros((0, *images.shape[2:]), np.float32)


def overlay(image: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """image: H×W×C uint8 (C = 1 or 3); cam: H×W in [0, 1]. The image in grey with the map in colour
    over it (matplotlib's jet, half transparent), H×W×3 uint8."""
    from matplotlib import colormaps

    grey = image.astype(np.float32).mean(2, keepdims=True).repeat(3, 2) / 255
    heat = colormaps["jet"](np.clip(cam, 0, 1))[..., :3]
    return (np.clip(0.5 * grey + 0.5 * heat, 0, 1) * 255).round().astype(np.uint8)
