"""The time model against the clock: the estimate (what the widget's "time" shows) and the ETA of the progress
records, for a single image, several styles, labels with two styles, tiles, a z-stack and a dask slice range.

    python benchmarks/bench_estimates.py [--size 256] [--stack-size 192] [--cases single stack ...]

One process, as in napari: the network is loaded and one pass timed first (:func:`.timing.calibrate`), then
each case runs through ``stylize_steps``. Printed per case: the estimate and the real time (from the call to
the last record), the ETA at step 3 and at mid-run against the real time left then, each ratio (model /
real), and the first record's elapsed + ETA against the estimate (do they agree at the start?). Quote the
load (``uptime``) with the numbers: the estimate is made at the calibration's load, the ETA follows the run.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import dask.array as da
import numpy as np
from PIL import Image
from scipy import ndimage
from skimage import data

from napari_neural_style import StyleParams, stylize_steps
from napari_neural_style.engine.plan import make_plan
from napari_neural_style.engine.timing import PassCost, calibrate, estimate

IMAGES = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "images")


def photo(kind: str, name: str) -> np.ndarray:
    return np.asarray(Image.open(os.path.join(IMAGES, kind, name)).convert("RGB"))


@dataclass
class Case:
    """A run: content, styles, options for ``stylize_steps`` and the parameters."""

    content: object
    styles: list[np.ndarray]
    params: StyleParams
    labels: np.ndarray | None = None
    slices: tuple[int, int] | None = None

    def shape(self) -> tuple[int, ...]:
        shape = np.shape(self.content)
        if self.slices is None:
            return shape
        return (self.slices[1] - self.slices[0], *shape[1:])


def zstack(frames: int) -> np.ndarray:
    """A fluorescence-like z-stack (160×224 slices that change in place), float in [0, 1]."""
    volume = ndimage.gaussian_filter(data.binary_blobs(224, blob_size_fraction=0.08, n_dim=3, rng=0)
                                     .astype(np.float32), 1.5)
    return np.ascontiguousarray(volume[100:100 + frames, :160, :])


def cases(size: int, stack_size: int) -> dict[str, Callable[[], Case]]:
    tubingen = photo("content", "tubingen.jpg")
    starry, scream, shipwreck = (photo("style", n) for n in ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg"))
    halves = np.ones(tubingen.shape[:2], np.int32)
    halves[:, tubingen.shape[1] // 2:] = 2
    quick = StyleParams(size=size, steps=46, preview_every=10)
    stack = StyleParams(size=stack_size, steps=46, preview_every=10)
    return {
        "single": lambda: Case(tubingen, [starry], quick),
        "styles": lambda: Case(tubingen, [starry, scream, shipwreck], quick),
        "labels": lambda: Case(tubingen, [starry, scream], quick, labels=halves),
        "tiles": lambda: Case(tubingen, [starry], StyleParams(size=size, steps=46, preview_every=10,
                                                               tile_size=size * 5 // 8, tile_overlap=32)),
        "stack": lambda: Case(zstack(5), [starry], stack),
        "dask": lambda: Case(da.from_array(zstack(6), chunks=(1, 160, 224)), [starry], stack, slices=(2, 4)),
    }


def measure(case: Case, cost: PassCost) -> dict[str, float]:
    """Estimate, real time, and the ETAs at step 3 and mid-run against the time left."""
    styles = [s.shape[:2] for s in case.styles]
    plan = make_plan(case.params, case.shape())
    guess = estimate(plan, case.params, cost, styles, len(styles) if case.labels is not None else 0)
    start, seen = time.perf_counter(), []
    for p in stylize_steps(case.content, case.styles, case.params, labels=case.labels, slices=case.slices):
        seen.append((p.step, time.perf_counter() - start, p.eta))
    real = seen[-1][1]
    at = {"step 3": seen[2], "mid": seen[len(seen) // 2]}
    out = {"estimate": guess, "real": real, "start": (seen[0][1] + seen[0][2]) / guess}
    for name, (_, t, eta) in at.items():
        out[f"eta {name}"], out[f"left {name}"] = eta, real - t
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="output size of the single-image cases")
    parser.add_argument("--stack-size", type=int, default=192, help="output size of the stack cases")
    parser.add_argument("--cases", nargs="+", default=None, help="cases to run (default: all)")
    args = parser.parse_args()
    table = cases(args.size, args.stack_size)
    print(f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    start = time.perf_counter()
    cost = calibrate()
    print(f"calibrated in {time.perf_counter() - start:.1f} s: {cost}")
    print(f"{'case':8} {'estimate':>8} {'real':>6} {'ratio':>6} | {'ETA@3':>6} {'left':>6} {'ratio':>6} | "
          f"{'ETA@mid':>7} {'left':>6} {'ratio':>6} | {'start/est':>9} | load")
    for name in args.cases or list(table):
        r = measure(table[name](), cost)
        print(f"{name:8} {r['estimate']:8.1f} {r['real']:6.1f} {r['estimate'] / r['real']:6.2f} | "
              f"{r['eta step 3']:6.1f} {r['left step 3']:6.1f} {r['eta step 3'] / r['left step 3']:6.2f} | "
              f"{r['eta mid']:7.1f} {r['left mid']:6.1f} {r['eta mid'] / r['left mid']:6.2f} | "
              f"{r['start']:9.2f} | {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
