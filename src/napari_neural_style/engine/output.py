"""The network's RGB back into the output's layout: label 0 keeps the content, alpha and the content's
chroma (luminance-only colour) come back, gray stays gray."""

from __future__ import annotations

import numpy as np
import torch

from . import color
from .images import Plane, from_plane
from .inputs import Inputs
from .tensors import nearest, resize, resized, to_numpy


def render(rgb: torch.Tensor, inputs: Inputs, shape: tuple[int, int]) -> np.ndarray:
    """``rgb`` (1, 3, h, w) in [0, 1], any scale, as the output at full ``shape``, in the content's layout."""
    full = to_numpy(resize(rgb.clamp(0.0, 1.0), shape))
    if inputs.labels is not None and not inputs.labels.all():
        keep = nearest(inputs.labels == 0, shape)[0, 0].numpy() > 0
        full[keep] = resized(inputs.net_content, shape)[keep]
    like = inputs.content
    if like.alpha is not None:
        alpha = resize(torch.from_numpy(like.alpha)[None, None], shape)[0, 0].numpy()
        like = Plane(like.rgb, alpha, like.gray)
    if inputs.luminance_only:
        y = full.mean(axis=-1)
        if like.gray:
            return from_plane(color.gray3(y), like, gray_out=True)
        full = color.with_chroma(y, resized(inputs.content.rgb, shape))
    return from_plane(full, like)
