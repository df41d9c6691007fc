"""How soon Stop ends a large run, at every stage, and what a huge size does.

A run of ``--size`` (default 4096, on a content of that side, one scale in tiles of 1024) is driven as the
widget drives it (``stylize_steps(cancel=..., stages=True)``), with a cancel Event that records when it is
checked. The longest gap between two checks within a stage bounds the time a Stop takes there: in seconds,
and in CPU-seconds of this process (what it would take on a quiet machine with one thread; with the load
of other processes the wall-clock gap is longer). Then Stop is pressed for real (from another thread,
mid-step) and the time until the generator has ended is measured. Last, ``--huge`` (default 8192, the
default schedule) on the same content: refused by the memory check, or, if it fits, stopped during its
first style targets. Prints a table with the load average.

    python benchmarks/bench_stop.py [--size 4096] [--steps 2] [--huge 8192] [--huge-only]
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


class TimedCancel(threading.Event):
    """A cancel Event that notes when it is checked."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[tuple[float, float]] = []  # (wall, CPU) seconds

    def is_set(self) -> bool:
        self.times.append((time.perf_counter(), time.process_time()))
        return super().is_set()

    def wait(self, timeout: float | None = None) -> bool:
        self.times.append((time.perf_counter(), time.process_time()))
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
    parser.add_argument("--huge", type=int, default=8192)
    parser.add_argument("--huge-only", action="store_true", help="only the --huge part")
    args = parser.parse_args()
    content = content_image(args.size)
    style = content_image(512)[::-1].copy()
    if not args.huge_only:
        large(args, content, style)
    huge(args, content, style)


def large(args: argparse.Namespace, content: np.ndarray, style: np.ndarray) -> None:
    """Stop gaps per stage of a run at ``args.size`` on one tiled scale, and a real Stop mid-step."""
    params = StyleParams(size=args.size, steps=args.steps, scales=1, tile_size=args.tile, preview_every=0)
    cancel = TimedCancel()
    gaps: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    stage, last_check, pressed = "reading the content, memory check", 0, []
    start = (time.perf_counter(), time.process_time())
    first, last = None, None
    for p in stylize_steps(content, style, params, cancel=cancel, stages=True):
        now = (time.perf_counter(), time.process_time())
        first = first or now[0] - start[0]
        previous = cancel.times[last_check - 1] if last_check else start
        for t in [*cancel.times[last_check:], now]:
            gaps[stage] = [max(g, b - a) for g, a, b in zip(gaps[stage], previous, t, strict=True)]
            previous = t
        last_check, last = len(cancel.times), p
        stage = (p.stage.split(" (")[0] if p.stage else "optimiser step") + (" (tile)" if "tile" in p.stage else "")
        if not p.stage and p.tile == 2 and not pressed:  # 2 s into tile 2's next step: press Stop
            threading.Timer(2.0, lambda: (pressed.append(time.perf_counter()), cancel.set())).start()
            pressed.append(None)
    ended = time.perf_counter()
    print(f"size {args.size} on {args.size}² content, tiles {args.tile}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"{'stage':<36}{'longest gap between checks: s':>31}{'CPU-s':>8}")
    for name, (wall, cpu) in gaps.items():
        print(f"{name:<36}{wall:31.2f}{cpu:8.2f}")
    print(f"first record after {first:.2f} s; Stop pressed mid-step: the run ended {ended - pressed[1]:.2f} s later "
          f"('{last.stage}' at step {last.step}, image {last.image.shape}); peak RSS {rss_gib():.2f} GiB")


def huge(args: argparse.Namespace, content: np.ndarray, style: np.ndarray) -> None:
    """``args.huge`` with the default schedule: refused, or stopped during its first style targets."""
    start, cancel, at, pressed = time.perf_counter(), threading.Event(), "", []
    try:
        for p in stylize_steps(content, style, StyleParams(size=args.huge), cancel=cancel, stages=True):
            if "tile 2" in p.stage and not at:  # Stop 2 s into this piece (a forward pass of a style tile)
                at = p.stage
                threading.Timer(2.0, lambda: (pressed.append(time.perf_counter()), cancel.set())).start()
        print(f"size {args.huge}: not refused; Stop during '{at}' ended the run "
              f"{time.perf_counter() - pressed[-1]:.2f} s later, {time.perf_counter() - start:.0f} s after it began")
    except ValueError as exc:
        print(f"size {args.huge}: refused after {time.perf_counter() - start:.2f} s: {exc}")


if __name__ == "__main__":
    main()
