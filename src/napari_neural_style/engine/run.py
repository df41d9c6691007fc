"""The optimisation loop of one 2D run: per scale (and tile), build the objective, step the optimiser,
yield :class:`.Progress`. Everything it optimises against comes from :mod:`.objective`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from . import memory
from .graphs import GraphedForward
from .inputs import Inputs
from .lbfgs import CompactLBFGS
from .network import Extractor, resolve_device, use_bf16
from .objective import ImageTerms, Objective, content_targets, guides, region_masks, style_targets
from .output import render
from .params import StyleParams
from .plan import Plan, Scale
from .progress import Progress
from .tensors import resize, to_numpy, to_tensor
from .threads import ThreadTuner

FIRST_MOVE = 1.0  # the very first L-BFGS step moves pixels by one grey level (0-255) on average
Preview = Callable[[], torch.Tensor]  # the current image (1, 3, H, W) in [0, 1], made only when shown


class Run:
    """One 2D run of ``plan``; ``steps()`` drives it, and ``result`` holds the final network-side RGB
    (Y, X, 3) afterwards. The memory check happens here, before the network loads. ``image_terms``
    (made per scale shape) add loss terms on the image, e.g. a stack's temporal term. ``curvature`` is
    an earlier run's (e.g. the previous slice's) last L-BFGS scale, and afterwards this run's."""

    def __init__(self, inputs: Inputs, plan: Plan, params: StyleParams, *, outputs: int = 1,
                 image_terms: ImageTerms | None = None,
                 curvature: tuple[torch.Tensor, int] | None = None) -> None:
        self.inputs, self.plan, self.p = inputs, plan, params
        rgb = inputs.content.rgb
        self.device, bf16 = check_memory(plan, params, regions=len(inputs.regions), outputs=outputs,
                                         channels=4 if inputs.content.alpha is not None else 3,
                                         content_pixels=rgb.shape[0] * rgb.shape[1])
        layers = params.style_layers + params.content_layers
        self.net = Extractor(layers, params.weights, self.device, params.pooling, bf16)
        self._graphed = GraphedForward(self.net, layers, enabled=self.device.type == "cuda")
        self._image_terms = image_terms or (lambda shape, window: {})
        self.result: np.ndarray | None = None
        self._threads = ThreadTuner(enabled=self.device.type == "cpu")  # off the CPU the count does not matter
        self.curvature = curvature  # the last L-BFGS's (gamma, element count): the next one's first step

    def _tensor(self, rgb: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
        return to_tensor(rgb, shape, self.device)

    def steps(self) -> Iterator[Progress]:
        try:
            yield from self._steps()
        finally:
            self._threads.restore()

    def _steps(self) -> Iterator[Progress]:
        generator = torch.Generator().manual_seed(self.p.seed)
        self._start, self._step, self._work, self._stepping = time.perf_counter(), 0, 0, 0.0
        image = None
        for i, scale in enumerate(self.plan.scales):
            image = self._initial(scale.shape, generator) if image is None else self._upsample(image, scale.shape)
            style_t = style_targets(self.net, self.inputs.net_styles, self.inputs.blend, self.inputs.regions,
                                    max(scale.shape), self.p)
            if scale.tiles is None:
                image = yield from self._whole(image, style_t, scale, i)
            else:
                image = yield from self._tiled(image, style_t, scale, i)
        self.result = to_numpy(image)

    def _objective(self, style_t: dict, content: torch.Tensor, masks: dict[int, torch.Tensor],
                   shape: tuple[int, int], window: tuple[slice, slice] | None = None) -> Objective:
        content_t, feature_shapes = content_targets(self.net, content, self.p)
        return Objective(self.p, style_t, content_t, guides(masks, feature_shapes),
                         self._image_terms(shape, window))

    def _masks(self, shape: tuple[int, int]) -> dict[int, torch.Tensor]:
        return region_masks(self.inputs.labels, self.inputs.regions, shape, self.device)

    def _whole(self, image: torch.Tensor, style_t: dict, scale: Scale, index: int) -> Iterator[Progress]:
        """Optimise the whole image at this scale; returns the result (1, 3, H, W) in [0, 1]."""
        objective = self._objective(style_t, self._tensor(self.inputs.net_content, scale.shape),
                                    self._masks(scale.shape), scale.shape)
        x = image
        for i, (losses, x, seconds) in enumerate(self._optimize(image, objective, scale.steps)):
            # the preview reads x as it is when called: the same tensor, optimised in place, every step
            yield self._progress(losses, seconds, index, scale, i == scale.steps - 1, scale.shape,
                                 lambda: x.detach() / 255.0)  # noqa: B023
        return (x.detach() / 255.0).clamp(0.0, 1.0)

    def _tiled(self, image: torch.Tensor, style_t: dict, scale: Scale, index: int) -> Iterator[Progress]:
        """Optimise tile by tile against the global style targets, each tile starting from what is assembled
        so far (finished neighbours in the overlaps, else ``image``); blend with feathered weights."""
        content = self._tensor(self.inputs.net_content, scale.shape)
        masks = self._masks(scale.shape)
        acc = torch.zeros_like(image)
        weights = torch.zeros((1, 1) + scale.shape, device=image.device)
        for t, tile in enumerate(scale.tiles, 1):
            ys, xs = tile.slices
            objective = self._objective(style_t, content[..., ys, xs].contiguous(),
                                        {k: m[..., ys, xs] for k, m in masks.items()}, scale.shape, tile.slices)
            w = torch.from_numpy(tile.weight()).to(image.device)[None, None]
            start = _assembled(acc, weights, image)[..., ys, xs]
            x = start

            def preview() -> torch.Tensor:
                """The assembly with this tile's x as it is now (late binding on purpose: x is rebound by the
                loop below; the tile's ys, xs, w are read with it while its steps are being yielded)."""
                a, s = acc.clone(), weights.clone()
                a[..., ys, xs] += x.detach() / 255.0 * w  # noqa: B023
                s[..., ys, xs] += w  # noqa: B023
                return _assembled(a, s, image)

            for i, (losses, x, seconds) in enumerate(self._optimize(start, objective, scale.steps)):  # noqa: B007
                yield self._progress(losses, seconds, index, scale, i == scale.steps - 1, tile.shape, preview, t)
            acc[..., ys, xs] += (x.detach() / 255.0).clamp(0.0, 1.0) * w
            weights[..., ys, xs] += w
        return _assembled(acc, weights, image)

    def _optimize(self, image: torch.Tensor, objective: Objective, n_steps: int
                  ) -> Iterator[tuple[dict[str, float], torch.Tensor, float]]:
        """Optimise ``image`` (1, 3, H, W) in [0, 1]; after each step yield the losses, x (0-255 scale) and
        the step's seconds."""
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
            yield dict(zip(losses, values, strict=True)), x, seconds

    def _progress(self, losses: dict[str, float], seconds: float, index: int, scale: Scale, last: bool,
                  shape: tuple[int, int], preview: Preview, tile: int = 0) -> Progress:
        """The step's record. The ETA extrapolates the optimiser steps' own time per pixel: setting up
        (loading the network, targets) is not repeated, so counting it would inflate the early ETA."""
        self._step += 1
        self._work += shape[0] * shape[1]
        self._stepping += seconds
        elapsed = time.perf_counter() - self._start
        eta = self._stepping * (self.plan.work - self._work) / self._work
        every = self.p.preview_every
        show = last or (every and self._step % every == 0)

        def current() -> np.ndarray:
            return render(preview(), self.inputs, self.plan.shape)

        return Progress(self._step, self.plan.total, losses, elapsed, eta, index, len(self.plan.scales),
                        scale.shape, current() if show else None, tile=tile, tiles=len(scale.tiles) if tile else 0,
                        current=current)

    def _upsample(self, image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        """The next scale's start. From the content: the sharp content there plus the coarse result's
        changes to it, upsampled (a plain upsample would start blurred); else a plain upsample."""
        if self.p.init != "content":
            return resize(image, shape)
        change = image - self._tensor(self.inputs.net_content, tuple(image.shape[-2:]))
        return (self._tensor(self.inputs.net_content, shape) + resize(change, shape)).clamp(0.0, 1.0)

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
                            first_move=FIRST_MOVE)


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
