"""The plan of a run, worked out from the parameters and the content's shape alone (no torch, picklable):
output shape, per-scale schedule, tile grids and step totals, for one image or a stack (its time:
:mod:`.timing`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .images import MIN_SIDE, layout
from .params import StyleParams
from .tiles import Tile, grid

MIN_COARSE_SIDE = 32  # coarser scales than this (short side) are skipped: VGG sees almost nothing there


@dataclass(frozen=True)
class Scale:
    """One coarse-to-fine level: its image shape, its steps, and its tiles (None: one whole image)."""

    shape: tuple[int, int]
    steps: int
    tiles: tuple[Tile, ...] | None

    @property
    def count(self) -> int:
        """Progress steps this scale yields: its steps for every tile."""
        return self.steps * (len(self.tiles) if self.tiles else 1)


# An optimiser step costs about one forward and backward pass (L-BFGS: one evaluation); with the sliced style
# loss 1.2 (bench_sw_step.py: 1.18-1.19 × a Gram step at 512 px, bf16)
STEP_PASSES = {"gram": 1.0, "sw": 1.2}


@dataclass(frozen=True)
class Plan:
    """One 2D run: the output's (Y, X) ``shape`` and its ``scales``, coarsest first; a step costs
    ``step_passes`` network passes (:data:`STEP_PASSES` of the style loss)."""

    shape: tuple[int, int]
    scales: tuple[Scale, ...]
    step_passes: float = 1.0

    @classmethod
    def make(cls, params: StyleParams, content_hw: tuple[int, int]) -> Plan:
        """The plan for content of (Y, X) ``content_hw``; ValueError when ``size`` makes it too small."""
        h, w = content_hw[:2]
        k = params.size / max(h, w)
        shape = (max(1, round(h * k)), max(1, round(w * k)))
        if min(shape) < MIN_SIDE:
            raise ValueError(f"size {params.size} makes a {shape[0]}×{shape[1]} output from this {h}×{w} "
                             f"content; its short side needs at least {MIN_SIDE} pixels: raise size")
        scales, carry = [], 0
        fractions = params.schedule
        for i, (frac, steps) in enumerate(fractions):
            at = (max(1, round(shape[0] * frac)), max(1, round(shape[1] * frac)))
            if i < len(fractions) - 1 and min(at) < MIN_COARSE_SIDE:  # too small: hand its steps on
                carry += steps
                continue
            tiles = grid(at, params.tile_size, params.tile_overlap)
            scales.append(Scale(at, steps + carry, tuple(tiles) if tiles else None))
            carry = 0
        return cls(shape, tuple(scales), STEP_PASSES[params.style_loss])

    @property
    def total(self) -> int:
        """Progress steps the run yields."""
        return sum(s.count for s in self.scales)


@dataclass(frozen=True)
class StackPlan:
    """A stack: the first slice's plan, and that of every later slice (chained slices run shorter)."""

    lead_shape: tuple[int, ...]
    first: Plan
    later: Plan

    @property
    def slices(self) -> int:
        return math.prod(self.lead_shape)

    @property
    def total(self) -> int:
        return self.first.total + (self.slices - 1) * self.later.total


def later_params(params: StyleParams) -> StyleParams:
    """The parameters of a stack's slices after the first: chained (``stack_init`` "flow" or "previous"),
    each starts from the previous slice's result at the finest scale only, with ``stack_steps`` of the steps."""
    if params.stack_init == "independent":
        return params
    return replace(params, scales=1, steps=max(1, round(params.steps * params.stack_steps)), init="image",
                   scale_steps=None)


def output_shape(params: StyleParams, plane_shape: tuple[int, ...], rgb: bool) -> tuple[int, ...]:
    """The shape of one output slice for a content slice of ``plane_shape``: (Y', X') gray when colour is
    preserved on gray content, (Y', X', 4) when the content has alpha, else (Y', X', 3)."""
    hw = Plan.make(params, tuple(plane_shape[:2])).shape
    gray = not rgb or plane_shape[-1] == 1
    if gray and params.preserve_color != "none":
        return hw
    return hw + (4 if rgb and plane_shape[-1] == 4 else 3,)


def make_plan(params: StyleParams, content_shape: tuple[int, ...], rgb: bool | None = None) -> Plan | StackPlan:
    """The plan of ``params`` on content of ``content_shape`` (read as :func:`.images.layout` does)."""
    lead, channels = layout(tuple(content_shape), rgb)
    if not lead:
        return Plan.make(params, tuple(content_shape[:2]))
    lead_shape, plane_hw = tuple(content_shape[:lead]), tuple(content_shape[lead:lead + 2])
    return StackPlan(lead_shape, Plan.make(params, plane_hw), Plan.make(later_params(params), plane_hw))
