"""Time series along known camera paths: independent slices vs chained ("previous") vs flow-guided ("flow").

    python benchmarks/bench_stacks.py [--frames 8] [--paths pan zoom subpixel] [--photo tubingen.jpg]

Frames (224×160) are a photo resampled along a camera path with known motion (``camera.py``). Printed per
path and mode: the temporal error (mean |O_k(x) − O_{k−1}(φ_k(x))| with φ_k the TRUE motion, over pixels
visible in both frames; the input frames' own error beside it), the mean per-frame style score
(``score.py``), and seconds per frame (flow estimation included); then flow's ratios to previous.
``--paths zstack``: a synthetic z-stack (slices that change in place) instead of a camera path.
A strip per path (rows: content, independent, previous, flow) is saved as benchmarks/stacks_<path>.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from camera import IMAGES, CameraPath, load_photo, pan, temporal_error, zoom
from PIL import Image
from scipy import ndimage
from score import load_rgb, score
from skimage import data

from napari_neural_style import stylize


def zstack(frames: int) -> CameraPath:
    """A synthetic fluorescence-like z-stack (scikit-image's 3D binary blobs, smoothed): consecutive slices
    change in place, nothing moves, so the temporal error is the plain mean |O_k − O_{k−1}|."""
    volume = ndimage.gaussian_filter(data.binary_blobs(224, blob_size_fraction=0.08, n_dim=3, rng=0)
                                     .astype(np.float32), 1.5)
    z0 = 100
    stack = np.repeat(volume[z0:z0 + frames, :160, :, None], 3, axis=-1)
    h, w = stack.shape[1:3]
    return CameraPath(stack, np.zeros((frames - 1, h, w, 2), np.float32), np.ones((frames - 1, h, w), bool))


PATHS = {"pan": lambda photo, n: pan(photo, n, (3.3, 0.8)), "zoom": lambda photo, n: zoom(photo, n, 0.015),
         "subpixel": lambda photo, n: pan(photo, n, (0.4, 0.2)), "zstack": lambda photo, n: zstack(n)}
MODES = ("independent", "previous", "flow")


def strip(rows: list[np.ndarray], path: Path, frames: int = 4) -> None:
    """Save the first ``frames`` frames of each (T, H, W, 3) series as one row of a PNG."""
    picked = [np.concatenate(list(r[:frames]), axis=1) for r in rows]
    image = Image.fromarray((np.clip(np.concatenate(picked, axis=0), 0, 1) * 255).astype(np.uint8))
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)  # ~0.4 MB, not 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--paths", nargs="+", default=["pan", "zoom", "subpixel"], choices=list(PATHS))
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--photo", default="tubingen.jpg")
    parser.add_argument("--style", default="starry_night.jpg")
    parser.add_argument("--steps", type=int, default=None, help="steps (default: the engine's)")
    args = parser.parse_args()
    photo = load_photo(args.photo)
    if photo is None:
        print(f"bench_stacks: skipped, {IMAGES} is absent")
        return
    style_path = IMAGES / "style" / args.style
    style = load_rgb(style_path)
    options = {} if args.steps is None else {"steps": args.steps}
    for name in args.paths:
        path = PATHS[name](photo, args.frames)
        content = path.frames
        h, w = content.shape[1:3]
        style_ref = load_rgb(style_path, long_side=max(h, w))
        print(f"{name}: {args.frames} frames {w}×{h}, input temporal error {temporal_error(content, path):.4f}",
              flush=True)
        results, rows = {}, [content]
        for mode in args.modes:
            start = time.perf_counter()
            out = stylize(content, style, size=max(h, w), stack_init=mode, preview_every=0, **options)
            seconds = (time.perf_counter() - start) / args.frames
            styles = [score(o, c, style_ref)[0] for o, c in zip(out, content, strict=True)]
            results[mode] = (temporal_error(out, path), float(np.mean(styles)), seconds)
            rows.append(out)
            print(f"  {mode:>11}: temporal error {results[mode][0]:.4f}  style {results[mode][1]:.4f}  "
                  f"{seconds:.1f} s/frame", flush=True)
        strip(rows, Path(__file__).with_name(f"stacks_{name}.png"))
        if "flow" in results and "previous" in results:
            (tf, sf, secf), (tp, sp, secp) = results["flow"], results["previous"]
            print(f"  flow / previous: temporal error ×{tf / tp:.2f} (target ≤ 0.5), style ×{sf / sp:.2f} "
                  f"(within 10 %), time ×{secf / secp:.2f} (≤ 1.3)", flush=True)


if __name__ == "__main__":
    main()
