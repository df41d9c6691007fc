"""z-stacks and time series: which axes are leading, and the slice-by-slice run with temporal coherence."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .images import MIN_SIDE, unit_limits
from .params import StyleParams

if TYPE_CHECKING:
    from .transfer import Progress


def layout(shape: tuple[int, ...], rgb: bool | None = None) -> tuple[int, bool]:
    """(number of leading z/t axes, whether the last axis holds colour channels) of an array of ``shape``.

    As napari guesses: a last axis of 3 or 4 is RGB(A) unless ``rgb=False``; (Y, X, 1) is one gray image.
    Everything before the last two spatial axes is a leading axis, iterated in C order.
    """
    ndim = len(shape)
    if rgb is None:
        rgb = ndim >= 3 and shape[-1] in (3, 4) or ndim == 3 and shape[-1] == 1
    elif rgb and (ndim < 3 or shape[-1] not in (3, 4)):
        raise ValueError(f"rgb=True needs a last axis of 3 (RGB) or 4 (RGBA) channels, got shape {shape}")
    return max(0, ndim - 2 - int(rgb)), rgb


def flicker(frames: np.ndarray) -> float:
    """Mean absolute difference between consecutive frames along axis 0 (float images in [0, 1])."""
    frames = np.asarray(frames, np.float32)
    return float(np.abs(np.diff(frames, axis=0)).mean())


def stack_steps(make_run: Any, content: np.ndarray, style: np.ndarray | Sequence[np.ndarray],
                params: StyleParams, *, lead: int, rgb: bool, init_image: np.ndarray | None = None,
                labels: np.ndarray | None = None) -> Iterator[Progress]:
    """Stylise every 2D slice of ``content`` along its ``lead`` leading axes; see :func:`.stylize_steps`.

    ``make_run`` is the single-image run class (``transfer._Run``). Intensities map to [0, 1] with limits
    over the whole stack, so every slice uses the same mapping. With ``params.stack_init="previous"``
    slice i > 0 starts from slice i−1's optimised image, at the finest scale, with ``stack_steps`` of the
    steps. ``labels`` is (Y, X) for all slices or one (Y, X) per slice (the content's leading shape).
    """
    lead_shape, plane_shape = content.shape[:lead], content.shape[lead:]
    n = math.prod(lead_shape)
    if n == 0:
        raise ValueError(f"content stack of shape {content.shape} has no slices")
    if min(plane_shape[:2]) < MIN_SIDE:
        raise ValueError(f"content of shape {content.shape} is read as {n} slice(s) of {plane_shape} "
                         f"(leading axes {lead_shape}{', last axis RGB(A)' if rgb else ''}); each needs at "
                         f"least {MIN_SIDE} pixels a side. Pass rgb=True/False if the channels were misread")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape not in (plane_shape[:2], lead_shape + plane_shape[:2]):
            raise ValueError(f"labels of shape {labels.shape} fit neither one content slice "
                             f"{plane_shape[:2]} nor the whole stack {lead_shape + plane_shape[:2]}")
        if labels.ndim == 2:
            labels = np.broadcast_to(labels, lead_shape + labels.shape)
    limits = params.contrast_limits
    if limits is None:
        values = content[..., :3] if rgb and content.shape[-1] == 4 else content
        limits = unit_limits(values, params.intensity, params.percentiles)
        if limits[1] <= limits[0]:
            limits = (limits[0], limits[0] + 1.0)  # a flat stack: every slice maps to 0
    first = replace(params, contrast_limits=limits)
    chained = params.stack_init == "previous"
    later = replace(first, scales=1, steps=max(1, round(params.steps * params.stack_steps)), init="image",
                    scale_steps=None) if chained else first
    totals = [make_run.count(first, plane_shape), make_run.count(later, plane_shape)]
    total = totals[0] + (n - 1) * totals[1]
    start, done, out, previous, slice_times = time.perf_counter(), 0, None, None, []
    for i, index in enumerate(np.ndindex(*lead_shape)):
        p = first if i == 0 else later
        run = make_run(content[index], style, p, init_image if p is first else None,
                       None if labels is None else labels[index], init_rgb=previous if p is later else None,
                       outputs=n if i == 0 else 1)
        slice_start = time.perf_counter()
        for progress in run.steps():
            end = progress.done
            if end:
                if out is None:
                    out = np.zeros(lead_shape + progress.image.shape, np.float32)
                out[index] = progress.image
            per_slice = (float(np.mean(slice_times)) if slice_times else
                         (progress.elapsed + progress.eta) * totals[1] / totals[0])
            yield replace(progress, step=done + progress.step, total=total, elapsed=time.perf_counter() - start,
                          eta=progress.eta + (n - 1 - i) * per_slice, index=index, slices=n,
                          stack=out if end else None)
        slice_times.append(time.perf_counter() - slice_start)
        previous = run.result if chained else None  # set once the slice's generator has finished
        done += run.total
