"""Flicker of a stylised time series: slices chained (each starts from the previous result) vs independent.

    python benchmarks/bench_flicker.py [--frames 6] [--size 96] [--steps 30] [--shift 8]

The series is a window panning across tubingen.jpg (``shift`` source pixels a frame). Printed per mode:
the mean |frame_t − frame_{t−1}| (raw), the same after undoing the known pan (motion-compensated: what
is left is flicker), and wall time; then the ratios independent / chained.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from napari_neural_style import stylize
from napari_neural_style.engine.stack import flicker

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def panning(frames: int, window: int, shift: int) -> np.ndarray:
    """(T, window, window, 3) uint8 crops of tubingen.jpg, each ``shift`` pixels right of the last."""
    photo = np.asarray(Image.open(IMAGES / "content" / "tubingen.jpg").convert("RGB"))
    y0 = (photo.shape[0] - window) // 2
    return np.stack([photo[y0:y0 + window, t * shift:t * shift + window] for t in range(frames)])


def compensated(frames: np.ndarray, shift: int) -> float:
    """Mean |frame_t − frame_{t−1}| where frame_t is compared with frame_{t−1} moved by the pan."""
    return float(np.mean([np.abs(b[:, :-shift] - a[:, shift:]).mean() for a, b in zip(frames, frames[1:])]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--shift", type=int, default=2, help="pan per frame, in output pixels")
    parser.add_argument("--stack-steps", type=float, default=0.5, help="share of the steps per chained slice")
    parser.add_argument("--modes", nargs="+", default=["previous", "independent"], choices=["previous", "independent"])
    args = parser.parse_args()
    window = 4 * args.size  # source crops are resized by 1/4: the pan is `shift` output pixels exactly
    content = panning(args.frames, window, 4 * args.shift)
    style = np.asarray(Image.open(IMAGES / "style" / "starry_night.jpg").convert("RGB"))
    base = content.astype(np.float32)[:, ::4, ::4] / 255
    print(f"input: raw {flicker(base):.4f}, compensated {compensated(base, args.shift):.4f}")
    results = {}
    for mode in args.modes:
        start = time.perf_counter()
        out = stylize(content, style, size=args.size, steps=args.steps, scales=2, stack_init=mode,
                      stack_steps=args.stack_steps, preview_every=0)
        results[mode] = (flicker(out), compensated(out, args.shift), time.perf_counter() - start)
        print(f"{mode:>11}: raw {results[mode][0]:.4f}, compensated {results[mode][1]:.4f}, "
              f"{results[mode][2]:.0f} s", flush=True)
    if len(results) < 2:
        return
    chained, independent = results["previous"], results["independent"]
    print(f"bench_flicker: {args.frames} frames {args.size}² {args.steps} steps: mean |Δframe| chained "
          f"{chained[0]:.4f} vs independent {independent[0]:.4f} (×{independent[0] / chained[0]:.2f}); "
          f"motion-compensated {chained[1]:.4f} vs {independent[1]:.4f} (×{independent[1] / chained[1]:.2f}); "
          f"time {chained[2]:.0f} s vs {independent[2]:.0f} s")


if __name__ == "__main__":
    main()
