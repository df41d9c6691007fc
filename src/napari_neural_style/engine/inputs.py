"""The inputs of one 2D run, validated once: content, styles and their blend, labels, start image, and the
images the network sees under the colour-preservation mode (no torch here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import color
from .images import Plane, to_plane
from .params import StyleParams


@dataclass(frozen=True)
class Inputs:
    """``net_content``/``net_styles`` are (Y, X, 3) float32 in [0, 1] as the network sees them; with
    ``luminance_only`` they are gray and the output gets the content's chroma back. ``labels`` (Y, X) and
    ``regions`` (the labels > 0 present) give region k the style ``k``; ``blend`` sums to 1."""

    content: Plane
    styles: tuple[Plane, ...]
    blend: tuple[float, ...]
    labels: np.ndarray | None
    regions: tuple[int, ...]
    init: np.ndarray | None
    net_content: np.ndarray
    net_styles: tuple[np.ndarray, ...]
    luminance_only: bool

    @classmethod
    def read(cls, content: object, style: object | Sequence[object], params: StyleParams, *,
             init_image: object | None = None, labels: object | None = None,
             init_rgb: np.ndarray | None = None) -> Inputs:
        """Validate everything a run reads; ValueError names the bad input. ``init_rgb`` (network-side RGB,
        e.g. a stack's previous slice) wins over ``init_image``."""
        p = params
        plane = to_plane(content, "content", p.intensity, p.percentiles, p.contrast_limits)
        items = list(style) if isinstance(style, (list, tuple)) else [style]
        if not items:
            raise ValueError("no style image given")
        styles = tuple(to_plane(s, f"style {i + 1}" if len(items) > 1 else "style", p.intensity, p.percentiles)
                       for i, s in enumerate(items))
        lab, regions = read_labels(labels, plane.rgb.shape[:2], len(styles), p)
        blend = p.style_blend or (1.0,) * len(styles)
        if len(blend) != len(styles):
            raise ValueError(f"style_blend has {len(blend)} weights for {len(styles)} style images")
        init = init_rgb
        if p.init == "image" and init is None:
            if init_image is None:
                raise ValueError("init='image' needs an init_image")
            init = to_plane(init_image, "init", p.intensity, p.percentiles).rgb
        net_content, net_styles, luminance_only = _network_side(plane, styles, p.preserve_color)
        if p.init in ("palette", "tones") and init is None and not luminance_only:
            init = color.palette(net_content, net_styles, blend, lab, regions, only_tones=p.init == "tones")
        return cls(plane, styles, tuple(b / sum(blend) for b in blend), lab, regions, init, net_content,
                   net_styles, luminance_only)


def read_labels(labels: object | None, hw: tuple[int, int], n_styles: int, params: StyleParams
                ) -> tuple[np.ndarray | None, tuple[int, ...]]:
    """(labels, regions) after checking them against the content's (Y, X) ``hw`` and the styles."""
    if labels is None:
        return None, ()
    lab = np.asarray(labels)
    if lab.shape != hw:
        raise ValueError(f"labels have shape {lab.shape} but the content is {hw[0]}×{hw[1]}: they must "
                         f"match its Y, X size")
    if not (np.issubdtype(lab.dtype, np.integer) or lab.dtype == bool):
        raise ValueError(f"labels must be integers (a napari Labels layer), got dtype {lab.dtype}")
    ids = np.unique(lab)
    missing = [int(k) for k in ids if k < 0 or k > n_styles]
    if missing:
        raise ValueError(f"labels {missing} have no style image: label k uses style image k and "
                         f"{n_styles} {'is' if n_styles == 1 else 'are'} given (label 0 keeps the content)")
    if params.style_blend is not None:
        raise ValueError("style_blend mixes the styles everywhere; with labels each label has its own "
                         "style: leave style_blend unset")
    return lab, tuple(int(k) for k in ids if k > 0)


def stack_labels(labels: object | None, lead_shape: tuple[int, ...], plane_hw: tuple[int, int]
                 ) -> np.ndarray | None:
    """A stack's labels as one (Y, X) per slice: given once for all slices, or per slice."""
    if labels is None:
        return None
    lab = np.asarray(labels)
    if lab.shape not in (plane_hw, lead_shape + plane_hw):
        raise ValueError(f"labels of shape {lab.shape} fit neither one content slice {plane_hw} nor the whole "
                         f"stack {lead_shape + plane_hw}")
    return np.broadcast_to(lab, lead_shape + plane_hw)


def _network_side(content: Plane, styles: tuple[Plane, ...], mode: str
                  ) -> tuple[np.ndarray, tuple[np.ndarray, ...], bool]:
    """(content, styles, luminance only) as the network sees them under colour-preservation ``mode``."""
    c = content.rgb
    if mode == "luminance" or (mode != "none" and content.gray):
        cy = color.luminance(c)
        return (color.gray3(cy),
                tuple(color.gray3(color.match_luminance(color.luminance(s.rgb), cy)) for s in styles), True)
    if mode == "histogram":
        return c, tuple(color.match_histogram(s.rgb, c) for s in styles), False
    return c, tuple(s.rgb for s in styles), False
