"""The optimisation loop of one 2D run: per scale (and tile), build the objective, step the optimiser,
yield :class:`.Progress`. Everything it optimises against comes from :mod:`.objective`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from . import memory
from .cancel import Cancel, Stopped, check
from .graphs import GraphedForward
from .inputs import Inputs
from .lbfgs import CompactLBFGS
from .network import Extractor, load_or_stop, resolve_device, use_bf16
from .objective import ImageTerms, Objective, content_targets, guides, region_masks, style_targets
from .output import render
from .params import StyleParams
from .plan import Plan, Scale, StackPlan
from .progress import LOADING, STOPPED, Progress
from .tensors import resize, to_numpy, to_tensor
from .threads import ThreadTuner
from .timing import Clock, clock

FIRST_MOVE = 1.0  # the very first L-BFGS step moves pixels by one grey level (0-255) on average
# a first step from an earlier run's curvature moves them by at most this much on average. Default runs moved
# them by 1.9-4.3 grey levels at 512 px and 2.7-10 at 256 (three pairs); a chained slice's guess from a 4-step
# run moved them by 94 and threw 8-25 % of the pixels to black
MAX_CARRIED_MOVE = 8.0
Preview = Callable[[], torch.Tensor]  # the current image (1, 3, H, W) in [0, 1], made only when shown


class Run:
    """One 2D run of ``plan``; ``steps()`` drives it, and ``result`` holds the final network-side RGB
    (Y, X, 3) afterwards. The memory check happens here, before the network loads. ``image_terms``
    (made per scale shape) add loss terms on the image, e.g. a stack's temporal term. ``curvature`` is
    an earlier run's (e.g. the previous slice's) last L-BFGS scale, and afterwards this run's. ``clock``
    gives the ETA (a stack's, shared by its slices; by default one of this run's own).

    Besides a record per step, ``steps()`` yields a stage record (``Progress.stage``) before each long
    piece of work that is not a step: loading the network, style targets (per style and tile), content
    targets (per tile). Once ``cancel`` is set the run ends within one network layer's time, with a last
    record whose stage is :data:`.progress.STOPPED` and whose image is the current one (none before the
    first step); ``stopped`` is then True."""

    def __init__(self, inputs: Inputs, plan: Plan, params: StyleParams, *, outputs: int = 1,
                 image_terms: ImageTerms | None = None, curvature: tuple[torch.Tensor, int] | None = None,
                 cancel: Cancel = None, clock: Clock | None = None) -> None:
        self.inputs, self.plan, self.p, self.cancel = inputs, plan, params, cancel
        rgb = inputs.content.rgb
        self.device, self._bf16 = check_memory(plan, params, regions=len(inputs.regions), outputs=outputs,
                                               channels=4 if inputs.content.alpha is not None else 3,
                                               content_pixels=rgb.shape[0] * rgb.shape[1])
        self._image_terms = image_terms or (lambda shape, window: {})
        self.result: np.ndarray | None = None
        self.stopped = False
        self._threads = ThreadTuner(enabled=self.device.type == "cpu", threads=params.threads)
        self.curvature = curvature  # the last L-BFGS's (gamma, element count): the next one's first step
        self._now: Preview | None = None  # the current image, whatever the run is doing
        self.clock = clock or run_clock(plan, params, inputs, str(self.device), self._bf16)

    def _tensor(self, rgb: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
        return to_tensor(rgb, shape, self.device)

    def steps(self) -> Iterator[Progress]:
        self._start, self._step = time.perf_counter(), 0
        try:
            yield from self._steps()
        except Stopped:
            self.stopped = True
            yield self._stage(STOPPED, len(self.plan.scales) - 1, self.plan.scales[-1], stopped=True)
        finally:
            self._threads.restore()

    def _stage(self, text: str, index: int, scale: Scale, tile: int = 0, stopped: bool = False) -> Progress:
        """A record of no step, saying what comes next; raises :class:`.cancel.Stopped` once the run is
        cancelled. A stopped run's last record (``stopped``) has the current image once a step has painted it:
        before that, rendering the start at full size (8192 px: 2.4 s) would only delay the stop."""
        if not stopped:
            check(self.cancel)
        show = stopped and self._step > 0
        now = self._now
        current = None if now is None else (lambda: render(now(), self.inputs, self.plan.shape))
        return Progress(self._step, self.plan.total, {}, time.perf_counter() - self._start, self.clock.eta(), index,
                        len(self.plan.scales), scale.shape, current() if show and current else None, tile=tile,
                        tiles=len(scale.tiles) if tile else 0, current=current, stage=text)

    def _pieces(self, pieces: Iterator[str], what: str, index: int, scale: Scale, tile: int = 0):
        """Run the long computation ``pieces`` (see :data:`.objective.Pieces`), a stage record before each
        piece; returns its result."""
        where = f"scale {index + 1} of {len(self.plan.scales)}" if len(self.plan.scales) > 1 else ""
        if tile:
            where = ", ".join(filter(None, (where, f"tile {tile} of {len(scale.tiles)}")))
        try:
            while True:
                detail = ", ".join(filter(None, (where, next(pieces))))
                yield self._stage(f"{what} ({detail})" if detail else what, index, scale, tile)
        except StopIteration as end:
            return end.value

    def _steps(self) -> Iterator[Progress]:
        generator = torch.Generator().manual_seed(self.p.seed)
        yield self._stage(LOADING, 0, self.plan.scales[0])
        load_or_stop(self.p.weights, self.device, self.cancel)
        layers = self.p.style_layers + self.p.content_layers
        self.net = Extractor(layers, self.p.weights, self.device, self.p.pooling, self._bf16, self.cancel)
        self._graphed = GraphedForward(self.net, layers, enabled=self.device.type == "cuda")
        self.clock.start()
        image = None
        for i, scale in enumerate(self.plan.scales):
            image = self._initial(scale.shape, generator) if image is None else self._upsample(image, scale.shape)
            self._now = lambda image=image: image
            style_t = yield from self._pieces(
                style_targets(self.net, self.inputs.net_styles, self.inputs.blend, self.inputs.regions,
                              max(scale.shape), self.p), "computing style targets", i, scale)
            if scale.tiles is None:
                image = yield from self._whole(image, style_t, scale, i)
            else:
                image = yield from self._tiled(image, style_t, scale, i)
        self.result = to_numpy(image)

    def _objective(self, style_t: dict, content: torch.Tensor, masks: dict[int, torch.Tensor], index: int,
                   scale: Scale, tile: int = 0, window: tuple[slice, slice] | None = None
                   ) -> Iterator[Progress]:
        """The objective of the whole image or a tile at this scale (a stage record first)."""
        content_t, feature_shapes = yield from self._pieces(_piece(content_targets, self.net, content, self.p),
                                                            "computing content targets", index, scale, tile)
        return Objective(self.p, style_t, content_t, guides(masks, feature_shapes),
                         self._image_terms(scale.shape, window))

    def _masks(self, shape: tuple[int, int]) -> dict[int, torch.Tensor]:
        return region_masks(self.inputs.labels, self.inputs.regions, shape, self.device)

    def _whole(self, image: torch.Tensor, style_t: dict, scale: Scale, index: int) -> Iterator[Progress]:
        """Optimise the whole image at this scale; returns the result (1, 3, H, W) in [0, 1]."""
        objective = yield from self._objective(style_t, self._tensor(self.inputs.net_content, scale.shape),
                                               self._masks(scale.shape), index, scale)
        x = image
        # the previews read x as it is when called: the same tensor, optimised in place, every step
        self._now = lambda: x.detach() / 255.0 if x is not image else image
        for i, (losses, x) in enumerate(self._optimize(image, objective, scale.steps)):  # noqa: B007
            yield self._progress(losses, index, scale, i == scale.steps - 1, lambda: x.detach() / 255.0)  # noqa: B023
        return (x.detach() / 255.0).clamp(0.0, 1.0)

    def _tiled(self, image: torch.Tensor, style_t: dict, scale: Scale, index: int) -> Iterator[Progress]:
        """Optimise tile by tile against the global style targets, each tile starting from what is assembled
        so far (finished neighbours in the overlaps, else ``image``); blend with feathered weights."""
        content = self._tensor(self.inputs.net_content, scale.shape)
        masks = self._masks(scale.shape)
        acc = torch.zeros_like(image)
        weights = torch.zeros((1, 1) + scale.shape, device=image.device)
        for t, tile in enumerate(scale.tiles, 1):
            self._now = lambda: _assembled(acc, weights, image)
            ys, xs = tile.slices
            objective = yield from self._objective(style_t, content[..., ys, xs].contiguous(),
                                                   {k: m[..., ys, xs] for k, m in masks.items()}, index, scale, t,
                                                   tile.slices)
            w = torch.from_numpy(tile.weight()).to(image.device)[None, None]
            start = _assembled(acc[..., ys, xs], weights[..., ys, xs], image[..., ys, xs])
            x = start

            def preview() -> torch.Tensor:
                """The assembly with this tile's x as it is now (late binding on purpose: x is rebound by the
                loop below; the tile's ys, xs, w are read with it while its steps are being yielded)."""
                a, s = acc.clone(), weights.clone()
                a[..., ys, xs] += x.detach() / 255.0 * w  # noqa: B023
                s[..., ys, xs] += w  # noqa: B023
                return _assembled(a, s, image)

            self._now = preview

            for i, (losses, x) in enumerate(self._optimize(start, objective, scale.steps)):  # noqa: B007
                yield self._progress(losses, index, scale, i == scale.steps - 1, preview, t)
            acc[..., ys, xs] += (x.detach() / 255.0).clamp(0.0, 1.0) * w
            weights[..., ys, xs] += w
        return _assembled(acc, weights, image)

    def _optimize(self, image: torch.Tensor, objective: Objective, n_steps: int
                  ) -> Iterator[tuple[dict[str, float], torch.Tensor]]:
        """Optimise ``image`` (1, 3, H, W) in [0, 1]; after each step yield the losses and x (0-255 scale)."""
        x = (image * 255.0).detach().contiguous().requires_grad_(True)  # L-BFGS views the gradient flat
        optimizer = self._optimizer(x)
        losses: dict[str, torch.Tensor] = {}

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            rgb = x / 255.0
            terms = objective(self._graphed(rgb), rgb)
            loss = sum(terms.values())
            loss.backward()
            losses.update({k: v.detach() for k, v in terms.items()}, total=loss.detach())
            return loss

        self._threads.reset()
        for _ in range(n_steps):
            self._threads.before_step()
            start = time.perf_counter()
            optimizer.step(closure)
            if isinstance(optimizer, CompactLBFGS):  # its curvature scale starts the next scale (no sync here)
                self.curvature = (optimizer.gamma, x.numel())
            if self.p.optimizer == "adam":
                with torch.no_grad():
                    x.clamp_(0.0, 255.0)
            values = torch.stack(list(losses.values())).tolist()  # one host sync
            seconds = time.perf_counter() - start
            self._threads.after_step(seconds)
            yield dict(zip(losses, values, strict=True)), x
            check(self.cancel)

    def _progress(self, losses: dict[str, float], index: int, scale: Scale, last: bool, preview: Preview,
                  tile: int = 0) -> Progress:
        """The step's record; its ETA from the clock (:mod:`.timing`)."""
        self._step += 1
        elapsed = time.perf_counter() - self._start
        threads = self._threads  # all cores: torch's count before the tuner (what the calibration timed)
        eta = self.clock.record(threads.current == threads.original,
                                threads.chosen == threads.original if threads.known else None)
        every = self.p.preview_every
        show = last or (every and self._step % every == 0)

        def current() -> np.ndarray:
            return render(preview(), self.inputs, self.plan.shape)

        return Progress(self._step, self.plan.total, losses, elapsed, eta, index, len(self.plan.scales),
                        scale.shape, current() if show else None, tile=tile, tiles=len(scale.tiles) if tile else 0,
                        current=current)

    def _upsample(self, image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        """The next scale's start. From the content, the palette or the tones: that start, sharp, at this scale
        plus the coarse result's changes to it, upsampled (a plain upsample would start blurred); else (noise,
        a given image) a plain upsample."""
        if self.p.init not in ("content", "palette", "tones"):
            return resize(image, shape)
        base = self.inputs.net_content if self.p.init == "content" or self.inputs.init is None else self.inputs.init
        change = image - self._tensor(base, tuple(image.shape[-2:]))
        return (self._tensor(base, shape) + resize(change, shape)).clamp(0.0, 1.0)

    def _initial(self, shape: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
        init = self.inputs.init
        if self.p.init == "noise" and init is None:
            noise = torch.rand((1, 3) + shape, generator=generator)
            return (0.5 + 0.25 * (noise - 0.5)).to(self.device)
        return self._tensor(init if init is not None else self.inputs.net_content, shape)

    def _optimizer(self, x: torch.Tensor) -> torch.optim.Optimizer | CompactLBFGS:
        if self.p.optimizer == "adam":
            return torch.optim.Adam([x], lr=self.p.learning_rate)
        # The inverse Hessian's scale grows with the pixel count (the losses are means): the previous scale's,
        # per element, makes a good first step here instead of torch's tiny one, whose pair is then dropped.
        gamma = None if self.curvature is None else float(self.curvature[0]) * x.numel() / self.curvature[1]
        return CompactLBFGS(x, history_size=memory.history_pairs(x.numel() // 3), gamma=gamma,
                            first_move=FIRST_MOVE, max_first_move=MAX_CARRIED_MOVE)


def _piece(compute: Callable[..., object], *args: object) -> Iterator[str]:
    """``compute(*args)`` as a long computation of one piece (see :func:`Run._pieces`)."""
    yield ""
    return compute(*args)


def run_clock(plan: Plan | StackPlan, params: StyleParams, inputs: Inputs, device: str, bf16: bool) -> Clock:
    """The clock of a run (or stack) of ``plan`` on ``inputs`` (its styles and labelled regions)."""
    return clock(plan, params, device, bf16, [s.shape[:2] for s in inputs.net_styles], len(inputs.regions))


def check_memory(plan: Plan, params: StyleParams, **counts: int) -> tuple[torch.device, bool]:
    """(device, bf16) of a run of ``plan``, after :func:`.memory.check` (``counts``: its keyword arguments
    but bf16): a ValueError with advice when it will not fit."""
    device = resolve_device(params.device)
    bf16 = use_bf16(params.precision, device)
    memory.check(plan, params, device, bf16=bf16, **counts)
    return device, bf16


def _assembled(acc: torch.Tensor, weights: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """Blended tiles where any has landed (weighted mean), ``base`` elsewhere."""
    return torch.where(weights > 0, acc / weights.clamp_min(1e-12), base)
