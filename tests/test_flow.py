"""Optical flow, warping, the reliability mask and the temporal loss, on synthetic textures with known motion."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_neural_style.engine.flow import FlowLink, estimate, reliability, warp
from napari_neural_style.engine.losses import temporal_loss

H, W = 96, 128


def texture(shape: tuple[int, int] = (H + 40, W + 40), channels: int = 3, seed: int = 0) -> np.ndarray:
    """Smooth random noise in [0, 1], (Y, X, channels)."""
    noise = np.random.default_rng(seed).random((*shape, channels))
    smooth = ndimage.gaussian_filter(noise, sigma=(2, 2, 0))
    return ((smooth - smooth.min()) / np.ptp(smooth)).astype(np.float32)


def shifted_pair(d: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Two H×W views of one texture, the second moved so that next(x) = prev(x + d), d = (dx, dy)."""
    big = texture()
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64) + 20

    def view(dx: float, dy: float) -> np.ndarray:
        return np.stack([ndimage.map_coordinates(big[..., c], [ys + dy, xs + dx], order=3)
                         for c in range(3)], axis=-1).clip(0, 1)
    return view(0, 0), view(*d)


def constant(d: tuple[float, float], shape: tuple[int, int] = (H, W)) -> np.ndarray:
    return np.broadcast_to(np.array(d, np.float32), (*shape, 2))


def test_warp_integer_translation_is_exact():
    image = texture((H, W))
    out = warp(image, constant((3, -2)))
    assert out.shape == image.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out[2:, :-3], image[:-2, 3:])


def test_warp_subpixel_matches_the_shifted_smooth_image():
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)

    def f(x, y):
        return 0.5 + 0.2 * np.sin(0.3 * x + 0.2 * y) + 0.2 * np.cos(0.17 * x - 0.25 * y)
    d = (0.4, -0.7)
    out = warp(f(xs, ys), constant(d))
    inner = (slice(2, -2), slice(2, -2))
    assert np.abs(out - f(xs + d[0], ys + d[1]))[inner].max() < 0.005
    assert np.abs(f(xs, ys) - f(xs + d[0], ys + d[1]))[inner].max() > 0.05  # the shift itself matters


def test_warp_rejects_a_flow_of_another_size():
    with pytest.raises(ValueError, match="flow is"):
        warp(texture((H, W)), constant((1, 1), (H, W + 1)))


@pytest.mark.parametrize("d", [(2.5, -1.25), (-0.4, 0.3), (6.0, 2.0)])
def test_estimate_recovers_a_translation(d):
    prev, nxt = shifted_pair(d)
    flow = estimate(prev, nxt)
    assert flow.shape == (H, W, 2) and flow.dtype == np.float32
    inner = (slice(10, -10), slice(10, -10))
    epe = np.linalg.norm(flow - np.array(d, np.float32), axis=-1)[inner]
    assert epe.mean() < 0.1
    assert np.abs(warp(prev, flow) - nxt)[inner].mean() < 0.01  # warp(prev, estimate(prev, nxt)) ≈ nxt


def test_estimate_takes_gray_and_rejects_mismatched_frames():
    prev, nxt = shifted_pair((1.0, 0.0))
    assert estimate(prev.mean(axis=-1), nxt.mean(axis=-1)).shape == (H, W, 2)
    with pytest.raises(ValueError, match="differ in size"):
        estimate(prev, nxt[:-1])
    with pytest.raises(ValueError, match="expected"):
        estimate(prev[..., :2], nxt[..., :2])


def test_link_masks_the_strip_entering_the_frame():
    prev, nxt = shifted_pair((4.0, 0.0))  # the scene moves left: a 4 px strip enters on the right
    link = FlowLink.between(prev, nxt)
    assert link.mask.shape == (H, W) and link.mask.dtype == np.float32
    assert set(np.unique(link.mask)) <= {0.0, 1.0}
    assert (link.mask[:, -4:] == 0).all()
    assert link.mask[8:-8, 8:-12].mean() > 0.97
    assert np.abs(link.warp(prev) - nxt)[8:-8, 8:-12].mean() < 0.01


def test_reliability_masks_disocclusion_and_motion_boundaries():
    # A 20 px square moves 4 px right over a static background: frame k−1 has it at x ∈ [40, 60).
    flow_fw = np.zeros((H, W, 2), np.float32)
    flow_fw[30:50, 40:60, 0] = 4
    flow_bw = np.zeros((H, W, 2), np.float32)
    flow_bw[30:50, 44:64, 0] = -4
    mask = reliability(flow_fw, flow_bw)
    assert (mask[30:50, 40:44] == 0).all()  # background the square uncovered
    assert (mask[30:50, 43:45] == 0).all()  # motion boundary
    assert (mask[32:48, 46:62] == 1).all()  # the square's inside follows it
    assert (mask[:25] == 1).all() and (mask[:, 70:] == 1).all()  # still background
    assert reliability(np.zeros((H, W, 2)), np.zeros((H, W, 2))).all()


def test_reliability_rejects_mismatched_flows():
    with pytest.raises(ValueError, match="flow_fw"):
        reliability(np.zeros((H, W + 2, 2)), np.zeros((H, W, 2)))


def test_temporal_loss():
    warped = torch.rand(1, 3, 8, 8)
    mask = torch.ones(8, 8)
    mask[:, :4] = 0
    assert temporal_loss(warped.clone(), warped, mask) == 0
    x = warped + 0.1
    x[..., :4] += 5.0  # masked out: ignored
    x.requires_grad_(True)
    loss = temporal_loss(x, warped, mask)
    assert loss.item() == pytest.approx(0.01, rel=1e-4)  # mean over the trusted pixels only
    loss.backward()
    assert (x.grad[..., :4] == 0).all() and (x.grad[..., 4:] > 0).all()
    assert temporal_loss(x, warped, torch.zeros(8, 8)) == 0


def test_temporal_loss_rejects_bad_shapes():
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="warped"):
        temporal_loss(x, x[..., :7], torch.ones(8, 8))
    with pytest.raises(ValueError, match="mask"):
        temporal_loss(x, x, torch.ones(7, 8))
