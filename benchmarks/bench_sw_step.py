"""Per-step cost of the sliced-Wasserstein style loss against the Gram loss, in one process, interleaved.

Two runs of the same content and style at the same size (one scale, L-BFGS), one with ``style_loss="gram"``
and one with ``"sw"``, are advanced one step at a time in turn (gram, sw, gram, sw, ...) after a few warm-up
steps each, so that both see the same machine load (see bench_step.py for why); each is summarised by its
fastest and its median step. Target: sw / gram <= 1.3 at 512 px.

    python benchmarks/bench_sw_step.py [--size 512] [--steps 8] [--precision fp32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from napari_neural_style import stylize_steps
from napari_neural_style.engine.params import StyleParams

WARM = 3  # steps before timing: the first builds the targets, oneDNN its kernels, L-BFGS its first pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--precision", default="fp32", choices=("auto", "fp32", "bf16"))
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.size} px (4:3), {args.steps} "
          f"steps each, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rng = np.random.default_rng(0)
    h, w = args.size * 3 // 4, args.size
    content, style = rng.random((h, w, 3), np.float32), rng.random((h, w, 3), np.float32)
    runs = {loss: stylize_steps(content, style, StyleParams(
        size=args.size, steps=WARM + args.steps + 1, scales=1, preview_every=0, precision=args.precision,
        device="cpu", style_loss=loss)) for loss in ("gram", "sw")}
    for run in runs.values():
        for _ in range(WARM):
            next(run)
    times: dict[str, list[float]] = {loss: [] for loss in runs}
    for _ in range(args.steps):
        for loss, run in runs.items():
            start = time.perf_counter()
            next(run)
            times[loss].append(time.perf_counter() - start)
    for run in runs.values():
        for _ in run:  # the last step, which also makes the output image
            pass
    for loss, t in times.items():
        print(f"{loss:>4}: {min(t):.3f} s/step fastest, {statistics.median(t):.3f} median")
    g, s = times["gram"], times["sw"]
    print(f"sw / gram: {min(s) / min(g):.2f}x fastest, {statistics.median(s) / statistics.median(g):.2f}x median "
          f"(target <= 1.3x)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
