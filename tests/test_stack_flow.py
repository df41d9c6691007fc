"""Flow-guided time series (Ruder et al. 2016): the paint follows the motion, identical frames stay identical."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from scipy import ndimage

from napari_neural_style import StyleParams, stylize, stylize_steps

RNG = np.random.default_rng(11)
STYLE = (RNG.random((48, 48, 3)) * 255).astype(np.uint8)
RUN = {"size": 64, "steps": 16, "scales": 1, "preview_every": 0, "stack_steps": 5 / 16}  # 5 steps a chained slice
SHIFT = 4  # pixels a frame


def _texture(h: int, w: int) -> np.ndarray:
    """Smooth random colour texture in [0, 1]: something optical flow can follow."""
    t = ndimage.gaussian_filter(RNG.random((h, w, 3)), (2.0, 2.0, 0))
    return ((t - t.min()) / (t.max() - t.min())).astype(np.float32)


def _pan(frames: int) -> np.ndarray:
    """(T, 48, 64, 3) windows of one texture, each SHIFT pixels right of the last: the scene moves left."""
    scene = _texture(48, 64 + SHIFT * (frames - 1))
    return np.stack([scene[:, k * SHIFT:k * SHIFT + 64] for k in range(frames)])


def _temporal_error(out: np.ndarray) -> float:
    """Mean |O_k − O_{k−1} moved with the scene| over the pixels seen in both frames (the true motion)."""
    return float(np.mean([np.abs(b[:, :-SHIFT] - a[:, SHIFT:]).mean() for a, b in pairwise(out)]))


def test_flow_keeps_the_paint_on_the_moving_scene():
    frames = _pan(3)
    errors = {mode: _temporal_error(stylize(frames, STYLE, stack_init=mode, rgb=True, **RUN))
              for mode in ("previous", "flow")}
    assert errors["flow"] < 0.6 * errors["previous"], errors


def test_temporal_term_only_on_later_slices_and_weighted():
    frames = _pan(3)
    seen = list(stylize_steps(frames, STYLE, StyleParams(**RUN), rgb=True))
    assert all(("temporal" in p.losses) == (p.index != (0,)) for p in seen)
    assert max(p.losses["temporal"] for p in seen if p.index == (2,)) > 0
    off = list(stylize_steps(frames, STYLE, StyleParams(**RUN, temporal_weight=0.0), rgb=True))
    assert all(p.losses.get("temporal", 0.0) == 0.0 for p in off)


def test_identical_frames_give_near_identical_results():
    """From the palette start, which settles within RUN's 16 steps (from the tones start the first frame can
    still be moving there: 0.018 apart where 0.013 is allowed)."""
    frame = _texture(48, 64)
    out = stylize(np.stack([frame, frame]), STYLE, rgb=True, **RUN, init="palette")
    change = np.abs(out[1] - out[0]).mean()
    stylised = np.abs(out[0] - frame).mean()
    assert change < 0.1 * stylised, (change, stylised)


def test_flow_with_tiles_labels_and_colour_preservation():
    """The temporal term follows the run everywhere stacks go: tiled finest scale, per-slice labels, luminance."""
    frames = _pan(2)
    labels = np.zeros((2, 48, 64), np.uint8)
    labels[:, :, 32:] = 1
    params = StyleParams(size=64, steps=6, scales=1, tile_size=40, tile_overlap=8, preserve_color="luminance",
                         preview_every=0)
    seen = list(stylize_steps(frames, STYLE, params, labels=labels, rgb=True))
    later = [p for p in seen if p.index == (1,)]
    assert later and all("temporal" in p.losses and p.tiles == 4 for p in later)
    out = seen[-1].stack
    assert out.shape == (2, 48, 64, 3) and np.isfinite(out).all()
    np.testing.assert_allclose(out[1][:, :32], frames[1][:, :32], atol=1e-3)  # label 0 keeps the content
