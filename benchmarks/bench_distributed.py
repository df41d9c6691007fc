"""A stack in one process against a LocalCluster of single-threaded worker processes.

    python benchmarks/bench_distributed.py [--slices 16] [--size 128] [--steps 20] [--workers 1 2 4 8]
                                           [--mode flow|previous|independent]

Prints, per configuration, seconds, slices per minute, the speedup over one single-threaded process and
the efficiency (speedup / workers). Workers start in ``worker_environment()`` (one torch thread, glibc's
mmap threshold raised) and are warmed up (network loaded) before timing; the one-process runs are timed
after a warm-up too. Segments default to an even share per worker (one lead-in slice each in chained
modes, the price of running segments in parallel).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
from distributed import Client, LocalCluster

from napari_neural_style import stylize
from napari_neural_style.engine.cluster import worker_environment


def stack(slices: int, side: int) -> np.ndarray:
    """A smooth random uint8 RGB texture panned a few pixels per slice."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    shift = 3
    t = ndimage.gaussian_filter(rng.random((side, side + shift * slices, 3)), (3.0, 3.0, 0))
    t = ((t - t.min()) / (t.max() - t.min()) * 255).astype(np.uint8)
    return np.stack([t[:, k * shift:k * shift + side] for k in range(slices)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[2], choices=[1, 2, 4, 8])
    parser.add_argument("--mode", default="independent", choices=["flow", "previous", "independent"])
    args = parser.parse_args()
    content = stack(args.slices, args.size)
    style = (np.random.default_rng(1).random((args.size, args.size, 3)) * 255).astype(np.uint8)
    run = {"size": args.size, "steps": args.steps, "scales": 1, "preview_every": 0, "stack_init": args.mode}
    print(f"{args.slices} slices {args.size}×{args.size}, {args.steps} steps, {args.mode}; "
          f"{os.cpu_count()} CPUs", flush=True)

    def timed(**extra) -> float:
        start = time.perf_counter()
        stylize(content, style, **run, **extra)
        return time.perf_counter() - start

    stylize(content[:1], style, **run)  # network loaded
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    base = timed()
    torch.set_num_threads(threads)
    print(f"one process, 1 thread:  {base:7.1f} s  {60 * args.slices / base:6.1f} slices/min", flush=True)
    if threads > 1:
        t = timed()
        print(f"one process, {threads} threads: {t:7.1f} s  {60 * args.slices / t:6.1f} slices/min  "
              f"speedup {base / t:.2f}", flush=True)
    for n in args.workers:
        with worker_environment():
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   env={"PYTHONPATH": os.pathsep.join(sys.path)})
        with cluster, Client(cluster) as client:
            stylize(content[:n], style, client=client, segment=1, **{**run, "stack_init": "independent"})  # warm
            t = timed(client=client)
        print(f"LocalCluster {n} × 1 thread: {t:7.1f} s  {60 * args.slices / t:6.1f} slices/min  "
              f"speedup {base / t:.2f}  efficiency {base / t / n:.0%}", flush=True)


if __name__ == "__main__":
    main()
