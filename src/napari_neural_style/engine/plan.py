"""The plan of a run, worked out from the parameters and the content's shape alone (no torch, picklable):
output shape, per-scale schedule, tile grids, and step and work totals, for one image or a stack."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .images import MIN_SIDE, layout
from .params import StyleParams
from .tiles import Tile, grid

MIN_COARSE_SIDE = 32  # coarser scales than this (short side) are skipped: VGG sees almost nothing there
# An optimiser step costs about one forward and backward pass (L-BFGS: one evaluation); with the sliced style
# loss 1.2 (bench_sw_step.py: 1.18-1.19 × a Gram step at 512 px, bf16)
STEP_PASSES = {"gram": 1.0, "sw": 1.2}
SETUP_PASSES = 1.0  # each scale (tile) first takes the style and content targets: two forward passes
# A run's fixed cost (reading inputs, the first step's allocations, trying both thread counts), in passes at
# 256²: 3-6 s measured on a 2-core CPU, where a pass at 256² took 0.6 s
RUN_PASSES, RUN_PASS_PIXELS = 4.0, 256 * 256


@dataclass(frozen=True)
class PassCost:
    """Seconds of one forward and backward pass of the network on this machine: ``overhead`` +
    ``per_pixel`` × pixels (measured by :func:`.timing.calibrate`; small images cost more per pixel)."""

    overhead: float
    per_pixel: float

    @classmethod
    def fit(cls, timings: list[tuple[int, float]]) -> PassCost:
        """The line through (pixels, seconds) of two timed passes; when noise would make a term negative,
        the larger pass's seconds per pixel alone."""
        (p0, t0), (p1, t1) = sorted(timings)
        per_pixel = (t1 - t0) / (p1 - p0)
        overhead = t1 - per_pixel * p1
        return cls(overhead, per_pixel) if per_pixel > 0 and overhead >= 0 else cls(0.0, t1 / p1)

    def seconds(self, pixels: int) -> float:
        return self.overhead + self.per_pixel * pixels


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

    @property
    def work(self) -> int:
        """Pixels optimised over all its steps (what the ETA counts)."""
        return self.steps * sum(self._pieces)

    @property
    def _pieces(self) -> list[int]:
        """Pixels of each image optimised on its own: the tiles, or the whole."""
        return [t.shape[0] * t.shape[1] for t in self.tiles] if self.tiles else [self.shape[0] * self.shape[1]]

    def seconds(self, cost: PassCost, step_passes: float = 1.0) -> float:
        """Its time at ``cost``: its steps (each ``step_passes`` passes) and its targets for each tile (or the
        whole)."""
        return sum((self.steps * step_passes + SETUP_PASSES) * cost.seconds(p) for p in self._pieces)


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

    @property
    def work(self) -> int:
        return sum(s.work for s in self.scales)

    def seconds(self, cost: PassCost, setup: bool = True) -> float:
        """How long this run takes at ``cost`` (an estimate): its scales' steps and targets, and with
        ``setup`` the run's fixed cost."""
        return (sum(s.seconds(cost, self.step_passes) for s in self.scales)
                + setup * RUN_PASSES * cost.seconds(RUN_PASS_PIXELS))


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

    def seconds(self, cost: PassCost) -> float:
        return self.first.seconds(cost) + (self.slices - 1) * self.later.seconds(cost, setup=False)


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
