"""The public engine API: one generator that the widget, the console API and the CLI all use."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from .images import as_array, layout
from .inputs import Inputs
from .params import StyleParams
from .plan import Plan
from .progress import Progress
from .run import Run
from .stack import stack_steps

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


def stylize(content: np.ndarray, style: np.ndarray | Sequence[np.ndarray], *,
            init_image: np.ndarray | None = None, labels: np.ndarray | None = None, rgb: bool | None = None,
            **options) -> np.ndarray:
    """Run neural style transfer to the end and return the result (see :class:`StyleParams` for options).

    A stack in gives a stack out, with the same leading shape (see :func:`stylize_steps`).

    >>> out = stylize(content, style, size=256, steps=100)   # doctest: +SKIP
    """
    last = None
    for last in stylize_steps(content, style, make_params(**options), init_image=init_image, labels=labels,
                              rgb=rgb):
        pass
    return last.result


def stylize_steps(content: np.ndarray, style: np.ndarray | Sequence[np.ndarray],
                  params: StyleParams | None = None, *, init_image: np.ndarray | None = None,
                  labels: np.ndarray | None = None, rgb: bool | None = None) -> Iterator[Progress]:
    """Yield a :class:`Progress` per optimiser step, coarse to fine; the last one carries the result.

    ``content``/``style`` are arrays as napari holds them: (Y, X) gray or (Y, X, 3|4) RGB(A), any dtype.
    ``style`` may be a list of images, blended by ``params.style_blend``. Inputs are never modified.
    Validation happens before the first yield, so bad input raises ValueError at the first ``next()``.

    Stacks: content with leading axes, e.g. (Z, Y, X) or (T, Z, Y, X, 3), runs slice by slice (a last
    axis of 3 or 4 is RGB(A) unless ``rgb=False``; ``rgb=True`` insists on it); see ``stack_init``.
    Spatial control: ``labels`` (Y, X) integers, the content's size, give each pixel a style: label k
    uses ``style[k - 1]``, label 0 keeps the content. Each region's Gram matrices are matched to its own
    style's (Gatys et al. 2017, guided Gram matrices). Large outputs run in tiles (``tile_size``), and
    a run that would not fit in memory is refused with a ValueError before it starts.
    """
    params = params if params is not None else StyleParams()
    content = as_array(content, "content") if content is not None else None
    lead, channels = layout(np.shape(content), rgb)
    if lead:
        yield from stack_steps(content, style, params, lead=lead, rgb=channels,
                               init_image=init_image, labels=labels)
        return
    inputs = Inputs.read(content, style, params, init_image=init_image, labels=labels)
    yield from Run(inputs, Plan.make(params, inputs.content.rgb.shape[:2]), params).steps()
