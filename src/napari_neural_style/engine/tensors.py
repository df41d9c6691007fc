"""numpy images ⇄ torch tensors, and resizing."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def to_tensor(rgb: np.ndarray, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    """(Y, X, C) float32 → (1, C, H, W) on ``device`` at ``shape``."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1)[None]
    return resize(t, shape)


def to_numpy(image: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) → (H, W, C) float32 on the host."""
    return image[0].permute(1, 2, 0).float().cpu().numpy()


def resized(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(Y, X, C) float32 resized to ``shape`` on the CPU, as numpy (as :func:`resize` does it)."""
    return to_numpy(to_tensor(rgb, shape, torch.device("cpu")))


def resize(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W), antialiased when shrinking; a no-op at the same size."""
    if tuple(image.shape[-2:]) == tuple(shape):
        return image
    shrink = shape[0] < image.shape[-2] or shape[1] < image.shape[-1]
    return F.interpolate(image, size=shape, mode="bilinear", align_corners=False, antialias=shrink)


def nearest(labels: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    """(Y, X) labels → (1, 1, H, W) float32 at ``shape``, nearest-neighbour (no new label values)."""
    lab = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.float32))[None, None]
    return F.interpolate(lab, size=shape, mode="nearest")
