"""Gram matrices and the style, content, total-variation and temporal losses (float32 whatever the network ran in)."""

from __future__ import annotations

import torch


def gram(features: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
    """Normalised Gram matrix G = F Fᵀ / (C·H·W) of (N, C, H, W) features, in float32.

    With a ``guide`` (N, 1, H, W) in [0, 1], features are weighted by it and normalised by its mass
    instead of H·W: the Gram statistics of one region (Gatys et al. 2017, spatial control).
    """
    n, c, h, w = features.shape
    # pixels × channels as a view of either memory layout: reshaping channels-last features to (C, H·W)
    # would copy them, and their gradient would then be added across layouts (both slow, ~1/6 of a step)
    if features.is_contiguous(memory_format=torch.channels_last):
        f = features.permute(0, 2, 3, 1).reshape(n, h * w, c)
    else:
        f = features.reshape(n, c, h * w).transpose(1, 2)
    if guide is None:
        mass = h * w
    else:
        g = guide.float().reshape(n, h * w, 1)
        f = f * g.to(f.dtype)
        mass = g.square().sum(dim=1, keepdim=True).clamp_min(1.0)
    return _SelfProduct.apply(f).float() / (c * mass)


class _SelfProduct(torch.autograd.Function):
    """fᵀf of (N, P, C) ``f``, with the gradient f·(dG + dGᵀ) in one product: autograd would take one per
    operand (both are ``f``) and then add the two (N, P, C) gradients (profiled: ~6 % of a step)."""

    @staticmethod
    def forward(ctx, f: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(f)
        return torch.bmm(f.transpose(1, 2), f)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (f,) = ctx.saved_tensors
        return torch.bmm(f, (grad + grad.transpose(1, 2)).to(f.dtype))


def style_loss(grams: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
               layer_weights: dict[str, float]) -> torch.Tensor:
    """Σ_l w_l · ‖G_l − T_l‖² / ‖T_l‖²: each layer's squared Gram error relative to its target's size."""
    total = torch.zeros((), device=next(iter(grams.values())).device)
    for layer, g in grams.items():
        target = targets[layer]
        total = total + layer_weights[layer] * (g - target).square().sum() / target.square().sum().clamp_min(1e-12)
    return total


def content_loss(features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ_l ‖F_l − T_l‖² / ‖T_l‖² over the content layers."""
    total = torch.zeros((), device=next(iter(features.values())).device)
    for layer, f in features.items():
        target = targets[layer]
        total = total + (f.float() - target).square().sum() / target.square().sum().clamp_min(1e-12)
    return total


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels of an RGB image in [0, 1]."""
    dy = (image[..., 1:, :] - image[..., :-1, :]).square().mean()
    dx = (image[..., :, 1:] - image[..., :, :-1]).square().mean()
    return dy + dx


def temporal_loss(x: torch.Tensor, warped: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ c·(x − ω)² / Σ c: the squared difference between image ``x`` and the previous frame's result
    ``warped`` into it (ω), averaged over the pixels the reliability mask ``c`` trusts (Ruder et al. 2016,
    normalised by the mask's mass instead of all pixels, so occlusions do not weaken it); 0 when c is all 0.

    ``x`` and ``warped`` are (N, C, H, W) or (C, H, W); ``mask`` in [0, 1] broadcasts to them, e.g. (H, W)
    or (N, 1, H, W).
    """
    if x.shape != warped.shape:
        raise ValueError(f"x has shape {tuple(x.shape)} but warped has {tuple(warped.shape)}")
    try:
        c = torch.broadcast_to(mask.float(), x.shape)
    except RuntimeError:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to x's {tuple(x.shape)}") from None
    return (c * (x.float() - warped.float()).square()).sum() / c.sum().clamp_min(1e-12)
