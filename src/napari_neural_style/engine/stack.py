"""z-stacks and time series: the slice-by-slice run with temporal coherence."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from .cancel import Cancel
from .flow import FlowLink
from .images import check_stack
from .inputs import Inputs, stack_labels
from .network import resolve_device, use_bf16
from .objective import ImageTerms, temporal
from .params import StyleParams
from .plan import Plan, StackPlan, later_params
from .progress import Progress
from .run import Run, run_clock
from .slices import Slices, stack_limits
from .tensors import resized


def flicker(frames: np.ndarray) -> float:
    """Mean absolute difference between consecutive frames along axis 0 (float images in [0, 1])."""
    frames = np.asarray(frames, np.float32)
    return float(np.abs(np.diff(frames, axis=0)).mean())


def stack_steps(view: Slices, style: np.ndarray | Sequence[np.ndarray], params: StyleParams, *, rgb: bool,
                init_image: np.ndarray | None = None, labels: np.ndarray | None = None,
                cancel: Cancel = None) -> Iterator[Progress]:
    """Stylise every 2D slice of the stack ``view``, reading each only when its turn comes; see
    :func:`.stylize_steps`. ``index`` and ``stack`` follow the view's leading shape.

    Intensities map to [0, 1] with one set of limits for the stack (:func:`.slices.stack_limits`), so every
    slice uses the same mapping. Chained slices (``stack_init`` "flow" or "previous") start from slice i−1's
    optimised image, at the finest scale, with ``stack_steps`` of the steps; with "flow" that image is first
    warped along the optical flow from content slice i−1 to i, and a temporal loss keeps the result near it
    where the flow is reliable. ``labels`` is (Y, X) for all
    slices or one (Y, X) per slice of the view. Once ``cancel`` is set the current slice ends (see
    :class:`.run.Run`) and no other starts.
    """
    check_stack(view.shape, len(view.lead_shape), rgb)
    lead_shape, plane_hw = view.lead_shape, view.plane_shape[:2]
    labels = stack_labels(labels, lead_shape, plane_hw)
    first = replace(params, contrast_limits=stack_limits(view, params, rgb))
    later = later_params(first)
    chained = later is not first
    plan = StackPlan(lead_shape, Plan.make(first, plane_hw), Plan.make(later, plane_hw))
    n = plan.slices
    start, done, out, previous, frame, curvature, clock = time.perf_counter(), 0, None, None, None, None, None
    for i, index in enumerate(np.ndindex(*lead_shape)):
        p, slice_plan = (first, plan.first) if i == 0 else (later, plan.later)
        inputs = Inputs.read(view[index], style, p, init_image=init_image if p is first else None,
                             labels=None if labels is None else labels[index], init_rgb=previous)
        terms = None
        if params.stack_init == "flow":
            last_frame, frame = frame, resized(inputs.net_content, slice_plan.shape)
            if previous is not None:
                inputs, terms = _follow_flow(inputs, last_frame, frame, previous, p)
        if clock is None:  # one for the whole stack, with the first slice's styles and regions
            device = resolve_device(p.device)
            clock = run_clock(plan, p, inputs, str(device), use_bf16(p.precision, device))
        run = Run(inputs, slice_plan, p, outputs=n if i == 0 else 1, image_terms=terms, curvature=curvature,
                  cancel=cancel, clock=clock)
        for progress in run.steps():
            end = progress.done
            if end:
                if out is None:
                    out = np.zeros(lead_shape + progress.image.shape, np.float32)
                out[index] = progress.image
            yield replace(progress, step=done + progress.step, total=plan.total,
                          elapsed=time.perf_counter() - start, index=index, slices=n, stack=out if end else None)
        if run.stopped:
            return
        previous = run.result if chained else None  # set once the slice's generator has finished
        curvature = run.curvature if chained else None
        done += slice_plan.total


def _follow_flow(inputs: Inputs, last_frame: np.ndarray, frame: np.ndarray, previous: np.ndarray,
                 params: StyleParams) -> tuple[Inputs, ImageTerms]:
    """This slice's start and temporal term: the previous result warped along the flow between the two
    content frames (network side, the output's size). The start is the warped result everywhere (Ruder et
    al.): where the flow is unreliable it is still a stylised image near the right place, a better start
    than the bare content (slices that change in place, as in z-stacks, have little reliable flow)."""
    link = FlowLink.between(last_frame, frame)
    warped = link.warp(previous)
    terms = temporal(warped, link.mask, params.temporal_weight, resolve_device(params.device))
    return replace(inputs, init=np.ascontiguousarray(warped, dtype=np.float32)), terms
