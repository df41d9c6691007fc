"""napari layers ⇄ engine arrays: the plane on screen, a whole stack, and where an output layer goes.

Plain functions of a layer and a world point, testable without a viewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from napari.layers import Image, Labels

from .engine.slices import Slices

Layer = Image | Labels
BIG_PLANE = 4096 * 4096  # pixels: larger planes are read with a step (a float copy would take 200+ MB)
OVERSAMPLE = 1.5  # a plane read with a step keeps at least this many times the run's size


@dataclass(frozen=True)
class Placement:
    """Where an output layer goes: ``scale`` and ``translate`` for every axis of its data but channels."""

    scale: tuple[float, ...]
    translate: tuple[float, ...]


@dataclass(frozen=True)
class RunInputs:
    """What a run reads: the content and style layers (for placement and names), the arrays for the engine
    (``content_data``: a plane, or a whole stack as the layer holds it, e.g. a lazy dask array), and
    ``about``: the picks the output's metadata records (plane_index, whole_stack, slices, scheduler,
    more_styles, labels, continues). A whole-stack run covers ``slices`` (start, stop) of the first leading
    axis and runs on the dask ``scheduler`` at that address ("": this process)."""

    content: Image
    style: Image
    content_data: np.ndarray
    styles: list[np.ndarray]
    labels: np.ndarray | None
    about: dict[str, Any] = field(default_factory=dict)
    init_image: np.ndarray | None = None
    slices: tuple[int, int] | None = None
    scheduler: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the content the run stylises: the plane, or the stack cut to ``slices``."""
        shape = tuple(np.shape(self.content_data))
        return shape if self.slices is None else (self.slices[1] - self.slices[0], *shape[1:])


def read_inputs(content: Image, style: Image, more: Sequence[Image], labels: Labels | None, point: Sequence[float],
                size: int, *, whole_stack: bool = False, slices: tuple[int, int] | None = None,
                scheduler: str = "", init_image: np.ndarray | None = None,
                continues: dict[str, Any] | None = None) -> RunInputs:
    """The arrays of a run at world ``point``: content and style planes (the whole content stack with
    ``whole_stack``, nothing read yet, cut to ``slices`` (start, stop) of its first leading axis), ``more``
    styles' planes after the style, and the labels' plane (or stack). ``scheduler``: a dask scheduler's
    address for a whole-stack run, "" for this process. ValueError for a bad range."""
    style_plane, style_index = plane_at(style, point, size)
    more = [layer for layer in more if layer is not content and layer is not style]
    styles = [style_plane] + [plane_at(layer, point, size)[0] for layer in more]
    if whole_stack:
        content_data, content_index = stack_data(content, size), []
        if slices is not None:
            Slices.window(content_data, content.ndim - 2, slices)  # the range's check, nothing read
            slices = None if tuple(slices) == (0, np.shape(content_data)[0]) else tuple(int(v) for v in slices)
    else:
        content_data, content_index = plane_at(content, point, size)
        slices, scheduler = None, ""
    lab = None
    if labels is not None:
        whole = whole_stack and labels.ndim == content.ndim
        lab = np.asarray(stack_data(labels, size)) if whole else plane_at(labels, point, size)[0]
    scheduler = scheduler.strip()
    about = {"plane_index": {"content": content_index, "style": style_index}, "whole_stack": whole_stack,
             "slices": list(slices) if slices is not None else None, "scheduler": scheduler,
             "more_styles": [layer.name for layer in more], "labels": labels.name if labels is not None else None,
             "continues": continues}
    return RunInputs(content, style, content_data, styles, lab, about, init_image, slices, scheduler)


def full_shape(layer: Layer) -> tuple[int, ...]:
    """The shape of ``layer``'s data at full resolution (multiscale: its level 0)."""
    return tuple((layer.data[0] if layer.multiscale else layer.data).shape)


def _level(layer: Layer, size: int) -> np.ndarray | object:
    """The data the run reads: multiscale data's coarsest level whose long side is still at least
    ``size`` (else level 0); the data itself otherwise."""
    if not layer.multiscale:
        return layer.data
    spatial = slice(layer.ndim - 2, layer.ndim)
    levels = [level for level in layer.data if max(level.shape[spatial]) >= size]
    return levels[-1] if levels else layer.data[0]


def _step(layer: Layer, data: object, size: int) -> slice:
    """The (Y, X) step of reading ``data`` for a run of ``size``: 1 for planes up to :data:`BIG_PLANE` pixels;
    a larger one is read at the largest step keeping its long side at least :data:`OVERSAMPLE` × ``size``
    (the engine then resizes properly), so that it never becomes float at full resolution."""
    h, w = data.shape[layer.ndim - 2:layer.ndim]
    step = int(max(h, w) // (OVERSAMPLE * size)) if h * w > BIG_PLANE else 1
    return slice(None, None, max(1, step))


def plane_at(layer: Layer, point: Sequence[float], size: int) -> tuple[np.ndarray, list[int]]:
    """The 2D image (Y, X) or (Y, X, C) of ``layer`` at world ``point`` (e.g. ``viewer.dims.point``), at the
    resolution :func:`_level` and :func:`_step` pick for ``size``, and its index along the leading axes (of
    level 0)."""
    data = _level(layer, size)
    full = full_shape(layer)
    lead = layer.ndim - 2
    index = [int(np.clip(np.floor(p + 0.5), 0, f - 1))
             for p, f in zip(layer.world_to_data(point)[:lead], full, strict=False)]
    level_index = tuple(min(i * n // f, n - 1) for i, n, f in zip(index, data.shape, full, strict=False))
    step = _step(layer, data, size)
    return np.asarray(data[level_index + (step, step)]), index


def stack_data(layer: Layer, size: int) -> np.ndarray | object:
    """All of ``layer``'s data for a whole-stack run, read as :func:`plane_at` reads a plane, and as the layer
    holds it: a dask or zarr array stays lazy (huge planes: a lazy dask view with the step), and the engine
    reads only the slices it stylises."""
    data = _level(layer, size)
    step = _step(layer, data, size)
    if step.step == 1:
        return data
    import dask.array as da

    return da.asarray(data)[(slice(None),) * (layer.ndim - 2) + (step, step)]


def placement(content: Image, shape: Sequence[int], lead: int = 0, index: Sequence[int] = ()) -> Placement:
    """Where an output of ``shape`` goes so that it covers ``content``'s extent: its first ``lead`` axes
    are the content's last leading axes, then (Y, X). A whole stack's result starts where the content does;
    one slice's result (``index``: the slice's index along all leading axes) sits at that slice."""
    plane = content.ndim - 2
    full = np.asarray(full_shape(content)[plane:plane + 2])
    pixel = np.asarray(content.scale[-2:], float)
    scale = pixel * full / np.asarray(shape[lead:lead + 2])
    # pixel edges, not centres, line up with the content's: both cover the same extent
    translate = np.asarray(content.translate[-2:], float) + (scale - pixel) / 2
    axes = range(plane - lead, plane)
    at = [content.translate[a] + (index[a] * content.scale[a] if index else 0.0) for a in axes]
    return Placement(tuple(float(s) for s in (*(content.scale[a] for a in axes), *scale)),
                     tuple(float(t) for t in (*at, *translate)))
