"""The public engine API: one generator that the widget, the console API and the CLI all use."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from .images import as_array, layout, too_small
from .inputs import Inputs
from .params import StyleParams
from .plan import Plan
from .progress import STOPPED, Progress
from .run import Run, check_memory
from .slices import Slices
from .stack import stack_steps

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["Progress", "make_params", "stylize", "stylize_steps"]


def make_params(params: StyleParams | None = None, **options) -> StyleParams:
    """``params`` with ``options`` replaced, or new parameters from ``options``; ValueError names bad ones."""
    unknown = sorted(set(options) - set(StyleParams.names()))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)}; valid: {', '.join(StyleParams.names())}")
    try:
        return replace(params, **options) if params is not None else StyleParams(**options)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def stylize(content: object, style: np.ndarray | Sequence[np.ndarray], *, init_image: np.ndarray | None = None,
            labels: object | None = None, rgb: bool | None = None, slices: tuple[int, int] | None = None,
            client: Client | None = None, store: str | None = None, segment: int | None = None,
            **options) -> np.ndarray:
    """Run neural style transfer to the end and return the result (see :class:`StyleParams` for options).

    A stack in gives a stack out, with the same leading shape, or the range's with ``slices``; with
    ``store`` it is a dask array that reads the store (see :func:`stylize_steps`).

    >>> out = stylize(content, style, size=256, steps=100)   # doctest: +SKIP
    """
    last = None
    run = stylize_steps(content, style, make_params(**options), init_image=init_image, labels=labels, rgb=rgb,
                        slices=slices, client=client, store=store, segment=segment)
    for last in run:  # noqa: B007 - the last record holds the result
        pass
    return last.result


def stylize_steps(content: object, style: np.ndarray | Sequence[np.ndarray], params: StyleParams | None = None,
                  *, init_image: np.ndarray | None = None, labels: object | None = None, rgb: bool | None = None,
                  slices: tuple[int, int] | None = None, client: Client | None = None, store: str | None = None,
                  segment: int | None = None, cancel: threading.Event | None = None,
                  stages: bool = False) -> Iterator[Progress]:
    """Yield a :class:`Progress` per optimiser step, coarse to fine; the last one carries the result.

    Stopping: closing the generator (or leaving it) ends the run at the record it yielded last. With
    ``stages``, stage records (:attr:`Progress.stage` set, no losses) also come before every long piece of
    work that is not a step (loading the network, style and content targets, per tile), so a consumer gets
    control at least every few seconds whatever the size. ``cancel``, an Event another thread may set (e.g.
    a GUI's Stop), ends the run within about a network layer's time, even mid-step: the last record then has
    the stage ``"stopped"`` and the current image (a stack: the current slice; finished ones are kept; no
    image before the first step).

    ``content``/``style`` are arrays as napari holds them: (Y, X) gray or (Y, X, 3|4) RGB(A), any dtype.
    ``style`` may be a list of images, blended by ``params.style_blend``. Inputs are never modified.
    Validation happens before the first yield, so bad input raises ValueError at the first ``next()``.

    Stacks: content with leading axes, e.g. (Z, Y, X) or (T, Z, Y, X, 3), runs slice by slice (a last
    axis of 3 or 4 is RGB(A) unless ``rgb=False``; ``rgb=True`` insists on it); see ``stack_init``. A stack
    may be a numpy, dask or zarr array: each slice is read when its turn comes, never the whole stack.
    ``slices=(start, stop)`` runs only that range of the first leading axis; the result then has just the
    range's leading shape and ``index`` counts within it. Intensity limits: ``contrast_limits``, else the
    dtype's range (integers), else a sample of slices (:func:`.slices.stack_limits`).
    Spatial control: ``labels`` (Y, X) integers, the content's size, give each pixel a style: label k
    uses ``style[k - 1]``, label 0 keeps the content. Each region's Gram matrices are matched to its own
    style's (Gatys et al. 2017, guided Gram matrices). Large outputs run in tiles (``tile_size``), and
    a run that would not fit in memory is refused with a ValueError before it starts.

    Distributed: with a dask.distributed ``client``, the stack runs as segments of ``segment`` slices on
    the cluster, one record per finished slice (:func:`.cluster.cluster_steps`); with ``store`` (a
    ``.zarr`` path) finished slices go there and a re-run with the same store computes only what is missing.
    """
    params = params if params is not None else StyleParams()
    content = as_array(content, "content", lazy=True) if content is not None else None
    lead, channels = layout(np.shape(content), rgb)
    if client is None and (store is not None or segment is not None):
        raise ValueError("store and segment are for distributed runs: pass a dask.distributed client too")
    if not lead:
        if slices is not None or client is not None:
            raise ValueError(f"slices and client are for stacks (leading z/t axes); content has shape "
                             f"{np.shape(content)}")
        _check_before_reading(content, style, params, labels)
        if any(_same_array(s, content) for s in (style if isinstance(style, (list, tuple)) else [style])):
            warnings.warn("the style image is the content itself: its style is its own, so the result will barely "
                          "change; pass another style image", UserWarning, stacklevel=2)
        inputs = Inputs.read(content, style, params, init_image=init_image, labels=labels)
        run = Run(inputs, Plan.make(params, inputs.content.rgb.shape[:2]), params, cancel=cancel).steps()
    else:
        view = Slices.window(content, lead, slices)
        if client is not None:
            from .cluster import cluster_steps

            run = cluster_steps(view, style, params, rgb=channels, client=client, store=store, segment=segment,
                                init_image=init_image, labels=labels, cancel=cancel)
        else:
            run = stack_steps(view, style, params, rgb=channels, init_image=init_image, labels=view.labels(labels),
                              cancel=cancel)
    for p in run:
        if stages or not p.stage or p.stage == STOPPED:
            yield p


def _same_array(a: object, b: object) -> bool:
    """The same image passed twice: one object, or numpy arrays of one shape over the same memory."""
    return a is b or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
            and np.may_share_memory(a, b))


def _check_before_reading(content: object, style: object, params: StyleParams, labels: object | None) -> None:
    """The memory check, from the content's shape, before it becomes float (a huge image must be refused
    with advice, not fail allocating its float copy); regions are counted at most (one per style)."""
    shape = np.shape(content)
    if len(shape) not in (2, 3) or too_small(shape):
        return  # Inputs.read says what is wrong with it
    styles = len(style) if isinstance(style, (list, tuple)) else 1
    check_memory(Plan.make(params, shape[:2]), params, regions=styles if labels is not None else 0, outputs=1,
                 channels=4 if len(shape) == 3 and shape[-1] == 4 else 3, content_pixels=shape[0] * shape[1])
