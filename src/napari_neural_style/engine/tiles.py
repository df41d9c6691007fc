"""Large images in overlapping tiles: the tile grid and its feathered blending weights (no torch here)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .params import LAYERS

GRAM_MARGIN = 32  # context around each style tile, so VGG's zero padding stays out of the counted pixels
GRID = 16  # VGG19's coarsest stride up to pool4: style tiles start on multiples of it


@dataclass(frozen=True)
class Tile:
    """One tile: rows ``y0:y1``, columns ``x0:x1``, and its blending weight (linear ramps over overlaps)."""

    y0: int
    y1: int
    x0: int
    x1: int
    wy: np.ndarray = field(compare=False)  # (y1 - y0,) weights along Y (follow from the grid)
    wx: np.ndarray = field(compare=False)  # (x1 - x0,) weights along X

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    def weight(self) -> np.ndarray:
        """(h, w) float32 weights: 1 inside, ramping towards 0 across each overlap with a neighbour."""
        return np.outer(self.wy, self.wx).astype(np.float32)


def grid(shape: tuple[int, int], tile: int, overlap: int) -> list[Tile] | None:
    """Tiles covering ``shape`` (row-major), or None when it fits in one tile (or ``tile`` is 0).

    Tiles are ``tile`` pixels a side, evenly spread so that neighbours overlap by at least ``overlap``;
    within an overlap the two tiles' weights ramp linearly in opposite directions and sum to 1.
    """
    if tile <= 0 or max(shape) <= tile:
        return None
    axes = [_axis(n, tile, overlap) for n in shape]
    return [Tile(y0, y1, x0, x1, wy, wx) for (y0, y1, wy) in axes[0] for (x0, x1, wx) in axes[1]]


def _axis(length: int, tile: int, overlap: int) -> list[tuple[int, int, np.ndarray]]:
    """(start, stop, weights) of the tiles along one axis."""
    if length <= tile:
        return [(0, length, np.ones(length, np.float32))]
    n = math.ceil((length - overlap) / (tile - overlap))
    starts = [round(i * (length - tile) / (n - 1)) for i in range(n)]
    out = []
    for i, start in enumerate(starts):
        w = np.ones(tile, np.float32)
        if i > 0:  # ramp up across the overlap with the previous tile
            o = starts[i - 1] + tile - start
            w[:o] = (np.arange(o) + 0.5) / o
        if i < n - 1:  # ramp down across the overlap with the next tile
            o = start + tile - starts[i + 1]
            w[tile - o:] = np.minimum(w[tile - o:], 1 - (np.arange(o) + 0.5) / o)
        out.append((start, start + tile, w))
    return out


def stride(layer: str) -> int:
    """How many input pixels one feature pixel of ``layer`` spans (2 per pooling before it)."""
    return 2 ** sum(name.startswith("pool") for name in LAYERS[: LAYERS.index(layer)])
