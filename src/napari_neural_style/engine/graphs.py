"""CUDA graphs for the network's forward and backward: one replay instead of ~100 kernel launches a step.

At 512² a VGG19 step on a recent GPU takes less time than Python takes to launch its kernels, so the
optimisation is launch-bound; a graph per image size (captured on first use) removes that overhead.
Anything that cannot be captured falls back to the plain forward.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch


class GraphedForward:
    """``forward(rgb) -> {layer: activation}``, replayed from a CUDA graph when ``rgb`` requires grad."""

    def __init__(self, forward: Callable[[torch.Tensor], dict[str, torch.Tensor]], layers: Sequence[str],
                 enabled: bool) -> None:
        self.forward, self.layers, self.enabled = forward, tuple(layers), enabled
        self.graphs: dict[tuple[int, ...], Callable] = {}

    def __call__(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        if not (self.enabled and rgb.requires_grad and torch.is_grad_enabled()):
            return self.forward(rgb)
        key = tuple(rgb.shape)
        if key not in self.graphs:
            try:
                sample = rgb.detach().clone().requires_grad_(True)
                with warnings.catch_warnings():  # capture warms up on a side stream; harmless here
                    warnings.filterwarnings("ignore", message="The AccumulateGrad node's stream")
                    self.graphs[key] = torch.cuda.make_graphed_callables(self._tuple, (sample,))
            except Exception as exc:  # noqa: BLE001 - any capture failure: run eagerly, correctly
                warnings.warn(f"CUDA graph capture failed ({exc}); running without graphs", stacklevel=2)
                self.enabled = False
                return self.forward(rgb)
        return dict(zip(self.layers, self.graphs[key](rgb), strict=True))

    def _tuple(self, rgb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.forward(rgb)
        return tuple(out[k] for k in self.layers)
