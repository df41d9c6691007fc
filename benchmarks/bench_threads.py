"""Step time quiet and with one competing busy process, with torch's thread count fixed (all cores, as
before) and tuned by timing steps (engine/threads.py), at 64 and 256 px.

    python benchmarks/bench_threads.py [--steps 40]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np
import torch

from napari_neural_style import StyleParams, stylize_steps
from napari_neural_style.engine import run

SIZES = (64, 256)


def step_time(size: int, steps: int, tuned: bool) -> float:
    """Median seconds of the steps after the first of a 1-scale run at ``size``."""
    tuner = run.ThreadTuner
    if not tuned:
        run.ThreadTuner = lambda enabled=True: tuner(enabled=False)
    try:
        rng = np.random.default_rng(0)
        content = rng.random((size, size, 3), np.float32)
        times = [p.elapsed for p in stylize_steps(content, content[::-1].copy(),
                                                  StyleParams(size=size, steps=steps, scales=1, preview_every=0))]
    finally:
        run.ThreadTuner = tuner
    return float(np.median(np.diff(times[1:-1])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    for load in ("quiet", "one busy process"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "quiet" else None
        try:
            for size in SIZES:
                fixed, tuned = (step_time(size, args.steps, t) for t in (False, True))
                print(f"{load:>16}, {size:>3} px: fixed {fixed:.3f} s/step, tuned {tuned:.3f} s/step "
                      f"(×{fixed / tuned:.2f})", flush=True)
        finally:
            if busy is not None:
                busy.kill()


if __name__ == "__main__":
    main()
