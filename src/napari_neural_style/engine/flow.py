"""Optical flow between consecutive frames, backward warping and the reliability mask of Ruder et al. (2016).

Conventions. A flow is (H, W, 2) float32 on the grid of the frame it belongs to, [..., 0] = Δx (columns),
[..., 1] = Δy (rows), in pixels (OpenCV's layout). ``estimate(a, b)`` is the flow on b's grid pointing
into a: b(x) ≈ a(x + flow(x)), so ``warp(a, estimate(a, b))`` ≈ b. For consecutive frames,
``estimate(frame_prev, frame_next)`` is the backward flow: for each pixel of frame k, where it was in
frame k−1; warping frame k−1's result by it aligns that result with frame k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def _gray_u8(frame: np.ndarray, what: str) -> np.ndarray:
    """(H, W) or (H, W, 1|3) float in [0, 1] → (H, W) uint8 luminance (what DIS works on)."""
    a = np.asarray(frame, np.float32)
    if a.ndim == 3 and a.shape[-1] in (1, 3):
        a = a @ np.array([0.299, 0.587, 0.114], np.float32) if a.shape[-1] == 3 else a[..., 0]
    if a.ndim != 2:
        raise ValueError(f"{what} has shape {np.shape(frame)}; expected (H, W) gray or (H, W, 3) RGB")
    return np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)


def estimate(frame_prev: np.ndarray, frame_next: np.ndarray) -> np.ndarray:
    """Dense backward flow (H, W, 2) float32: frame_next(x) ≈ frame_prev(x + flow(x)).

    Frames are float gray (H, W) or RGB (H, W, 3) in [0, 1] of the same size; flow is estimated on their
    luminance with OpenCV's DIS optical flow (Kroeger et al. 2016), preset MEDIUM refined down to full
    resolution: 0.03–0.2 px mean endpoint error on camera pans and zooms, 15–25 ms a 224×160 pair on one
    core (benchmarks/bench_flow.py).
    """
    prev, nxt = _gray_u8(frame_prev, "frame_prev"), _gray_u8(frame_next, "frame_next")
    if prev.shape != nxt.shape:
        raise ValueError(f"frames differ in size: frame_prev is {prev.shape}, frame_next is {nxt.shape}")
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(0)
    return dis.calc(nxt, prev, None)


def _check_flow(flow: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``flow`` as float32 after checking it is (H, W, 2) with (H, W) = shape[:2]."""
    flow = np.asarray(flow, np.float32)
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise ValueError(f"{what} has shape {flow.shape}; expected (H, W, 2)")
    if flow.shape[:2] != tuple(shape[:2]):
        raise ValueError(f"{what} is {flow.shape[:2]} pixels, expected {tuple(shape[:2])}")
    return flow


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = image(x + flow(x)), bilinear, float32, same shape as the (H, W[, C]) image.

    Points that fall outside the image take the nearest edge pixel (replicated border); :func:`reliability`
    marks them 0.
    """
    image = np.asarray(image, np.float32)
    if image.ndim not in (2, 3):
        raise ValueError(f"image has shape {image.shape}; expected (H, W) or (H, W, C)")
    flow = _check_flow(flow, image.shape, "flow")
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = np.stack([ys + flow[..., 1], xs + flow[..., 0]])
    if image.ndim == 2:
        return ndimage.map_coordinates(image, coords, order=1, mode="nearest")
    return np.stack([ndimage.map_coordinates(image[..., c], coords, order=1, mode="nearest")
                     for c in range(image.shape[-1])], axis=-1)


def reliability(flow_fw: np.ndarray, flow_bw: np.ndarray) -> np.ndarray:
    """Ruder et al.'s mask c on frame k's grid: float32, 1 where the warped frame k−1 can be trusted, else 0.

    ``flow_fw`` is the forward flow on frame k−1's grid (``estimate(frame_next, frame_prev)``), ``flow_bw``
    = ŵ the backward flow on frame k's grid. With w̃(x) = flow_fw(x + ŵ(x)), a pixel is 0 when
    - forward and backward disagree (disocclusion): |w̃ + ŵ|² > 0.01 (|w̃|² + |ŵ|²) + 0.5;
    - it lies on a motion boundary: |∇ŵ_x|² + |∇ŵ_y|² > 0.01 |ŵ|² + 0.002;
    - it comes from outside frame k−1: x + ŵ(x) is off the grid.
    """
    flow_bw = _check_flow(flow_bw, np.shape(flow_bw), "flow_bw")
    flow_fw = _check_flow(flow_fw, flow_bw.shape, "flow_fw")
    fw = warp(flow_fw, flow_bw)
    norm_bw = np.square(flow_bw).sum(axis=-1)
    disoccluded = np.square(fw + flow_bw).sum(axis=-1) > 0.01 * (np.square(fw).sum(axis=-1) + norm_bw) + 0.5
    grads = sum(np.square(g) for c in range(2) for g in np.gradient(flow_bw[..., c]))
    boundary = grads > 0.01 * norm_bw + 0.002
    h, w = flow_bw.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    x, y = xs + flow_bw[..., 0], ys + flow_bw[..., 1]
    outside = (x < 0) | (y < 0) | (x > w - 1) | (y > h - 1)
    return (~(disoccluded | boundary | outside)).astype(np.float32)


@dataclass(frozen=True)
class FlowLink:
    """How frame k follows frame k−1: the backward flow and the reliability mask, both on frame k's grid."""

    flow: np.ndarray  # (H, W, 2) float32 backward flow: frame k's pixel x was at x + flow(x) in frame k−1
    mask: np.ndarray  # (H, W) float32, 1 where warp(result_{k−1}) is trusted, 0 elsewhere

    @classmethod
    def between(cls, frame_prev: np.ndarray, frame_next: np.ndarray) -> FlowLink:
        """Estimate both flows between two content frames (float, [0, 1]) and the mask."""
        flow_bw = estimate(frame_prev, frame_next)
        return cls(flow_bw, reliability(estimate(frame_next, frame_prev), flow_bw))

    def warp(self, image: np.ndarray) -> np.ndarray:
        """Frame k−1's (H, W[, C]) image (e.g. its stylised result) aligned with frame k."""
        return warp(image, self.flow)
