"""GrabCut "manual attention" (Gunari et al., papers/003 §3; Rother et al. 2004): the background of each
labelled image is removed before DTC's classifier learns from it, so that the features it transfers
describe the object, not what surrounds it. The paper draws a box by hand in a small tool; without a person
at hand the box here is the image less a margin on every side (the object is assumed to be roughly framed,
as in a curator's photos), and GrabCut's colour models separate the object from the rest inside it."""
from __future__ import annotations

import numpy as np
import torch


def grabcut_foreground(images: torch.Tensor, margin: float = 0.1, iterations: int = 5) -> tuple[torch.Tensor, np.ndarray]:
    """images: uint8 N×C×H×W (C = 1 or 3). Returns (the images with their background set to 0, the fraction
    of each image GrabCut kept as foreground). An image where GrabCut finds no foreground, or fails, is kept
    whole (fraction 1.0): attention must not erase a training image."""
    import cv2

    out = images.clone()
    kept = np.ones(len(images))
    n, c, h, w = images.shape
    mx, my = max(1, int(round(w * margin))), max(1, int(round(h * margin)))
    rect = (mx, my, max(1, w - 2 * mx), max(1, h - 2 * my))
    for i in range(n):
        img = images[i].permute(1, 2, 0).numpy()
        bgr = np.ascontiguousarray(np.repeat(img, 3, axis=2) if c == 1 else img[:, :, ::-1])
        mask = np.zeros((h, w), np.uint8)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(bgr, mask, rect, bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
        except cv2.error:
            continue
        fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
        if not fg.any():
            continue
        kept[i] = float(fg.mean())
        out[i] *= torch.from_numpy(fg.astype(np.uint8))[None]
    return out, kept
