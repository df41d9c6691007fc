"""The widget's time estimates: each device's network loaded and timed once in a background thread, and the
time of a run's settings (and of each preset) for a content layer from its plan (torch only in the thread)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from napari.layers import Image
from superqt.utils import ensure_main_thread

from .engine.params import PRESETS, StyleParams
from .engine.plan import make_plan
from .engine.timing import PassCost
from .engine.timing import estimate as run_seconds
from .layers import full_shape
from .options import PRESET_LABELS, duration

CALIBRATING = "calibrating…"


class Calibrations:
    """Each device's :class:`PassCost`, measured on first request in a thread that first loads the default
    network (so it is ready before Run); ``on_ready`` is called in the GUI thread when one is in.

    The threads are not daemons and :meth:`close` ends their timing within a layer: Python waits for them at
    exit, where a daemon thread inside torch was killed mid-call and aborted the process ("terminate called
    without an active exception" when napari was closed while calibrating)."""

    def __init__(self, on_ready: Callable[[], None]) -> None:
        self.on_ready = on_ready
        self.costs: dict[str, PassCost | None] = {}  # None: the network could not be loaded or timed
        self.pending: set[str] = set()
        self.closing = threading.Event()

    def cost(self, device: str) -> PassCost | None:
        """The device's cost if measured; else None, and the measurement starts unless under way or closed."""
        if device not in self.costs and device not in self.pending and not self.closing.is_set():
            self.pending.add(device)
            threading.Thread(target=self._measure, args=(device,), name="neural-style preload").start()
        return self.costs.get(device)

    def close(self) -> None:
        """Stop measuring: a load under way finishes (1-2 s, it cannot be interrupted), timing ends."""
        self.closing.set()

    def _measure(self, device: str) -> None:
        from .engine.cancel import Stopped
        from .engine.network import preload
        from .engine.timing import calibrate

        weights = StyleParams().weights
        preload(weights, device)
        try:
            cost = calibrate(weights, device, cancel=self.closing)
        except Stopped:
            return
        except (ValueError, RuntimeError):  # no network to time (e.g. its weights are missing): no estimate
            cost = None
        self._measured(device, cost)

    @ensure_main_thread
    def _measured(self, device: str, cost: PassCost | None) -> None:
        self.pending.discard(device)
        self.costs[device] = cost
        self.on_ready()


def estimate(params: StyleParams, content: Image, whole_stack: bool, cost: PassCost,
             slices: tuple[int, int] | None = None, styles: Sequence[Image] = (), labels: bool = False
             ) -> tuple[float, str]:
    """(seconds, text) of a run of ``params`` on ``content`` (its plane on screen, or the whole stack, cut to
    ``slices`` of its first axis) with ``styles`` (with ``labels``, one region per style): the text also
    gives each preset's time. ValueError when the settings cannot run."""
    shape = full_shape(content)
    shape = shape if whole_stack else shape[content.ndim - 2:]
    if whole_stack and slices is not None:
        shape = (max(0, min(slices[1], shape[0]) - slices[0]), *shape[1:])
    style_hw = [_plane_hw(layer) for layer in styles] or [shape[-3:-1] if content.rgb else shape[-2:]]

    def seconds(p: StyleParams) -> float:
        return run_seconds(make_plan(p, shape, content.rgb), p, cost, style_hw, len(style_hw) if labels else 0)

    presets = " · ".join(f"{PRESET_LABELS[k]} {duration(seconds(replace(params, **v)))}" for k, v in PRESETS.items())
    now = seconds(params)
    return now, f"about {duration(now)} ({presets})"


def _plane_hw(layer: Image) -> tuple[int, int]:
    """(Y, X) of an image layer's plane."""
    shape = full_shape(layer)
    return tuple(shape[-3:-1] if layer.rgb else shape[-2:])
