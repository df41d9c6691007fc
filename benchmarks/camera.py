"""Camera paths over a photo with known motion, and the temporal error of a stylised series along them.

A path is one affine map per frame, A_k: frame-k pixel (x, y, 1) → photo pixel. Frame k is the photo
resampled (cubic spline) at A_k of its grid, so the true backward flow of frame k — for each of its
pixels, where that point was in frame k−1 — is A_{k−1}⁻¹ A_k x − x, exactly. Flows are (H, W, 2) with
[..., 0] = Δx (columns) and [..., 1] = Δy (rows), as in ``napari_neural_style.engine.flow``.

    from camera import load_photo, pan, zoom, temporal_error
    path = pan(load_photo("tubingen.jpg"), frames=6, step=(3.0, 1.0))
    path.frames  # (T, 160, 224, 3) float32 in [0, 1]
    temporal_error(stylised_frames, path)
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
SHAPE = (160, 224)  # frame (rows, columns)


@dataclass(frozen=True)
class CameraPath:
    """Frames sampled along a path, with the true backward flow into each frame from the one before."""

    frames: np.ndarray  # (T, H, W, 3) float32 in [0, 1]
    flows: np.ndarray  # (T−1, H, W, 2) float32: flows[k−1] maps frame k's pixels to frame k−1
    visible: np.ndarray  # (T−1, H, W) bool: frame k's pixel was inside frame k−1 too


def load_photo(name: str = "tubingen.jpg", long_side: int = 448) -> np.ndarray | None:
    """A content photo as float32 RGB in [0, 1] with its long side resized (area) to ``long_side``; None
    when /work/shared/images is absent. Twice the frame width by default: paths have room to move."""
    path = IMAGES / "content" / name
    if not path.exists():
        return None
    img = Image.open(path).convert("RGB")
    k = long_side / max(img.size)
    img = img.resize((round(img.width * k), round(img.height * k)), Image.Resampling.BOX)
    return np.asarray(img, np.float32) / 255


def sample(photo: np.ndarray, matrices: list[np.ndarray], shape: tuple[int, int] = SHAPE) -> CameraPath:
    """Frames of ``shape`` at the 3×3 affine maps ``matrices`` (frame pixel → photo pixel), with true flows."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    grid = np.stack([xs, ys, np.ones_like(xs)])  # (3, H, W)
    frames = []
    for a in matrices:
        x, y, _ = np.tensordot(a, grid, axes=1)
        if x.min() < 0 or y.min() < 0 or x.max() > photo.shape[1] - 1 or y.max() > photo.shape[0] - 1:
            raise ValueError("the camera path leaves the photo; use fewer frames or slower motion")
        frames.append(np.stack([ndimage.map_coordinates(photo[..., c], [y, x], order=3, mode="nearest")
                                for c in range(photo.shape[-1])], axis=-1))
    flows, visible = [], []
    for a_prev, a in pairwise(matrices):
        x, y, _ = np.tensordot(np.linalg.inv(a_prev) @ a, grid, axes=1)
        flows.append(np.stack([x - xs, y - ys], axis=-1))
        visible.append((x >= 0) & (y >= 0) & (x <= w - 1) & (y <= h - 1))
    return CameraPath(np.clip(frames, 0, 1).astype(np.float32), np.asarray(flows, np.float32),
                      np.asarray(visible))


def _centred(photo: np.ndarray, shape: tuple[int, int], offset: tuple[float, float]) -> np.ndarray:
    """Translation placing the frame's centre at the photo's centre plus ``offset`` (x, y)."""
    cx = (photo.shape[1] - shape[1]) / 2 + offset[0]
    cy = (photo.shape[0] - shape[0]) / 2 + offset[1]
    return np.array([[1.0, 0, cx], [0, 1.0, cy], [0, 0, 1.0]])


def pan(photo: np.ndarray, frames: int, step: tuple[float, float], shape: tuple[int, int] = SHAPE
        ) -> CameraPath:
    """The camera moves ``step`` (x, y) photo pixels a frame, centred on the photo's centre over the path:
    the scene moves by −step in the frames."""
    mid = (frames - 1) / 2
    return sample(photo, [_centred(photo, shape, ((k - mid) * step[0], (k - mid) * step[1]))
                          for k in range(frames)], shape)


def zoom(photo: np.ndarray, frames: int, rate: float, shape: tuple[int, int] = SHAPE) -> CameraPath:
    """The camera zooms in by ``rate`` a frame (0.02: the scene grows 2 % a frame) about the frame centre."""
    h, w = shape
    centre = np.array([[1.0, 0, (w - 1) / 2], [0, 1.0, (h - 1) / 2], [0, 0, 1.0]])
    matrices = []
    for k in range(frames):
        s = (1 + rate) ** -(k - (frames - 1) / 2)  # photo pixels per frame pixel
        scale = np.diag([s, s, 1.0])
        matrices.append(_centred(photo, shape, (0, 0)) @ centre @ scale @ np.linalg.inv(centre))
    return sample(photo, matrices, shape)


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """out(x) = image(x + flow(x)) for an (H, W, C) image, cubic spline (bilinear would blur and add error)."""
    ys, xs = np.mgrid[0:flow.shape[0], 0:flow.shape[1]].astype(np.float32)
    coords = [ys + flow[..., 1], xs + flow[..., 0]]
    return np.stack([ndimage.map_coordinates(image[..., c], coords, order=3, mode="nearest")
                     for c in range(image.shape[-1])], axis=-1)


def temporal_error(outputs: np.ndarray, path: CameraPath) -> float:
    """Mean |O_k(x) − O_{k−1}(φ_k(x))| over k, channels and the pixels visible in both frames, φ_k the TRUE
    motion: what a series changes beyond following the camera (flicker). ``outputs`` is (T, H, W[, C]).

    Resampling leaves a floor: the path's own frames score ~0.01 on tubingen.jpg (a still frame repeated:
    0.025 at 0.4 px/frame, 0.09 at 3.3 px/frame), so report the input's score next to the outputs'.
    """
    outputs = np.asarray(outputs, np.float32)
    if outputs.shape[:3] != path.frames.shape[:3]:
        raise ValueError(f"outputs have shape {outputs.shape}; the path's frames are {path.frames.shape}")
    if outputs.ndim == 3:
        outputs = outputs[..., None]
    errors = [np.abs(outputs[k] - _warp(outputs[k - 1], path.flows[k - 1]))[path.visible[k - 1]].mean()
              for k in range(1, len(outputs))]
    return float(np.mean(errors))
