"""A 4096×4096 run in tiles: wall time, peak memory (RSS) and the engine's estimate beforehand.

    python benchmarks/bench_large.py [--size 4096] [--steps 3] [--scales 3] [--tile 1024]

Each scale gets steps/scales optimiser steps; scales larger than the tile run tile by tile (every tile
gets the scale's steps), so the finest scale alone is (size/tile)² tile-steps or more: slow on a CPU.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from napari_neural_style import StyleParams, stylize_steps
from napari_neural_style.engine import memory

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--scales", type=int, default=3)
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=None, help="save the result (PNG) here")
    args = parser.parse_args()
    content = np.asarray(Image.open(IMAGES / "content" / "tubingen.jpg").convert("RGB"))
    side = min(content.shape[:2])  # a square crop: size 4096 gives 4096×4096
    content = content[:side, (content.shape[1] - side) // 2:][:, :side]
    style = np.asarray(Image.open(IMAGES / "style" / "starry_night.jpg").convert("RGB"))
    params = StyleParams(size=args.size, steps=args.steps, scales=args.scales, tile_size=args.tile,
                         tile_overlap=args.overlap, device=args.device, preview_every=0)
    free = memory.host_available_bytes() / memory.GiB
    start, last, scale = time.perf_counter(), None, -1
    for p in stylize_steps(content, style, params):
        if p.scale != scale or p.done:
            scale = p.scale
            print(f"  scale {p.scale + 1}/{p.scales} {p.shape[0]}×{p.shape[1]} tile {p.tile}/{p.tiles} "
                  f"step {p.step}/{p.total} {time.perf_counter() - start:.0f} s "
                  f"rss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB", flush=True)
        last = p
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    if args.device.startswith("cuda"):
        import torch

        from napari_neural_style.engine.network import bf16_supported

        itemsize = 2 if bf16_supported(torch.device(args.device)) else 4
        estimate = memory.optimisation_bytes((args.tile, args.tile), params.style_layers + params.content_layers,
                                             1 << 29, itemsize) / memory.GiB
        print(f"peak CUDA memory {torch.cuda.max_memory_allocated() / memory.GiB:.2f} GiB "
              f"(one tile's optimisation estimated at {estimate:.2f} GiB)")
    print(f"bench_large: {last.image.shape[0]}×{last.image.shape[1]} tiles {args.tile}/{args.overlap} "
          f"steps {args.steps} scales {args.scales} on {args.device}: {wall:.0f} s, peak RSS {peak:.2f} GiB "
          f"(free before: {free:.1f} GiB); final losses {last.losses}")
    if args.out:
        Image.fromarray(np.round(last.image * 255).astype(np.uint8)).save(args.out)


if __name__ == "__main__":
    sys.exit(main())
