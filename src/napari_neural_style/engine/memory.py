"""Memory needed by a run, estimated before it starts, and a clear refusal when it will not fit."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .params import LAYERS

GiB = float(1 << 30)
CHANNELS = {"1": 64, "2": 128, "3": 256, "4": 512, "5": 512}  # VGG19 channels per block
BACKWARD_FACTOR = 2.5  # forward activations kept for backward, their gradients and allocator slack (measured)
FORWARD_FACTOR = 2.0  # inference: a layer's input and output alive together
HEADROOM = 0.9  # refuse when the estimate exceeds this share of the free memory
BASELINE = 0.6 * GiB  # the network, torch's own buffers, the interpreter


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
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    return host_available_bytes()


def host_available_bytes() -> int:
    """Available RAM (what can be allocated without swapping)."""
    import psutil

    return int(psutil.virtual_memory().available)


def check(device_need: int, host_need: int, device: torch.device, advice: Callable[[], str]) -> None:
    """ValueError before anything big is allocated when the run will not fit; ``advice()`` says what to
    change (called only then: working it out costs further estimates)."""
    checks = [("", host_need + (device_need if device.type != "cuda" else 0), host_available_bytes())]
    if device.type == "cuda":
        checks.insert(0, (f" on {device}", device_need, available_bytes(device)))
    for where, need, free in checks:
        if need > HEADROOM * free:
            raise ValueError(f"this run needs about {need / GiB:.1f} GiB but {free / GiB:.1f} GiB are free"
                             f"{where}; {advice()}")
