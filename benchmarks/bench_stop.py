"""How soon Stop ends a large run, at every stage, and how soon a size that does not fit is refused.

A run of ``--size`` (default 4096, on a content of that side, in tiles of 1024) is driven as the widget
drives it (``stylize_steps(cancel=..., stages=True)``), with a cancel Event that records the time of every
check. The longest gap between two checks within a stage bounds the time a Stop takes there. At the end
Stop is pressed for real (from another thread, mid-step) and the time until the generator has ended is
measured. Then the size ``--refuse`` (default 8192) is asked for on the same content: the time to the
refusal and the memory allocated by then. Prints a table; ``uptime`` load is printed with it.

    python benchmarks/bench_stop.py [--size 4096] [--steps 2] [--refuse 8192]
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
from collections import defaultdict

import numpy as np

from napari_neural_style import StyleParams, stylize_steps
from napari_neural_style.engine.progress import STOPPED


class TimedCancel(threading.Event):
    """A cancel Event that notes when it is checked."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def is_set(self) -> bool:
        self.times.append(time.perf_counter())
        return super().is_set()

    def wait(self, timeout: float | None = None) -> bool:
        self.times.append(time.perf_counter())
        return super().wait(timeout)


def content_image(side: int) -> np.ndarray:
    """A smooth picture with detail at every scale (uint8 RGB), as a large camera image would be."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    noise = np.random.default_rng(0).random((side // 64, side // 64, 3)).repeat(64, 0).repeat(64, 1)
    rgb = np.stack([np.sin(9 * x + 3 * y), np.cos(7 * y - 2 * x), np.sin(5 * (x + y))], axis=-1) * 0.3 + 0.5
    return (np.clip(rgb * 0.8 + noise * 0.2, 0, 1) * 255).astype(np.uint8)


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=2, help="steps per tile of the one (finest) scale")
    parser.add_argument("--refuse", type=int, default=8192)
    args = parser.parse_args()
    content = content_image(args.size)
    style = content_image(512)[::-1].copy()
    params = StyleParams(size=args.size, steps=args.steps, scales=1, tile_size=args.tile, preview_every=0)
    cancel = TimedCancel()
    gaps: dict[str, float] = defaultdict(float)
    stage, last_check, stop_at, records = "reading the content, memory check", 0, None, []
    first = None
    start = time.perf_counter()
    run = stylize_steps(content, style, params, cancel=cancel, stages=True)
    for p in run:
        now = time.perf_counter()
        first = first or now - start
        previous = cancel.times[last_check - 1] if last_check else start
        for t in [*cancel.times[last_check:], now]:
            gaps[stage] = max(gaps[stage], t - previous)
            previous = t
        last_check = len(cancel.times)
        records.append(p)
        stage = (p.stage.split(" (")[0] if p.stage else "optimiser step") + (" (tile)" if "tile" in p.stage else "")
        if p.stage == STOPPED:
            break
        if not p.stage and p.tile == 2 and stop_at is None:  # mid-way through tile 2's next step: press Stop
            stop_at = []
            threading.Timer(2.0, lambda: (cancel.set(), stop_at.append(time.perf_counter()))).start()
    ended = time.perf_counter()
    pressed = stop_at[0]
    load = os.getloadavg()[0]
    print(f"size {args.size} on {args.size}² content, tiles {args.tile}, {os.cpu_count()} cores, load {load:.1f}")
    print(f"{'stage':<40}{'longest gap between checks (s)':>32}")
    for name, gap in gaps.items():
        print(f"{name:<40}{gap:32.2f}")
    print(f"first record after {first:.2f} s; Stop pressed mid-step: the run ended {ended - pressed:.2f} s later, "
          f"last record '{records[-2].stage}' at step {records[-2].step}; peak RSS {rss_gib():.2f} GiB")
    start = time.perf_counter()
    try:
        next(stylize_steps(content, style, StyleParams(size=args.refuse), cancel=threading.Event(), stages=True))
        print(f"size {args.refuse}: NOT refused")
    except ValueError as exc:
        print(f"size {args.refuse}: refused after {time.perf_counter() - start:.2f} s: {exc}")


if __name__ == "__main__":
    main()
