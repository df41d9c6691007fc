"""Gram matrices, sliced-Wasserstein distances, and the style, content, total-variation and temporal losses
(float32 whatever the network ran in)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def gram(features: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
    """Normalised Gram matrix G = F Fᵀ / (C·H·W) of (N, C, H, W) features, in float32.

    With a ``guide`` (N, 1, H, W) in [0, 1], features are weighted by it and normalised by its mass
    instead of H·W: the Gram statistics of one region (Gatys et al. 2017, spatial control).
    """
    n, c, h, w = features.shape
    f = positions(features)
    if guide is None:
        mass = h * w
    else:
        g = guide.float().reshape(n, h * w, 1)
        f = f * g.to(f.dtype)
        mass = g.square().sum(dim=1, keepdim=True).clamp_min(1.0)
    return _SelfProduct.apply(f).float() / (c * mass)


def positions(features: torch.Tensor) -> torch.Tensor:
    """(N, H·W, C) positions × channels of (N, C, H, W) features, a view of either memory layout: reshaping
    channels-last features to (C, H·W) would copy them, and their gradient would then be added across
    layouts (both slow, ~1/6 of a Gram step)."""
    n, c, h, w = features.shape
    if features.is_contiguous(memory_format=torch.channels_last):
        return features.permute(0, 2, 3, 1).reshape(n, h * w, c)
    return features.reshape(n, c, h * w).transpose(1, 2)


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


def sliced_loss(projected: torch.Tensor, table: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Sliced Wasserstein distance (Heitz et al. 2021) of positions' projections ``projected`` (D, P) on D
    directions to the style's: Σ_d Σ_i w_i (x_di − T_d(u_di))² / (D·Σw).

    ``table`` (D, M) holds the style's projections, each row sorted (its quantiles at (k + ½)/M). u_di is
    position i's quantile in row d, the middle of its share of the weights ``weights`` (P,) ≥ 0 (e.g. a
    region's mask; None: all 1) in sorted order, and T_d(u) interpolates the table there, so P and M need not
    be equal (with M = P and no weights, T_d(u_di) is the table's entry at i's rank). Sorted in float32: with
    equal weights this is the squared 1D Wasserstein-2 distance averaged over directions. The targets are
    constants, so the gradient is the sort's: 2 w_i (x_di − T_d(u_di)) / (D·Σw).
    """
    x = projected.to(torch.promote_types(projected.dtype, torch.float32))  # bf16 → float32, double stays
    with torch.no_grad():
        order = argsort(x)
        if weights is None and table.shape[1] == x.shape[1]:
            ranked = table
        else:
            d, p = x.shape
            if weights is None:
                u = ((torch.arange(p, device=x.device) + 0.5) / p).expand(d, p)
            else:
                w = weights.detach().to(x.dtype)[order]
                cum = w.cumsum(1)
                u = (cum - 0.5 * w) / cum[:, -1:].clamp_min(1e-12)
            ranked = quantile_at(table, u)
        target = torch.empty_like(x).scatter_(1, order, ranked.to(x.dtype))
    return _SquaredError.apply(x, target, None if weights is None else weights.to(x.dtype).reshape(1, -1))


class _SquaredError(torch.autograd.Function):
    """Σ w (x − t)² / (rows · Σw) (w: None for the mean) and its gradient 2 w (x − t) / (rows · Σw), from one
    difference kept for the backward: autograd's sub, square, mean and their backwards each pass over all
    of x (profiled: ~¼ of the sliced term)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, target: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        diff = x - target
        norm = diff.numel() if w is None else x.shape[0] * w.sum().clamp_min(1e-12)
        weighted = diff if w is None else diff * w
        ctx.save_for_backward(weighted)
        ctx.norm = norm
        return torch.vdot(weighted.reshape(-1), diff.reshape(-1)) / norm

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (weighted,) = ctx.saved_tensors
        return weighted * (2 * grad / ctx.norm), None, None


def quantile_at(table: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Rows of ``table`` (D, M), each a sorted sample at quantiles (k + ½)/M, linearly interpolated at ``u``
    (D, P) in [0, 1] (constant beyond the first and last)."""
    m = table.shape[1]
    pos = (u * m - 0.5).clamp(0.0, m - 1)
    i0 = pos.long().clamp_(max=max(0, m - 2))
    i1 = (i0 + 1).clamp_(max=m - 1)
    lower = table.gather(1, i0)
    return lower + (pos - i0).to(table.dtype) * (table.gather(1, i1) - lower)


def quantile_table(parts: Sequence[tuple[torch.Tensor, float]], count: int) -> torch.Tensor:
    """The sorted sample (D, ≈count) of a mixture: each part (values (D, n), share) gives round(share·count)
    of its quantiles (its n values sorted when that is n); shares sum to 1."""
    pieces = []
    for values, share in parts:
        (d, n), k = values.shape, round(share * count)
        if k > 0:
            ranked = values.float().gather(1, argsort(values))
            pieces.append(ranked if k == n else quantile_at(ranked, ((torch.arange(k, device=values.device) + 0.5)
                                                                     / k).expand(d, k)))
    table = torch.cat(pieces, 1)
    return table.gather(1, argsort(table)) if len(pieces) > 1 else table


def argsort(values: torch.Tensor) -> torch.Tensor:
    """Indices sorting each row of ``values`` (D, P), in float32; on the CPU numpy's (~5 × torch's there)."""
    if values.device.type != "cpu":
        return torch.argsort(values.detach().float(), dim=1)
    return torch.from_numpy(np.argsort(values.detach().float().contiguous().numpy(), axis=1))


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
