"""Which optical flow for flicker-free time series: endpoint error against known camera motion, and speed.

    python benchmarks/bench_flow.py [--frames 5] [--photo tubingen.jpg] [--threads 1]

Camera paths (``camera.py``) over a real photo, 224×160 frames: pans of 3.3, 8.5 and 0.4 px/frame
(the last sub-pixel), zoom 1.5 %/frame about the centre. "DIS medium s0" is the MEDIUM preset refined
down to full resolution (finest scale 0 instead of 1). For each method the backward flow of every consecutive
pair is estimated; printed: the mean endpoint error ‖estimated − true‖ in px over pixels visible in both
frames, and ms per frame pair. ``flow.estimate`` is the method the package uses.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from skimage.registration import optical_flow_ilk, optical_flow_tvl1

sys.path.insert(0, str(Path(__file__).resolve().parent))
from camera import load_photo, pan, zoom  # noqa: E402

from napari_neural_style.engine import flow  # noqa: E402

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]


def gray(frame: np.ndarray) -> np.ndarray:
    return frame @ np.array([0.299, 0.587, 0.114], np.float32)


def u8(frame: np.ndarray) -> np.ndarray:
    return np.clip(gray(frame) * 255 + 0.5, 0, 255).astype(np.uint8)


def dis(preset: int, finest_scale: int | None = None) -> Method:
    def run(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        method = cv2.DISOpticalFlow_create(preset)
        if finest_scale is not None:
            method.setFinestScale(finest_scale)
        return method.calc(u8(nxt), u8(prev), None)
    return run


def farneback(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(u8(nxt), u8(prev), None, 0.5, 3, 15, 3, 5, 1.2, 0)


def skimage_flow(fn: Callable) -> Method:
    def run(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        v_row, v_col = fn(gray(nxt), gray(prev))  # on the reference's (nxt) grid, pointing into prev
        return np.stack([v_col, v_row], axis=-1).astype(np.float32)
    return run


METHODS: dict[str, Method] = {
    "flow.estimate": flow.estimate,
    "DIS ultrafast": dis(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST),
    "DIS fast": dis(cv2.DISOPTICAL_FLOW_PRESET_FAST),
    "DIS medium": dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
    "DIS medium s0": dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, finest_scale=0),
    "Farneback": farneback,
    "skimage TVL1": skimage_flow(optical_flow_tvl1),
    "skimage ILK": skimage_flow(optical_flow_ilk),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--photo", default="tubingen.jpg")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads")
    args = parser.parse_args()
    photo = load_photo(args.photo)
    if photo is None:
        print(f"skipped: {args.photo} not found under ../shared/images/content")
        return
    cv2.setNumThreads(args.threads)
    paths = {"pan 3.3 px": pan(photo, args.frames, (3.3, 1.2)),
             "pan 8.5 px": pan(photo, args.frames, (8.5, -2.5)),
             "pan 0.4 px": pan(photo, args.frames, (0.4, 0.3)),
             "zoom 1.5 %": zoom(photo, args.frames, 0.015)}
    print(f"{args.frames} frames of {photo.shape[1]}×{photo.shape[0]} {args.photo} → 224×160; "
          f"EPE in px (ms per pair)")
    print(f"{'method':<15}" + "".join(f"{name:>20}" for name in paths))
    for name, method in METHODS.items():
        cells = []
        for path in paths.values():
            epe, took = [], []
            for k in range(1, len(path.frames)):
                start = time.perf_counter()
                est = method(path.frames[k - 1], path.frames[k])
                took.append(time.perf_counter() - start)
                err = np.linalg.norm(est - path.flows[k - 1], axis=-1)
                epe.append(err[path.visible[k - 1]].mean())
            cells.append(f"{np.mean(epe):.3f} ({1000 * np.median(took):.0f} ms)")
        print(f"{name:<15}" + "".join(f"{c:>20}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
