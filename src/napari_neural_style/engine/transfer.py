"""The style-transfer loop: one generator that the widget, the console API and the CLI all use."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from . import color
from .images import MIN_SIDE, Plane, from_plane, to_plane
from .losses import content_loss, gram, style_loss, tv_loss
from .network import Features, bf16_supported, load_network, resolve_device
from .params import StyleParams

HISTORY_BYTES = 1 << 30  # L-BFGS keeps at most this much history (2 vectors of the image's size a step)
MIN_COARSE_SIDE = 32  # coarser scales than this (short side) are skipped: VGG sees almost nothing there


@dataclass
class Progress:
    """One optimiser step. ``image`` (float32, the output's shape, values in [0, 1]) is set every
    ``preview_every`` steps, at the end of each scale and on the last step; otherwise None."""

    step: int
    total: int
    losses: dict[str, float]
    elapsed: float
    eta: float
    scale: int
    scales: int
    shape: tuple[int, int]
    image: np.ndarray | None = field(default=None, repr=False)

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
            init_image: np.ndarray | None = None, **options) -> np.ndarray:
    """Run neural style transfer to the end and return the result (see :class:`StyleParams` for options).

    >>> out = stylize(content, style, size=256, steps=100)   # doctest: +SKIP
    """
    last = None
    for last in stylize_steps(content, style, make_params(**options), init_image=init_image):
        pass
    return last.image


def stylize_steps(content: np.ndarray, style: np.ndarray | Sequence[np.ndarray],
                  params: StyleParams | None = None, *, init_image: np.ndarray | None = None
                  ) -> Iterator[Progress]:
    """Yield a :class:`Progress` per optimiser step, coarse to fine; the last one carries the result.

    ``content``/``style`` are arrays as napari holds them: (Y, X) gray or (Y, X, 3|4) RGB(A), any dtype.
    ``style`` may be a list of images, blended by ``params.style_blend``. Inputs are never modified.
    Validation happens before the first yield, so bad input raises ValueError at the first ``next()``.
    """
    params = params if params is not None else StyleParams()
    run = _Run(content, style, params, init_image)
    yield from run.steps()


class _Run:
    """State of one run; `steps()` drives it."""

    def __init__(self, content, style, params: StyleParams, init_image) -> None:
        self.p = params
        self.content = to_plane(content, "content", params.intensity, params.percentiles, params.contrast_limits)
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        if not styles:
            raise ValueError("no style image given")
        self.styles = [to_plane(s, f"style {i + 1}" if len(styles) > 1 else "style", params.intensity,
                                params.percentiles) for i, s in enumerate(styles)]
        blend = params.style_blend or (1.0,) * len(self.styles)
        if len(blend) != len(self.styles):
            raise ValueError(f"style_blend has {len(blend)} weights for {len(self.styles)} style images")
        self.blend = [b / sum(blend) for b in blend]
        self.init = None
        if params.init == "image":
            if init_image is None:
                raise ValueError("init='image' needs an init_image")
            self.init = to_plane(init_image, "init", params.intensity, params.percentiles).rgb
        h, w = self.content.rgb.shape[:2]
        k = params.size / max(h, w)
        self.shape = (max(1, round(h * k)), max(1, round(w * k)))
        if min(self.shape) < MIN_SIDE:
            raise ValueError(f"size {params.size} makes a {self.shape[0]}×{self.shape[1]} output from this "
                             f"{h}×{w} content; its short side needs at least {MIN_SIDE} pixels: raise size")
        self.device = resolve_device(params.device)
        self.bf16 = params.precision == "bf16" or (params.precision == "auto" and bf16_supported(self.device))
        vgg, self.norm = load_network(params.weights, self.device)
        self.features = Features(vgg, params.style_layers + params.content_layers, params.pooling)
        self.channels_last = self.device.type != "mps"
        if self.channels_last:
            self.features = self.features.to(memory_format=torch.channels_last)
        lw = params.style_layer_weights or (1.0 / len(params.style_layers),) * len(params.style_layers)
        self.layer_weights = dict(zip(params.style_layers, lw))
        self._prepare_colour()
        self.schedule = self._schedule()

    # -- inputs -----------------------------------------------------------------------------------------
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

    def _tensor(self, rgb: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device).permute(2, 0, 1)[None]
        return resize(t, shape)

    def _style_targets(self, shape: tuple[int, int]) -> dict[str, torch.Tensor]:
        targets: dict[str, torch.Tensor] = {}
        side = max(shape) * self.p.style_scale
        for weight, style in zip(self.blend, self.net_styles):
            h, w = style.shape[:2]
            k = side / max(h, w)
            s_shape = (max(MIN_SIDE, round(h * k)), max(MIN_SIDE, round(w * k)))
            feats = self._forward(self._tensor(style, s_shape), self.p.style_layers)
            for layer in self.p.style_layers:
                targets[layer] = targets.get(layer, 0) + weight * gram(feats[layer])
        return {k: v.clone() for k, v in targets.items()}

    # -- network ----------------------------------------------------------------------------------------
    def _forward(self, rgb: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        x = self.norm(rgb)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.features(x)
        return out if layers is None else {k: out[k] for k in layers}

    # -- loop -------------------------------------------------------------------------------------------
    def steps(self) -> Iterator[Progress]:
        p = self.p
        generator = torch.Generator().manual_seed(p.seed)
        total = sum(s for _, s in self.schedule)
        work = [s * shape[0] * shape[1] for shape, s in self.schedule]
        start, step, image = time.perf_counter(), 0, None
        for scale, (shape, n_steps) in enumerate(self.schedule):
            with torch.inference_mode():
                style_t = self._style_targets(shape)
                content_t = {k: v.float().clone() for k, v in
                             self._forward(self._tensor(self.net_content, shape), p.content_layers).items()}
            if image is None:
                image = self._initial(shape, generator)
            else:
                image = resize(image, shape)
            x = (image * 255.0).detach().contiguous().requires_grad_(True)
            optimizer = self._optimizer(x)
            losses: dict[str, torch.Tensor] = {}

            def closure() -> torch.Tensor:
                optimizer.zero_grad(set_to_none=True)
                rgb = x / 255.0
                feats = self._forward(rgb)
                terms = {"style": p.style_weight * style_loss(
                    {k: gram(feats[k]) for k in p.style_layers}, style_t, self.layer_weights)}
                if p.content_weight:
                    terms["content"] = p.content_weight * content_loss(
                        {k: feats[k] for k in p.content_layers}, content_t)
                if p.tv_weight:
                    terms["tv"] = p.tv_weight * tv_loss(rgb)
                loss = sum(terms.values())
                loss.backward()
                losses.update({k: v.detach() for k, v in terms.items()}, total=loss.detach())
                return loss

            for i in range(n_steps):
                optimizer.step(closure)
                if p.optimizer == "adam":
                    with torch.no_grad():
                        x.clamp_(0.0, 255.0)
                step += 1
                elapsed = time.perf_counter() - start
                done = sum(work[:scale]) + (i + 1) * shape[0] * shape[1]
                eta = elapsed * (sum(work) - done) / done
                last = i == n_steps - 1
                preview = last or (p.preview_every and step % p.preview_every == 0)
                out = None
                if preview:
                    out = self._output(x.detach() / 255.0)
                yield Progress(step, total, {k: float(v) for k, v in losses.items()}, elapsed, eta,
                               scale, len(self.schedule), shape, out)
            image = (x.detach() / 255.0).clamp(0.0, 1.0)

    def _initial(self, shape: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
        if self.p.init == "noise":
            noise = torch.rand((1, 3) + shape, generator=generator)
            return (0.5 + 0.25 * (noise - 0.5)).to(self.device)
        return self._tensor(self.init if self.init is not None else self.net_content, shape)

    def _optimizer(self, x: torch.Tensor) -> torch.optim.Optimizer:
        if self.p.optimizer == "adam":
            return torch.optim.Adam([x], lr=self.p.learning_rate)
        history = int(max(5, min(100, HISTORY_BYTES // (8 * x.numel()))))
        return torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=history, tolerance_grad=0.0,
                                   tolerance_change=0.0)

    def _output(self, rgb: torch.Tensor) -> np.ndarray:
        """The current image at the output's full size, in the output's layout."""
        full = resize(rgb.clamp(0.0, 1.0), self.shape)[0].permute(1, 2, 0).float().cpu().numpy()
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


def resize(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W), antialiased when shrinking; a no-op at the same size."""
    if tuple(image.shape[-2:]) == tuple(shape):
        return image
    shrink = shape[0] < image.shape[-2] or shape[1] < image.shape[-1]
    return F.interpolate(image, size=shape, mode="bilinear", align_corners=False, antialias=shrink)
