"""The stylised stack as a dask array: one chunk per slice, each stylised when it is computed (or viewed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import dask
import dask.array as da
import numpy as np

from .images import layout
from .params import StyleParams
from .plan import later_params, output_shape
from .segments import Segment, check_first, run_segment
from .slices import Slices, stack_limits


def stylize_lazy(content: object, style: np.ndarray | Sequence[np.ndarray], params: StyleParams | None = None, *,
                 slices: tuple[int, int] | None = None, init_image: np.ndarray | None = None,
                 labels: object | None = None, rgb: bool | None = None) -> da.Array:
    """A dask array of the stylised stack (the shape :func:`.stylize` returns), one chunk per slice.

    Nothing runs until chunks are computed; each chunk is stylised on its own, reading only its content
    slices, so any subset can be computed, in any order, on any dask scheduler. Chained modes (``stack_init``
    "flow", "previous"): chunk k > 0 first stylises slice k − 1 from scratch, then slice k chained from it,
    and keeps slice k (about 2× an independent slice's work at the default ``stack_steps``); neighbouring
    chunks are therefore coherent but not equal to a one-process run. "independent" chunks equal it.
    Intensity limits are fixed when this is called (see :func:`.slices.stack_limits`).
    """
    params = params if params is not None else StyleParams()
    lead, channels = layout(tuple(np.shape(content)), rgb)
    if not lead:
        raise ValueError(f"stylize_lazy needs a stack (leading z/t axes); content has shape {np.shape(content)}: "
                         f"use stylize for one image")
    view = Slices.window(content, lead, slices)
    params = replace(params, contrast_limits=stack_limits(view, params, channels))
    check_first(view, style, params, init_image=init_image, labels=labels)
    chained = later_params(params) is not params
    plane = output_shape(params, view.plane_shape, channels)
    n_lead = len(view.lead_shape)

    def chunk(job: tuple, block_info: dict | None = None) -> np.ndarray:
        view, style, labels = job
        k = int(np.ravel_multi_index(block_info[None]["chunk-location"][:n_lead], view.lead_shape))
        s = Segment(k, k + 1, chained and k > 0)
        part = view.take(s.first, s.stop)
        out = run_segment(part, style, params, rgb=channels, lead_in=s.lead_in, labels=part.labels(labels),
                          init_image=init_image)
        return out.reshape((1,) * n_lead + plane)

    job = dask.delayed((view, style, labels), traverse=False)  # one key: the content travels once
    return da.map_blocks(chunk, job, dtype=np.float32, chunks=tuple((1,) * n for n in view.lead_shape) + plane,
                         meta=np.zeros((0,) * (n_lead + len(plane)), np.float32))

