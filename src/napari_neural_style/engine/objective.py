"""Loss terms apart from the optimisation loop: the style targets of a scale, the content targets and
region guides of an image (or tile), and the map from the network's features to named, weighted terms."""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator, Sequence
from functools import partial
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from .images import MIN_SIDE
from .losses import content_loss, gram, style_loss, temporal_loss, tv_loss
from .network import Extractor
from .params import StyleParams
from .sliced import RGB, RGB_SHARE, SlicedStyle, Slicer
from .tensors import nearest, resize, to_tensor
from .tiles import GRAM_MARGIN, GRID, stride

Targets = dict[str, torch.Tensor]  # per layer (Gram matrices; with style_loss "sw" :class:`.Sliced` targets)
Guides = list[tuple[int, float, Targets]]  # (style key, region's share of the styled area, mask per layer)
Forward = Callable[[torch.Tensor, Sequence[str]], dict[str, torch.Tensor]]  # the network: image, layers → features
T = TypeVar("T")
Pieces = Generator[str, None, T]  # a long computation: yields what it does next, returns its result
ImageTerm = Callable[[torch.Tensor], torch.Tensor]  # a loss on the RGB image in [0, 1] itself
Window = tuple[slice, slice] | None  # a tile's rows and columns at its scale; None: the whole image
ImageTerms = Callable[[tuple[int, int], Window], dict[str, ImageTerm]]  # image terms for a scale's shape


class Objective:
    """``objective(features, rgb) -> {term: weighted loss}`` for the image being optimised.

    ``style`` maps a key to style targets per layer: key 0 (the blend of all styles) without ``guides``,
    key k per labelled region with them; Gram matrices, or with ``style_loss="sw"`` sliced-Wasserstein
    targets (:mod:`.sliced`: the style layers and the pixels' colours). ``image_terms`` are further weighted
    losses on the RGB image (total variation, a temporal term, …): new terms plug in here, the loop does not
    change.
    """

    def __init__(self, params: StyleParams, style: dict[int, Targets], content: Targets,
                 guides: Guides | None = None, image_terms: dict[str, ImageTerm] | None = None) -> None:
        self.p, self.style, self.content, self.guides = params, style, content, guides
        lw = params.style_layer_weights or (1.0 / len(params.style_layers),) * len(params.style_layers)
        self.layer_weights = dict(zip(params.style_layers, lw, strict=True))
        if params.style_loss == "sw":
            self.layer_weights[RGB] = RGB_SHARE * sum(lw)
            self.sliced = SlicedStyle(self.layer_weights, params.seed)
        self.image_terms = dict(image_terms or {})
        if params.tv_weight:
            self.image_terms["tv"] = lambda rgb: params.tv_weight * tv_loss(rgb)

    def __call__(self, feats: dict[str, torch.Tensor], rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        p = self.p
        if self.guides is None:
            style = self._style(feats, rgb, 0)
        else:
            style = sum((share * self._style(feats, rgb, key, g) for key, share, g in self.guides),
                        torch.zeros((), device=rgb.device))
        terms = {"style": p.style_weight * style}
        if p.content_weight:
            terms["content"] = p.size_content_weight * content_loss({k: feats[k] for k in p.content_layers},
                                                               self.content)
        terms.update((name, term(rgb)) for name, term in self.image_terms.items())
        return terms


    def _style(self, feats: dict[str, torch.Tensor], rgb: torch.Tensor, key: int,
               guide: Targets | None = None) -> torch.Tensor:
        """The style term against style ``key``'s targets, of the region ``guide`` weighs (None: everywhere)."""
        if self.p.style_loss == "sw":
            return self.sliced(feats | {RGB: rgb}, self.style[key], key, guide)
        return style_loss({k: gram(feats[k], None if guide is None else guide[k]) for k in self.p.style_layers},
                          self.style[key], self.layer_weights)


def temporal(warped: np.ndarray, mask: np.ndarray, weight: float, device: torch.device) -> ImageTerms:
    """The temporal term of a chained slice (Ruder et al. 2016): ``weight`` × the squared difference to the
    previous result ``warped`` (Y, X, 3) into this slice, where the flow's reliability ``mask`` (Y, X) is 1."""
    image = torch.from_numpy(np.ascontiguousarray(warped)).permute(2, 0, 1)[None].to(device)
    trust = torch.from_numpy(np.ascontiguousarray(mask))[None, None].to(device)

    def terms(shape: tuple[int, int], window: Window) -> dict[str, ImageTerm]:
        target, c = resize(image, shape), resize(trust, shape)
        if window is not None:
            target, c = target[..., window[0], window[1]], c[..., window[0], window[1]]
        return {"temporal": lambda rgb: weight * temporal_loss(rgb, target, c)}

    return terms


def style_targets(extractor: Extractor, styles: Sequence[np.ndarray], blend: Sequence[float],
                  regions: Sequence[int], side: float, params: StyleParams) -> Pieces[dict[int, Targets]]:
    """Style targets for a scale whose long side is ``side``: key 0 the blend of all ``styles``, or key k
    per labelled region k (style k alone). Styles larger than ``tile_size`` are run in tiles. Gram matrices,
    or with ``style_loss="sw"`` each layer's (and the pixels') sorted projections on this scale's directions.
    A generator: it yields what it computes next (e.g. "style 2 of 3, tile 4 of 9") before each forward
    pass, and returns the targets."""
    layers, n = params.style_layers, len(regions) or len(styles)
    slicer = Slicer(params.seed, side, extractor.device) if params.style_loss == "sw" else None

    def grams(style: np.ndarray, which: str) -> Pieces[Targets]:
        h, w = style.shape[:2]
        k = side * params.style_scale / max(h, w)
        shape = (max(MIN_SIDE, round(h * k)), max(MIN_SIDE, round(w * k)))
        image = to_tensor(style, shape, extractor.device)
        tiled = params.tile_size and max(shape) > params.tile_size
        if slicer is not None:
            yield which
            with torch.inference_mode():
                parts = ((features() for _, features in style_tiles(extractor, image, layers, params.tile_size,
                                                                     extractor.check_cancel))
                         if tiled else [extractor(image, layers) | {RGB: image}])
                return slicer.targets(parts)
        if tiled:
            return (yield from tiled_gram(extractor, image, layers, params.tile_size, which, extractor.check_cancel))
        yield which
        with torch.inference_mode():
            feats = extractor(image, layers)
            return {layer: gram(feats[layer]) for layer in layers}

    def which(i: int) -> str:
        return f"style {i + 1} of {n}" if n > 1 else ""

    if regions:
        per_region = {}
        for i, k in enumerate(regions):
            per_region[k] = yield from grams(styles[k - 1], which(i))
        return per_region
    parts = []
    for i, (weight, style) in enumerate(zip(blend, styles, strict=True)):
        parts.append(((yield from grams(style, which(i))), weight))
    with torch.inference_mode():
        if slicer is not None:
            return {0: slicer.mixture(parts)}
        targets: Targets = {}
        for grams_i, weight in parts:
            for layer, g in grams_i.items():
                targets[layer] = targets.get(layer, 0) + weight * g
        return {0: {k: v.clone() for k, v in targets.items()}}


@torch.inference_mode()
def content_targets(extractor: Extractor, content: torch.Tensor, params: StyleParams
                    ) -> tuple[Targets, dict[str, tuple[int, int]]]:
    """Content features of ``content`` (1, 3, H, W), and the (H, W) of every style layer's features there."""
    feats = extractor(content)
    return ({k: feats[k].float().clone() for k in params.content_layers},
            {k: tuple(feats[k].shape[-2:]) for k in params.style_layers})


def region_masks(labels: np.ndarray | None, regions: Sequence[int], shape: tuple[int, int],
                 device: torch.device) -> dict[int, torch.Tensor]:
    """One (1, 1, H, W) 0/1 mask per labelled region at ``shape`` (nearest-neighbour resize)."""
    if labels is None:
        return {}
    lab = nearest(labels, shape).to(device)
    return {k: (lab == k).float() for k in regions}


def guides(masks: dict[int, torch.Tensor], feature_shapes: dict[str, tuple[int, int]]) -> Guides | None:
    """Per region: its share of the styled area and its mask averaged down to each style layer (and as it is
    for the pixels, :data:`.sliced.RGB`)."""
    if not masks:
        return None
    mass = {k: float(m.sum()) for k, m in masks.items()}
    styled = sum(mass.values())
    return [(k, mass[k] / styled, {layer: F.interpolate(m, size=hw, mode="area")
                                   for layer, hw in feature_shapes.items()} | {RGB: m})
            for k, m in masks.items() if mass[k] > 0]


def tiled_gram(forward: Forward, image: torch.Tensor, layers: Sequence[str], tile: int, which: str = "",
               check_cancel: Callable[[], None] = lambda: None) -> Pieces[Targets]:
    """Gram matrices of ``image`` (1, 3, H, W) as :func:`.losses.gram` would give, in bounded memory.

    F Fᵀ is summed over the tiles of :func:`style_tiles` and divided by C times the total number of feature
    pixels. A generator: yields "``which``, tile k of n" before each tile, returns the Gram matrices;
    ``check_cancel()`` before each tile and each layer's product (together as long as a forward pass: 3 CPU-s
    for a 1024-px tile).
    """
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = dict.fromkeys(layers, 0)
    for stage, features in style_tiles(forward, image, layers, tile, check_cancel):
        yield ", ".join(filter(None, (which, stage)))
        with torch.inference_mode():
            crops = features()
            for layer in layers:
                check_cancel()
                f = crops[layer][0].permute(1, 2, 0)  # (h, w, C): rows of channels, as channels-last holds them
                f = f.reshape(-1, f.shape[-1]).float()  # (pixels, C)
                sums[layer] = sums.get(layer, 0) + f.T @ f
                counts[layer] += f.shape[0]
    with torch.inference_mode():
        return {layer: (sums[layer] / (sums[layer].shape[0] * counts[layer]))[None] for layer in layers}


def style_tiles(forward: Forward, image: torch.Tensor, layers: Sequence[str], tile: int,
                check_cancel: Callable[[], None] = lambda: None
                ) -> Iterator[tuple[str, Callable[[], dict[str, torch.Tensor]]]]:
    """``image`` (1, 3, H, W) in non-overlapping tiles, so that every position of it is in exactly one: per
    tile "tile k of n" and a function that runs the tile with a margin of context (``check_cancel()`` first),
    crops the margin from its features and returns them, (1, C, h, w) per layer, and the tile's pixels
    (:data:`.sliced.RGB`). Run each tile before taking the next: one tile's features at a time."""
    h, w = image.shape[-2:]
    step = max(GRID, tile // GRID * GRID)
    corners = [(y0, x0) for y0 in range(0, h, step) for x0 in range(0, w, step)]

    def features(y0: int, x0: int) -> dict[str, torch.Tensor]:
        y1, x1 = min(h, y0 + step), min(w, x0 + step)
        py0, px0 = max(0, y0 - GRAM_MARGIN), max(0, x0 - GRAM_MARGIN)
        py1, px1 = min(h, y1 + GRAM_MARGIN), min(w, x1 + GRAM_MARGIN)
        check_cancel()
        feats = forward(image[..., py0:py1, px0:px1], layers)
        crops = {}
        for layer in layers:
            d = stride(layer)
            a0, b0 = (y0 - py0) // d, (x0 - px0) // d
            a1, b1 = a0 + math.ceil((y1 - y0) / d), b0 + math.ceil((x1 - x0) / d)
            crops[layer] = feats[layer][..., a0:a1, b0:b1]
        return crops | {RGB: image[..., y0:y1, x0:x1]}

    for n, (y0, x0) in enumerate(corners, 1):
        yield f"tile {n} of {len(corners)}", partial(features, y0, x0)
