"""How fast the network runs here: a forward and backward pass timed at two small sizes, after the network
has loaded (e.g. in the widget's preload thread), to estimate a plan's time with :meth:`.plan.Plan.seconds`."""

from __future__ import annotations

import functools
import threading
import time

import torch

from .network import Extractor, resolve_device, use_bf16
from .params import CONTENT_LAYERS, STYLE_LAYERS
from .plan import PassCost
from .threads import ThreadTuner

SIDES = (128, 256)  # timed sides: small enough to take a few seconds in all on a laptop CPU, two for the overhead
_lock = threading.Lock()  # one calibration at a time: two side by side (two widgets) would time each other


def calibrate(weights: str = "caffe", device: str = "auto", precision: str = "auto") -> PassCost:
    """The cost of a pass with the default layers, in the precision a run with these settings uses; cached
    per device and precision (the weights' values do not change the time)."""
    dev = resolve_device(device)
    with _lock:
        return _calibrated(weights, str(dev), use_bf16(precision, dev))


@functools.lru_cache(maxsize=8)
def _calibrated(weights: str, device: str, bf16: bool) -> PassCost:
    """Each side timed under each thread count a run may choose (:class:`.ThreadTuner`): the fastest counts,
    as the run keeps the faster count (two threads beside a busy core are several times slower)."""
    net = Extractor(STYLE_LAYERS + CONTENT_LAYERS, weights, device, bf16=bf16)
    tuner = ThreadTuner(enabled=torch.device(device).type == "cpu")
    best = {side: float("inf") for side in SIDES}
    try:
        for threads in tuner.candidates:
            torch.set_num_threads(threads)
            _time_pass(net, SIDES[0], device)  # warm-up (allocator, kernels): not counted
            for side in SIDES:
                best[side] = min(best[side], _time_pass(net, side, device))
    finally:
        tuner.restore()
    return PassCost.fit([(side * side, seconds) for side, seconds in best.items()])


def _time_pass(net: Extractor, side: int, device: str) -> float:
    """Seconds of one forward and backward pass at ``side``²."""
    x = torch.rand((1, 3, side, side), device=device, requires_grad=True)
    start = time.perf_counter()
    with torch.enable_grad():
        sum(v.float().square().mean() for v in net(x).values()).backward()
    float(x.grad.flatten()[0])  # waits for the device
    return time.perf_counter() - start
