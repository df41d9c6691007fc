"""The style-transfer loop: one generator that the widget, the console API and the CLI all use."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from . import color, memory, stack, tiles
from .graphs import GraphedForward
from .images import MIN_SIDE, Plane, from_plane, to_plane
from .lbfgs import CompactLBFGS
from .losses import content_loss, gram, style_loss, tv_loss
from .network import Features, bf16_supported, load_network, resolve_device
from .params import StyleParams

HISTORY_BYTES = 1 << 29  # L-BFGS keeps at most this much history (2 vectors of the image's size a step)
MIN_COARSE_SIDE = 32  # coarser scales than this (short side) are skipped: VGG sees almost nothing there
TILE_SIDES = (1024, 768, 512, 384, 256)  # tile sizes suggested when a run would not fit in memory

Guides = list[tuple[int, float, dict[str, torch.Tensor]]]  # (style key, region weight, guide per layer)


@dataclass
class Progress:
    """One optimiser step. ``image`` (float32, the output's shape, values in [0, 1]) is set every
    ``preview_every`` steps, at the end of each scale (and tile) and on the last step; otherwise None.

    Stacks: ``index`` is the slice's position along the leading axes and ``slices`` their count; ``step``
    and ``total`` count over the whole stack, ``image`` is the current slice, and ``stack`` (the nD result,
    filled slice by slice, later slices still 0) is set when a slice is finished: on the last step it is
    the whole result. It is one array, updated in place by later slices: copy it to keep a snapshot.
    Tiled scales: ``tile`` (1-based) of ``tiles``; both 0 when the scale is one whole image.
    """

    step: int
    total: int
    losses: dict[str, float]
    elapsed: float
    eta: float
    scale: int
    scales: int
    shape: tuple[int, int]
    image: np.ndarray | None = field(default=None, repr=False)
    index: tuple[int, ...] = ()
    slices: int = 1
    stack: np.ndarray | None = field(default=None, repr=False)
    tile: int = 0
    tiles: int = 0

    @property
    def done(self) -> bool:
        return self.step == self.total


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
    return last.stack if last.stack is not None else last.image


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
    lead, channels = stack.layout(np.shape(content), rgb)
    if lead:
        yield from stack.stack_steps(_Run, np.asarray(content), style, params, lead=lead, rgb=channels,
                                     init_image=init_image, labels=labels)
        return
    run = _Run(content, style, params, init_image, labels)
    yield from run.steps()


class _Run:
    """State of one 2D run; `steps()` drives it. ``result`` holds the final network-side RGB afterwards."""

    def __init__(self, content, style, params: StyleParams, init_image=None, labels=None, *,
                 init_rgb: np.ndarray | None = None, outputs: int = 1) -> None:
        self.p = params
        self.content = to_plane(content, "content", params.intensity, params.percentiles, params.contrast_limits)
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        if not styles:
            raise ValueError("no style image given")
        self.styles = [to_plane(s, f"style {i + 1}" if len(styles) > 1 else "style", params.intensity,
                                params.percentiles) for i, s in enumerate(styles)]
        self._read_labels(labels)
        blend = params.style_blend or (1.0,) * len(self.styles)
        if len(blend) != len(self.styles):
            raise ValueError(f"style_blend has {len(blend)} weights for {len(self.styles)} style images")
        self.blend = [b / sum(blend) for b in blend]
        self.init = init_rgb
        if params.init == "image" and init_rgb is None:
            if init_image is None:
                raise ValueError("init='image' needs an init_image")
            self.init = to_plane(init_image, "init", params.intensity, params.percentiles).rgb
        self._plan(self.content.rgb.shape[:2])
        self.device = resolve_device(params.device)
        self.bf16 = params.precision == "bf16" or (params.precision == "auto" and bf16_supported(self.device))
        self._check_memory(outputs)
        vgg, self.norm = load_network(params.weights, self.device)
        self.features = Features(vgg, params.style_layers + params.content_layers, params.pooling)
        self.channels_last = self.device.type != "mps"
        if self.channels_last:
            self.features = self.features.to(memory_format=torch.channels_last)
        lw = params.style_layer_weights or (1.0 / len(params.style_layers),) * len(params.style_layers)
        self.layer_weights = dict(zip(params.style_layers, lw))
        self._graphed = GraphedForward(self._forward, params.style_layers + params.content_layers,
                                       enabled=self.device.type == "cuda")
        self._prepare_colour()
        self.result: np.ndarray | None = None

    @classmethod
    def count(cls, params: StyleParams, content_shape: tuple[int, ...]) -> int:
        """How many Progress steps a run of ``params`` on content of ``content_shape`` (Y, X, ...) yields."""
        plan = cls.__new__(cls)
        plan.p = params
        plan._plan(content_shape[:2])
        return plan.total

    def _plan(self, content_hw: tuple[int, int]) -> None:
        """Output shape, per-scale schedule, tile grids and the total number of steps."""
        h, w = content_hw
        k = self.p.size / max(h, w)
        self.shape = (max(1, round(h * k)), max(1, round(w * k)))
        if min(self.shape) < MIN_SIDE:
            raise ValueError(f"size {self.p.size} makes a {self.shape[0]}×{self.shape[1]} output from this "
                             f"{h}×{w} content; its short side needs at least {MIN_SIDE} pixels: raise size")
        self.schedule = self._schedule()
        self.grids = [tiles.grid(shape, self.p.tile_size, self.p.tile_overlap) for shape, _ in self.schedule]
        self.total = sum(n * (len(g) if g else 1) for (_, n), g in zip(self.schedule, self.grids))

    # -- inputs -----------------------------------------------------------------------------------------
    def _read_labels(self, labels) -> None:
        """Validate ``labels`` against the content and the styles; label k > 0 present → region k."""
        self.labels, self.regions = None, []
        if labels is None:
            return
        lab = np.asarray(labels)
        n, hw = len(self.styles), self.content.rgb.shape[:2]
        if lab.shape != hw:
            raise ValueError(f"labels have shape {lab.shape} but the content is {hw[0]}×{hw[1]}: they must "
                             f"match its Y, X size")
        if not (np.issubdtype(lab.dtype, np.integer) or lab.dtype == bool):
            raise ValueError(f"labels must be integers (a napari Labels layer), got dtype {lab.dtype}")
        ids = np.unique(lab)
        missing = [int(k) for k in ids if k < 0 or k > n]
        if missing:
            raise ValueError(f"labels {missing} have no style image: label k uses style image k and "
                             f"{n} {'is' if n == 1 else 'are'} given (label 0 keeps the content)")
        if self.p.style_blend is not None:
            raise ValueError("style_blend mixes the styles everywhere; with labels each label has its own "
                             "style: leave style_blend unset")
        self.labels, self.regions = lab, [int(k) for k in ids if k > 0]

    def _prepare_colour(self) -> None:
        """Network-side content and styles, per the colour-preservation mode."""
        c = self.content.rgb
        mode = self.p.preserve_color
        if mode == "luminance" or (mode != "none" and self.content.gray):
            cy = color.luminance(c)
            self.net_content = color.gray3(cy)
            self.net_styles = [color.gray3(color.match_luminance(color.luminance(s.rgb), cy)) for s in self.styles]
            self.luminance_only = True
        elif mode == "histogram":
            self.net_content = c
            self.net_styles = [color.match_histogram(s.rgb, c) for s in self.styles]
            self.luminance_only = False
        else:
            self.net_content, self.net_styles, self.luminance_only = c, [s.rgb for s in self.styles], False

    def _schedule(self) -> list[tuple[tuple[int, int], int]]:
        """(shape, steps) per scale; too-small coarse scales hand their steps to the next one."""
        out: list[tuple[tuple[int, int], int]] = []
        carry = 0
        plan = self.p.schedule
        for i, (frac, steps) in enumerate(plan):
            shape = (max(1, round(self.shape[0] * frac)), max(1, round(self.shape[1] * frac)))
            if i < len(plan) - 1 and min(shape) < MIN_COARSE_SIDE:
                carry += steps
                continue
            out.append((shape, steps + carry))
            carry = 0
        return out

    def _check_memory(self, outputs: int) -> None:
        """Refuse (ValueError) before allocating when the estimate exceeds the free memory."""
        def advice() -> str:  # only worked out when the run is refused
            text = f"lower size (now {self.p.size})"
            free = memory.HEADROOM * memory.host_available_bytes()
            fits = [t for t in TILE_SIDES if t < max(self.shape) and (not self.p.tile_size or t < self.p.tile_size)
                    and sum(self._estimate(t, outputs)) < free]
            if fits:
                text += f", set tile_size={fits[0]} to work in tiles of that side"
            return text + ", use fewer or shallower style layers, or close other programs"

        memory.check(*self._estimate(self.p.tile_size, outputs), self.device, advice)

    def _estimate(self, tile_size: int, outputs: int) -> tuple[int, int]:
        """(device bytes, host bytes) of the whole run with tiles of ``tile_size`` (0: none)."""
        p = self.p
        layers = p.style_layers + p.content_layers
        work = [(min(shape[0], tile_size), min(shape[1], tile_size)) if tile_size else shape
                for shape, _ in self.schedule]
        pixels = max(h * w for h, w in work)
        history = min(HISTORY_BYTES, 100 * 8 * 3 * pixels) if p.optimizer == "lbfgs" else 8 * 3 * pixels
        itemsize = 2 if self.bf16 else 4
        opt = max(memory.optimisation_bytes(s, layers, history, itemsize) for s in work)
        side = int(max(self.shape) * p.style_scale)
        style_side = min(side, tile_size + 2 * tiles.GRAM_MARGIN) if tile_size else side
        need = memory.BASELINE + max(opt, memory.forward_bytes((style_side, style_side), itemsize))
        h, w = self.shape
        channels = 4 if self.content.alpha is not None else 3
        host = 4 * h * w * (3 * 8 + 2 + len(self.regions)) + 4 * h * w * channels * max(0, outputs - 1)
        return need, host

    def _tensor(self, rgb: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device).permute(2, 0, 1)[None]
        return resize(t, shape)

    def _style_targets(self, shape: tuple[int, int]) -> dict[int, dict[str, torch.Tensor]]:
        """Style Gram targets for a scale: key 0 the blend of all styles, or key k per labelled region."""
        layers = self.p.style_layers
        side = max(shape) * self.p.style_scale

        def grams(style: np.ndarray) -> dict[str, torch.Tensor]:
            h, w = style.shape[:2]
            k = side / max(h, w)
            s_shape = (max(MIN_SIDE, round(h * k)), max(MIN_SIDE, round(w * k)))
            image = self._tensor(style, s_shape)
            if self.p.tile_size and max(s_shape) > self.p.tile_size:
                return tiles.tiled_gram(self._forward, image, layers, self.p.tile_size)
            feats = self._forward(image, layers)
            return {layer: gram(feats[layer]) for layer in layers}

        if self.labels is not None:
            return {k: grams(self.net_styles[k - 1]) for k in self.regions}
        targets: dict[str, torch.Tensor] = {}
        for weight, style in zip(self.blend, self.net_styles):
            for layer, g in grams(style).items():
                targets[layer] = targets.get(layer, 0) + weight * g
        return {0: {k: v.clone() for k, v in targets.items()}}

    def _content_targets(self, rgb: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, tuple[int, int]]]:
        """Content features of ``rgb``, and the (H, W) of every style layer's features at its size."""
        feats = self._forward(rgb)
        return ({k: feats[k].float().clone() for k in self.p.content_layers},
                {k: tuple(feats[k].shape[-2:]) for k in self.p.style_layers})

    def _masks(self, shape: tuple[int, int]) -> dict[int, torch.Tensor]:
        """One (1, 1, H, W) 0/1 mask per labelled region at ``shape`` (nearest-neighbour resize)."""
        if self.labels is None:
            return {}
        lab = torch.from_numpy(self.labels.astype(np.float32))[None, None]
        lab = F.interpolate(lab, size=shape, mode="nearest").to(self.device)
        return {k: (lab == k).float() for k in self.regions}

    def _guides(self, masks: dict[int, torch.Tensor], feature_shapes: dict[str, tuple[int, int]]) -> Guides | None:
        """Per region: its share of the styled area and its mask averaged down to each style layer."""
        if self.labels is None:
            return None
        mass = {k: float(m.sum()) for k, m in masks.items()}
        styled = sum(mass.values())
        return [(k, mass[k] / styled, {layer: F.interpolate(m, size=hw, mode="area")
                                       for layer, hw in feature_shapes.items()})
                for k, m in masks.items() if mass[k] > 0]

    # -- network ----------------------------------------------------------------------------------------
    def _forward(self, rgb: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        x = self.norm(rgb)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=False):
            out = self.features(x)
        return out if layers is None else {k: out[k] for k in layers}

    # -- loop -------------------------------------------------------------------------------------------
    def steps(self) -> Iterator[Progress]:
        generator = torch.Generator().manual_seed(self.p.seed)
        self._start, self._step, self._work = time.perf_counter(), 0, 0
        self._work_total = sum(n * sum(t.shape[0] * t.shape[1] for t in g) if g else n * shape[0] * shape[1]
                               for (shape, n), g in zip(self.schedule, self.grids))
        image = None
        for scale, ((shape, n_steps), grid) in enumerate(zip(self.schedule, self.grids)):
            image = self._initial(shape, generator) if image is None else self._upsample(image, shape)
            with torch.inference_mode():
                style_t = self._style_targets(shape)
            if grid is None:
                image = yield from self._whole(image, style_t, n_steps, scale)
            else:
                image = yield from self._tiled(image, style_t, n_steps, scale, grid)
        self.result = image[0].permute(1, 2, 0).float().cpu().numpy()

    def _upsample(self, image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        """The next scale's start. From the content: the sharp content there plus the coarse result's
        changes to it, upsampled (a plain upsample would start blurred); else a plain upsample."""
        if self.p.init != "content":
            return resize(image, shape)
        change = image - self._tensor(self.net_content, tuple(image.shape[-2:]))
        return (self._tensor(self.net_content, shape) + resize(change, shape)).clamp(0.0, 1.0)

    def _whole(self, image: torch.Tensor, style_t: dict, n_steps: int, scale: int
               ) -> Iterator[Progress]:
        """Optimise the whole image at this scale; returns the result (1, 3, H, W) in [0, 1]."""
        shape = tuple(image.shape[-2:])
        with torch.inference_mode():
            content_t, feature_shapes = self._content_targets(self._tensor(self.net_content, shape))
        guides = self._guides(self._masks(shape), feature_shapes)
        x = image
        for i, (losses, x) in enumerate(self._optimize(image, style_t, content_t, guides, n_steps)):
            yield self._progress(losses, scale, shape, i == n_steps - 1, shape[0] * shape[1],
                                 lambda: x.detach() / 255.0)
        return (x.detach() / 255.0).clamp(0.0, 1.0)

    def _tiled(self, image: torch.Tensor, style_t: dict, n_steps: int, scale: int, grid: list[tiles.Tile]
               ) -> Iterator[Progress]:
        """Optimise tile by tile against the global style targets, each tile starting from what is assembled
        so far (finished neighbours in the overlaps, else ``image``); blend with feathered weights."""
        shape = tuple(image.shape[-2:])
        content = self._tensor(self.net_content, shape)
        masks = self._masks(shape)
        acc = torch.zeros_like(image)
        weights = torch.zeros((1, 1) + shape, device=image.device)
        for t, tile in enumerate(grid, 1):
            ys, xs = tile.slices
            with torch.inference_mode():
                content_t, feature_shapes = self._content_targets(content[..., ys, xs].contiguous())
            guides = self._guides({k: m[..., ys, xs] for k, m in masks.items()}, feature_shapes)
            w = torch.from_numpy(tile.weight()).to(image.device)[None, None]
            start = _assembled(acc, weights, image)[..., ys, xs]
            x = start

            def preview() -> torch.Tensor:
                a, s = acc.clone(), weights.clone()
                a[..., ys, xs] += x.detach() / 255.0 * w
                s[..., ys, xs] += w
                return _assembled(a, s, image)

            for i, (losses, x) in enumerate(self._optimize(start, style_t, content_t, guides, n_steps)):
                yield self._progress(losses, scale, shape, i == n_steps - 1, tile.shape[0] * tile.shape[1],
                                     preview, t, len(grid))
            acc[..., ys, xs] += (x.detach() / 255.0).clamp(0.0, 1.0) * w
            weights[..., ys, xs] += w
        return _assembled(acc, weights, image)

    def _optimize(self, image: torch.Tensor, style_t: dict[int, dict[str, torch.Tensor]],
                  content_t: dict[str, torch.Tensor], guides: Guides | None, n_steps: int
                  ) -> Iterator[tuple[dict[str, float], torch.Tensor]]:
        """Optimise ``image`` (1, 3, H, W) in [0, 1]; after each step yield the losses and x (0-255 scale)."""
        p = self.p
        x = (image * 255.0).detach().contiguous().requires_grad_(True)  # L-BFGS views the gradient flat
        optimizer = self._optimizer(x)
        losses: dict[str, torch.Tensor] = {}

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            rgb = x / 255.0
            feats = self._graphed(rgb)
            if guides is None:
                style = style_loss({k: gram(feats[k]) for k in p.style_layers}, style_t[0], self.layer_weights)
            else:
                style = sum((share * style_loss({k: gram(feats[k], g[k]) for k in p.style_layers}, style_t[key],
                                                self.layer_weights) for key, share, g in guides),
                            torch.zeros((), device=x.device))
            terms = {"style": p.style_weight * style}
            if p.content_weight:
                terms["content"] = p.content_weight * content_loss(
                    {k: feats[k] for k in p.content_layers}, content_t)
            if p.tv_weight:
                terms["tv"] = p.tv_weight * tv_loss(rgb)
            loss = sum(terms.values())
            loss.backward()
            losses.update({k: v.detach() for k, v in terms.items()}, total=loss.detach())
            return loss

        for _ in range(n_steps):
            optimizer.step(closure)
            if p.optimizer == "adam":
                with torch.no_grad():
                    x.clamp_(0.0, 255.0)
            yield dict(zip(losses, torch.stack(list(losses.values())).tolist())), x  # one host sync

    def _progress(self, losses: dict[str, float], scale: int, shape: tuple[int, int], last: bool, work: int,
                  preview: Callable[[], torch.Tensor], tile: int = 0, n_tiles: int = 0) -> Progress:
        self._step += 1
        self._work += work
        elapsed = time.perf_counter() - self._start
        eta = elapsed * (self._work_total - self._work) / self._work
        every = self.p.preview_every
        image = self._output(preview()) if last or (every and self._step % every == 0) else None
        return Progress(self._step, self.total, losses, elapsed, eta, scale, len(self.schedule), shape, image,
                        tile=tile, tiles=n_tiles)

    def _initial(self, shape: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
        if self.p.init == "noise" and self.init is None:
            noise = torch.rand((1, 3) + shape, generator=generator)
            return (0.5 + 0.25 * (noise - 0.5)).to(self.device)
        return self._tensor(self.init if self.init is not None else self.net_content, shape)

    def _optimizer(self, x: torch.Tensor) -> torch.optim.Optimizer | CompactLBFGS:
        if self.p.optimizer == "adam":
            return torch.optim.Adam([x], lr=self.p.learning_rate)
        history = int(max(5, min(100, HISTORY_BYTES // (8 * x.numel()))))
        if x.device.type != "cpu":  # same iterates, without a host sync per history pair
            return CompactLBFGS(x, history_size=history)
        return torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=history, tolerance_grad=0.0,
                                   tolerance_change=0.0)

    def _output(self, rgb: torch.Tensor) -> np.ndarray:
        """The current image at the output's full size, in the output's layout; label 0 keeps the content."""
        full = resize(rgb.clamp(0.0, 1.0), self.shape)[0].permute(1, 2, 0).float().cpu().numpy()
        if self.labels is not None and not self.labels.all():
            keep = F.interpolate(torch.from_numpy((self.labels == 0).astype(np.float32))[None, None],
                                 size=self.shape, mode="nearest")[0, 0].numpy() > 0
            content = self._tensor(self.net_content, self.shape)[0].permute(1, 2, 0).cpu().numpy()
            full[keep] = content[keep]
        like = self.content
        if like.alpha is not None:
            alpha = resize(torch.from_numpy(like.alpha)[None, None], self.shape)[0, 0].numpy()
            like = Plane(like.rgb, alpha, like.gray)
        if self.luminance_only:
            y = full.mean(axis=-1)
            if like.gray:
                return from_plane(color.gray3(y), like, gray_out=True)
            chroma = resize(torch.from_numpy(self.content.rgb).permute(2, 0, 1)[None], self.shape)
            full = color.with_chroma(y, chroma[0].permute(1, 2, 0).numpy())
        return from_plane(full, like)


def _assembled(acc: torch.Tensor, weights: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """Blended tiles where any has landed (weighted mean), ``base`` elsewhere."""
    return torch.where(weights > 0, acc / weights.clamp_min(1e-12), base)


def resize(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W), antialiased when shrinking; a no-op at the same size."""
    if tuple(image.shape[-2:]) == tuple(shape):
        return image
    shrink = shape[0] < image.shape[-2] or shape[1] < image.shape[-1]
    return F.interpolate(image, size=shape, mode="bilinear", align_corners=False, antialias=shrink)
