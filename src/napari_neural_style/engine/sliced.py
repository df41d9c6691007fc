"""The sliced-Wasserstein style term (Heitz et al. 2021), fitted to L-BFGS: the directions of a scale, the
style's sorted projections on them, and the term on the output's features and pixels.

L-BFGS needs one deterministic objective per scale, so the directions are drawn once per scale (from the run's
seed and the scale's side: the same for every style, tile and stack slice of that scale) instead of at every
step as in the paper, and the style's projections are sorted once, with the other targets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .losses import positions, quantile_table, sliced_loss
from .params import FINE_SIZE

RGB = "rgb"  # the pixel-colour term's layer: the image's RGB values as a 3-channel feature map
MIN_DIRECTIONS = 16  # directions per layer: as many as its channels (as Heitz et al.), at least this many
TABLE_SIZE = 1 << 15  # quantiles kept of the style's projections per direction
SORTED = 1 << 20  # projections of the output sorted per layer and step at most (below 512 px: budget())
SW_SCALE = 2.0  # × the relative sliced distances: at style_weight 45 as stylised as Gram was at 15 (512 px,
# tubingen × starry night: content score 0.73 against Gram's 0.70 then; 6 × 15 = 2 × 45)
RGB_SHARE = 1.0  # the pixel-colour term's weight, as a share of the style layers' total weight


@dataclass(frozen=True)
class Sliced:
    """One layer's target: unit ``directions`` (C, D) and the style's projections on them, each row sorted,
    ``table`` (D, M), whose mean square ``scale`` makes the layer's distance relative (as the Gram loss's)."""

    directions: torch.Tensor
    table: torch.Tensor
    scale: float

    @classmethod
    def of(cls, directions: torch.Tensor, table: torch.Tensor) -> Sliced:
        return cls(directions, table, max(1e-12, float(table.square().mean())))


def _generator(*key: int) -> torch.Generator:
    state = np.random.SeedSequence(key).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


class Slicer:
    """The directions of one scale, drawn on first use per layer (in the order the layers come), and the
    style's sorted projections on them."""

    def __init__(self, seed: int, side: float, device: torch.device) -> None:
        self.generator = _generator(seed, round(side))
        self.sampler = _generator(seed, round(side), 1)  # the style's positions, apart from the directions
        self.device = device
        self.directions: dict[str, torch.Tensor] = {}

    def direction(self, layer: str, channels: int) -> torch.Tensor:
        if layer not in self.directions:
            with torch.inference_mode(False):  # a normal tensor, which the objective's backward may keep
                d = torch.randn(channels, max(channels, MIN_DIRECTIONS), generator=self.generator)
                self.directions[layer] = (d / d.norm(dim=0, keepdim=True)).to(self.device)
        return self.directions[layer]

    def targets(self, parts: Iterable[Mapping[str, torch.Tensor]]) -> dict[str, Sliced]:
        """Targets of one style image from its features (1, C, h, w) per layer (RGB too), whole or in
        tiles (each tile's positions counted once). Of more than :data:`TABLE_SIZE` positions an evenly
        spread sample of that many is sorted (:func:`sample`; at 512 px: relu1_1's and relu2_1's)."""
        tables: dict[str, list[tuple[torch.Tensor, int]]] = {}
        for features in parts:
            for layer, f in features.items():
                n = f.shape[-2] * f.shape[-1]
                if n:  # a style tile's crop of a deep layer may hold no position
                    v = project(f, self.direction(layer, f.shape[1]),
                                sample(f.shape[-2], f.shape[-1], TABLE_SIZE, self.sampler, f.device))
                    tables.setdefault(layer, []).append((quantile_table([(v, 1.0)], v.shape[1]), n))
        out = {}
        for layer, pieces in tables.items():
            n = sum(count for _, count in pieces)
            table = pieces[0][0] if len(pieces) == 1 else quantile_table(
                [(t, count / n) for t, count in pieces], min(n, TABLE_SIZE))
            out[layer] = Sliced.of(self.directions[layer], table)
        return out

    @staticmethod
    def mixture(parts: Sequence[tuple[dict[str, Sliced], float]]) -> dict[str, Sliced]:
        """Several styles' targets as one: per layer, a mixture of their samples in proportion to the
        ``parts``' shares (which sum to 1)."""
        parts = [(t, share) for t, share in parts if share > 0]
        if len(parts) == 1:
            return parts[0][0]
        count = {layer: min(TABLE_SIZE, sum(t[layer].table.shape[1] for t, _ in parts)) for layer in parts[0][0]}
        return {layer: Sliced.of(s.directions, quantile_table([(t[layer].table, share) for t, share in parts],
                                                              count[layer]))
                for layer, s in parts[0][0].items()}


class SlicedStyle:
    """The sliced style term of one objective (a scale, or a tile of it), ``term(features, targets, key,
    guide)``: Σ_l w_l · sliced distance of layer l's positions to the style's, over ``layer_weights`` (the
    style layers and :data:`RGB`), × SW_SCALE.

    A layer whose P positions on D directions exceed its budget of values (:func:`budget`) is compared at a
    fixed sample of about budget / D positions, drawn once from ``seed`` (L-BFGS needs the same objective at
    every step): one at a random place in each s × s cell of its grid, s = ⌈√(P·D / budget)⌉ (at 512 × 384 px
    relu1_1 1 in 16, relu2_1 1 in 9, relu3_1 and relu4_1 1 in 4, relu5_1 all; the same shares at every
    scale). The style's table (all of the style's positions) is resampled once to each sample's size."""

    def __init__(self, layer_weights: Mapping[str, float], seed: int) -> None:
        self.layer_weights = dict(layer_weights)
        self.generator = _generator(seed)
        self.samples: dict[str, torch.Tensor | None] = {}
        self.resampled: dict[tuple[int, str], torch.Tensor] = {}

    def __call__(self, features: Mapping[str, torch.Tensor], targets: Mapping[str, Sliced], key: int = 0,
                 guide: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        total = torch.zeros((), device=next(iter(features.values())).device)
        side = max(max(f.shape[-2:]) for f in features.values())  # the image's (its pixels are a layer)
        for layer, weight in self.layer_weights.items():
            f, t = features[layer], targets[layer]
            index = self._sample(layer, f, t.directions.shape[1], side)
            weights = None if guide is None else guide[layer].reshape(-1)
            if index is not None and weights is not None:
                weights = weights[index]
            x = project(f, t.directions, index)
            table = t.table if weights is not None else self._resampled(key, layer, t.table, x.shape[1])
            total = total + weight / t.scale * sliced_loss(x, table, weights)
        return SW_SCALE * total

    def _sample(self, layer: str, f: torch.Tensor, directions: int, side: int) -> torch.Tensor | None:
        if layer not in self.samples:
            values = SORTED if layer == RGB else budget(side)
            self.samples[layer] = sample(f.shape[-2], f.shape[-1], values // directions, self.generator, f.device)
        return self.samples[layer]

    def _resampled(self, key: int, layer: str, table: torch.Tensor, n: int) -> torch.Tensor:
        if (key, layer) not in self.resampled:
            self.resampled[key, layer] = quantile_table([(table, 1.0)], n)
        return self.resampled[key, layer]


def budget(side: int) -> int:
    """Projections of the output sorted per style layer and step, for an image (or tile) whose long side is
    ``side``: :data:`SORTED` from 512 px up, in proportion to the area below (at 128 px a sixteenth), so that
    each layer's share of positions, and the term's cost relative to the network's, is the same at every
    scale. Sorting all of a 128-px scale's positions made its steps 2.0 × a Gram step (now 1.1 ×; at 256 px
    1.8 → 1.2 ×, bf16, ``bench_sw_step.py``), and the default sw run 1.3 × Gram's wall time (now 1.1 ×). The
    pixels' colours (16 directions) keep :data:`SORTED`: with the budget too their distance to the
    painting's tripled (0.16 → 0.50, ten pairs), without it 0.24."""
    return int(SORTED * min(1.0, (side / FINE_SIZE) ** 2))


def project(features: torch.Tensor, directions: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
    """(D, P) projections on ``directions`` (C, D) of (1, C, H, W) ``features`` (of the positions ``index``
    only, if given), in float32: rows contiguous for the sort."""
    f = positions(features).squeeze(0)  # not [0]: its backward would fill and copy a tensor of f's size
    if index is not None:
        f = f[index]
    return directions.T @ f.float().T


def sample(h: int, w: int, count: int, generator: torch.Generator, device: torch.device) -> torch.Tensor | None:
    """Indices (row-major) of about ``count`` of an h × w grid's positions, one at a random place in each
    s × s cell, s = ⌈√(h·w / count)⌉: an even spread, none twice; None when h·w ≤ count (all of them)."""
    if h * w <= count:
        return None
    s = math.ceil(math.sqrt(h * w / count))
    y0, x0 = torch.arange(0, h, s), torch.arange(0, w, s)
    dy = (torch.rand(len(y0), len(x0), generator=generator) * (h - y0).clamp(max=s)[:, None]).long()
    dx = (torch.rand(len(y0), len(x0), generator=generator) * (w - x0).clamp(max=s)[None, :]).long()
    return ((y0[:, None] + dy) * w + x0[None, :] + dx).reshape(-1).to(device)
