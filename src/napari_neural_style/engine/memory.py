"""Memory needed by a run, estimated before it starts, and a clear refusal when it will not fit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .params import LAYERS, StyleParams
from .tiles import GRAM_MARGIN

if TYPE_CHECKING:
    import torch

    from .plan import Plan

GiB = float(1 << 30)
CHANNELS = {"1": 64, "2": 128, "3": 256, "4": 512, "5": 512}  # VGG19 channels per block
BACKWARD_FACTOR = 2.5  # forward activations kept for backward, their gradients and allocator slack (measured)
FORWARD_FACTOR = 2.0  # inference: a layer's input and output alive together
HEADROOM = 0.9  # refuse when the estimate exceeds this share of the free memory
BASELINE = 0.6 * GiB  # the network, torch's own buffers, the interpreter
HISTORY_BYTES = 1 << 29  # L-BFGS keeps at most this much history (2 vectors of the image's size a step)
INPUT_BYTES = 24  # per content pixel: its float32 RGB, kept for the run, and the conversion's temporary
TILE_SIDES = (1024, 768, 512, 384, 256)  # tile sizes suggested when a run would not fit in memory


def activation_bytes(shape: tuple[int, int], layers: Sequence[str], itemsize: int = 4) -> int:
    """Bytes of every VGG19 output up to the deepest of ``layers`` at ``shape`` (itemsize 2 for bf16)."""
    h, w = shape
    c, total = 3, 0
    for name in LAYERS[: max(LAYERS.index(layer) for layer in layers) + 1]:
        if name.startswith("pool"):
            h, w = h // 2, w // 2
        else:
            c = CHANNELS[name[4]]  # conv3_1 and relu3_1 are in block 3
        total += itemsize * c * h * w
    return total


def optimisation_bytes(shape: tuple[int, int], layers: Sequence[str], history_bytes: int, itemsize: int = 4) -> int:
    """Peak bytes of optimising one image of ``shape``: forward and backward plus optimiser history."""
    pixels = 3 * shape[0] * shape[1] * 4
    return int(BACKWARD_FACTOR * activation_bytes(shape, layers, itemsize) + history_bytes + 8 * pixels)


def forward_bytes(shape: tuple[int, int], itemsize: int = 4) -> int:
    """Peak bytes of one inference pass (style or content targets) at ``shape``: VGG19's largest outputs
    (64 channels at full size), two alive at a time."""
    return int(FORWARD_FACTOR * 2 * itemsize * 64 * shape[0] * shape[1])


def available_bytes(device: torch.device) -> int:
    """Free memory where the run's tensors live: the CUDA device's, else the machine's available RAM."""
    if device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    return host_available_bytes()


def host_available_bytes() -> int:
    """Available RAM (what can be allocated without swapping)."""
    import psutil

    return int(psutil.virtual_memory().available)


def history_pairs(pixels: int) -> int:
    """L-BFGS history pairs kept for an image of ``pixels`` pixels (two float32 RGB vectors a pair)."""
    return int(max(5, min(100, HISTORY_BYTES // (8 * 3 * pixels))))


def estimate(plan: Plan, params: StyleParams, tile_size: int, *, bf16: bool, channels: int, regions: int,
             outputs: int, content_pixels: int = 0) -> tuple[int, int]:
    """(device bytes, host bytes) of running ``plan`` with tiles of ``tile_size`` (0: none); ``outputs``
    results of the output's size with ``channels`` channels are kept (a stack's slices); the content, read
    at ``content_pixels`` pixels, is kept as float RGB."""
    layers = params.style_layers + params.content_layers
    work = [(min(s.shape[0], tile_size), min(s.shape[1], tile_size)) if tile_size else s.shape
            for s in plan.scales]
    pixels = max(h * w for h, w in work)
    history = 8 * 3 * pixels * (history_pairs(pixels) if params.optimizer == "lbfgs" else 1)
    itemsize = 2 if bf16 else 4
    opt = max(optimisation_bytes(s, layers, history, itemsize) for s in work)
    side = int(max(plan.shape) * params.style_scale)
    style_side = min(side, tile_size + 2 * GRAM_MARGIN) if tile_size else side
    need = BASELINE + max(opt, forward_bytes((style_side, style_side), itemsize))
    h, w = plan.shape
    host = 4 * h * w * (3 * 8 + 2 + regions) + 4 * h * w * channels * max(0, outputs - 1)
    host += INPUT_BYTES * content_pixels
    return int(need), host


def check(plan: Plan, params: StyleParams, device: torch.device, **counts: int | bool) -> None:
    """ValueError before anything big is allocated when the run will not fit, saying what to change.
    ``counts``: the keyword arguments of :func:`estimate`."""
    device_need, host_need = estimate(plan, params, params.tile_size, **counts)
    checks = [("", host_need + (device_need if device.type != "cuda" else 0), host_available_bytes())]
    if device.type == "cuda":
        checks.insert(0, (f" on {device}", device_need, available_bytes(device)))
    for where, need, free in checks:
        if need > HEADROOM * free:
            raise ValueError(f"this run needs about {need / GiB:.1f} GiB but {free / GiB:.1f} GiB are free"
                             f"{where}; {_advice(plan, params, counts)}")


def _advice(plan: Plan, params: StyleParams, counts: dict) -> str:
    """What to change so that the run fits (worked out only when one is refused: it costs estimates)."""
    text = f"lower size (now {params.size})"
    free = HEADROOM * host_available_bytes()
    fits = [t for t in TILE_SIDES if t < max(plan.shape) and (not params.tile_size or t < params.tile_size)
            and sum(estimate(plan, params, t, **counts)) < free]
    if fits:
        text += f", set tile_size={fits[0]} to work in tiles of that side"
    return text + ", use fewer or shallower style layers, or close other programs"
