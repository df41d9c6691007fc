"""The palette start: the content recoloured to the painting's colour mean and covariance; the tones start:
only its light and dark, in the chroma of that mean."""

from __future__ import annotations

import numpy as np
import pytest

from napari_neural_style import StyleParams
from napari_neural_style.engine.color import _YIQ, colour_stats, luminance, palette, recolour
from napari_neural_style.engine.inputs import Inputs


def _image(seed: int, centre: float = 0.5, shape=(40, 50), mix=((0.6, 0.1, 0.0), (0.2, 0.3, 0.1), (0.0, 0.1, 0.2))
           ) -> np.ndarray:
    """Correlated colour noise around ``centre``, narrow enough that recolouring it hardly clips."""
    rng = np.random.default_rng(seed)
    return np.clip(centre + rng.standard_normal(shape + (3,)) @ np.array(mix) * 0.15, 0, 1).astype(np.float32)


def _mixed(a: np.ndarray, b: np.ndarray, wa: float) -> np.ndarray:
    """Pixels of ``a`` and ``b`` in proportion wa : 1 - wa (whole images repeated)."""
    na = round(wa * 10)
    return np.concatenate([a.reshape(-1, 3)] * na + [b.reshape(-1, 3)] * (10 - na))


def test_recolour_gives_the_target_mean_and_covariance():
    content, style = _image(0), _image(1, 0.3, mix=((0.1, 0.0, 0.3), (0.0, 0.2, 0.1), (0.1, 0.0, 0.1)))
    mu, cov = colour_stats(recolour(content, colour_stats(style)))
    mu_s, cov_s = colour_stats(style)
    np.testing.assert_allclose(mu, mu_s, atol=1e-4)
    np.testing.assert_allclose(cov, cov_s, rtol=0.05, atol=1e-5)  # eigenvalues regularised by 1e-5


def test_a_blend_targets_the_mixture_of_the_styles():
    content = _image(0)
    a, b = _image(1, 0.3), _image(2, 0.7)
    mu, cov = colour_stats(palette(content, [a, b], [0.3, 0.7]))
    mu_m, cov_m = colour_stats(_mixed(a, b, 0.3))
    np.testing.assert_allclose(mu, mu_m, atol=3e-3)  # its wider spread clips a little
    np.testing.assert_allclose(cov, cov_m, rtol=0.05, atol=1e-5)


def test_tones_of_a_blend_have_its_mean_colour_and_luminance_spread_and_no_other_chroma():
    content = _image(0)
    a, b = _image(1, 0.3), _image(2, 0.7)
    start = palette(content, [a, b], [0.3, 0.7], only_tones=True)
    mu_m, cov_m = colour_stats(_mixed(a, b, 0.3))
    np.testing.assert_allclose(colour_stats(start)[0], mu_m, atol=3e-3)
    y = _YIQ[0].astype(np.float64)
    assert float(luminance(start).std()) == pytest.approx(float(np.sqrt(y @ cov_m @ y)), rel=0.05)
    assert (start.reshape(-1, 3) @ _YIQ[1:].T).std(axis=0).max() < 2e-3


def test_tones_leave_none_of_the_photos_hues():
    """A blue sky and a red roof start in the painting's mean hue, each as light or dark as the recolouring
    makes it: the run paints them from the painting, never from the photo's hues."""
    blue, red = np.array([0.2, 0.4, 0.9], np.float32), np.array([0.9, 0.25, 0.2], np.float32)
    content = np.concatenate([np.broadcast_to(blue, (10, 20, 3)), np.broadcast_to(red, (10, 20, 3)),
                              _image(4, shape=(10, 20))])
    style = _image(3, 0.6)
    chroma = palette(content, [style], [1.0], only_tones=True).reshape(-1, 3) @ _YIQ[1:].T
    np.testing.assert_allclose(chroma, np.broadcast_to(colour_stats(style)[0] @ _YIQ[1:].T, chroma.shape),
                               atol=1e-5)
    start = palette(content, [style], [1.0], only_tones=True)
    assert abs(float(luminance(start[:10]).mean() - luminance(start[10:20]).mean())) > 0.01  # tones kept
    recoloured = palette(content, [style], [1.0]).reshape(-1, 3) @ _YIQ[1:].T
    assert recoloured.std(axis=0).max() > 0.02  # the palette start keeps them


def test_regions_take_their_own_style_and_label_zero_keeps_its_colours():
    content = _image(0)
    labels = np.zeros(content.shape[:2], np.int32)
    labels[:, 25:] = 1
    style = _image(3, 0.7)
    out = palette(content, [style], [1.0], labels, (1,))
    np.testing.assert_array_equal(out[:, :25], content[:, :25])
    np.testing.assert_allclose(colour_stats(out[:, 25:])[0], colour_stats(style)[0], atol=1e-4)


def test_inputs_start_from_the_palette_unless_colours_are_kept():
    content, style = _image(0), _image(3, 0.7)
    start = Inputs.read(content, style, StyleParams(init="palette")).init
    np.testing.assert_allclose(colour_stats(start)[0], colour_stats(style)[0], atol=1e-4)
    assert Inputs.read(content, style, StyleParams(init="content")).init is None
    tones = Inputs.read(content, style, StyleParams(init="tones")).init
    np.testing.assert_allclose(tones, palette(content, [style], [1.0], only_tones=True))
    assert Inputs.read(content, style, StyleParams(init="palette", preserve_color="luminance")).init is None
    np.testing.assert_array_equal(content, _image(0))  # the input is not modified


@pytest.mark.parametrize("gray", [True, False])
def test_a_flat_or_gray_content_stays_finite(gray):
    content = np.full((20, 30, 3), 0.4, np.float32) if not gray else np.repeat(_image(0)[..., :1], 3, axis=-1)
    out = palette(content, [_image(3)], [1.0])
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
