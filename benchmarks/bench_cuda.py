"""500 steps at 512×512 on CUDA (target: ≤ 3 s on an H100), default settings, plus a fp32 and a
single-scale comparison from the same run.

    python benchmarks/bench_cuda.py [--steps 500] [--size 512]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch
from skimage import data, transform

from napari_neural_style import StyleParams, stylize_steps


def square(image: np.ndarray, side: int) -> np.ndarray:
    return transform.resize(image, (side, side), anti_aliasing=True).astype(np.float32)


def timed(content: np.ndarray, style: np.ndarray, params: StyleParams) -> tuple[float, dict]:
    torch.cuda.synchronize()
    start = time.perf_counter()
    last = None
    for last in stylize_steps(content, style, params):  # noqa: B007 - the last step's record is kept
        pass
    torch.cuda.synchronize()
    return time.perf_counter() - start, last.losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark needs a GPU")
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    content, style = square(data.astronaut(), args.size), square(data.hubble_deep_field(), args.size)
    base = StyleParams(size=args.size, steps=args.steps, device="cuda", preview_every=0)
    timed(content, style, replace(base, steps=20))  # load weights, warm up cuDNN
    runs = {"default (coarse-to-fine, bf16)": base,
            "fp32": replace(base, precision="fp32"),
            "single scale, bf16": replace(base, scales=1)}
    for name, params in runs.items():
        seconds, losses = timed(content, style, params)
        print(f"{args.steps} steps at {args.size}x{args.size}, {name:<30}: {seconds:6.2f} s"
              f"  ({1000 * seconds / args.steps:.1f} ms/step; final style {losses['style']:.3g})")
    print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
