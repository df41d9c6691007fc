"""How fast the network runs here: one forward and backward pass timed at two small sizes, after the network
has loaded (e.g. in the widget's preload thread), to estimate a plan's time with :meth:`.plan.Plan.seconds`."""

from __future__ import annotations

import functools
import time

import torch

from .network import Extractor, resolve_device, use_bf16
from .params import CONTENT_LAYERS, STYLE_LAYERS
from .plan import PassCost

SIDES = (128, 256)  # timed sides: small enough to take ~2 s in all on a laptop CPU, two for the overhead


def calibrate(weights: str = "caffe", device: str = "auto", precision: str = "auto") -> PassCost:
    """The cost of a pass with the default layers, in the precision a run with these settings uses; cached
    per device and precision (the weights' values do not change the time)."""
    dev = resolve_device(device)
    return _calibrated(weights, str(dev), use_bf16(precision, dev))


@functools.lru_cache(maxsize=8)
def _calibrated(weights: str, device: str, bf16: bool) -> PassCost:
    net = Extractor(STYLE_LAYERS + CONTENT_LAYERS, weights, device, bf16=bf16)
    timings = []
    with torch.enable_grad():
        for side in (SIDES[0], *SIDES):  # the first pass warms up (allocator, kernels) and is not counted
            x = torch.rand((1, 3, side, side), device=device, requires_grad=True)
            start = time.perf_counter()
            sum(v.float().square().mean() for v in net(x).values()).backward()
            if x.grad is not None:
                float(x.grad.flatten()[0])  # wait for the device
            timings.append((side * side, time.perf_counter() - start))
    return PassCost.fit(timings[1:])
