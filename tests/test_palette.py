"""The palette start: the content recoloured to the painting's colour mean and covariance; the tones start:
only its light and dark, each in the painting's colour of that tone."""

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


def _chroma(rgb: np.ndarray) -> np.ndarray:
    return rgb.reshape(-1, 3) @ _YIQ[1:].T


def test_tones_of_a_blend_take_its_light_and_dark_in_the_contents_order():
    """Each pixel's luminance is the blend's (its styles' pixels pooled 3 : 7) at the same rank: the start
    has the painting's spread of light and dark, in the photo's order, and the blend's mean colour."""
    content = _image(0)
    rng = np.random.default_rng(8)  # two paintings of evenly spread tones (the clip below does not bind)
    a = (rng.uniform(0.05, 0.6, (40, 50, 1)) * np.float32([1.0, 0.9, 1.2])).clip(0, 1).astype(np.float32)
    b = (rng.uniform(0.4, 0.95, (40, 50, 1)) * np.float32([1.05, 1.0, 0.8])).astype(np.float32)
    start = palette(content, [a, b], [0.3, 0.7], only_tones=True)
    q = np.linspace(0.05, 0.95, 19)
    np.testing.assert_allclose(np.quantile(luminance(start), q), np.quantile(luminance(_mixed(a, b, 0.3)), q),
                               atol=0.01)
    order = np.argsort(luminance(content).ravel())
    assert (np.diff(luminance(start).ravel()[order]) >= -1e-6).all()
    np.testing.assert_allclose(colour_stats(start)[0], colour_stats(_mixed(a, b, 0.3))[0], atol=0.01)
    np.testing.assert_array_equal(palette(content, [a, b], [1.0, 0.0], only_tones=True),
                                  palette(content, [a], [1.0], only_tones=True))  # no weight: no pixels


def test_a_16_bit_ramp_starts_in_as_many_tones_as_it_has():
    """Ranked in 2¹⁶ steps, a gray ramp of every 16-bit level is not posterised: its start has a distinct tone
    for nearly every level, in the ramp's order (a painting of evenly spread tones)."""
    ramp = np.repeat((np.arange(1 << 16, dtype=np.float32) / 65535).reshape(256, 256, 1), 3, axis=-1)
    painting = np.random.default_rng(3).uniform(0.0, 1.0, (64, 64, 1)).repeat(3, -1).astype(np.float32)
    y = luminance(palette(ramp, [painting], [1.0], only_tones=True)).ravel()
    assert (np.diff(y) >= -1e-6).all()
    assert len(np.unique(y)) > 50_000


def test_a_painting_of_a_few_lights_on_black_leaves_the_photo_its_contrast():
    """Nine tenths of the painting black: matched rank for rank, all but the photo's lightest tenth would
    start black. Its histogram is clipped at 4 × the mean height, so the photo's tones stay apart."""
    rng = np.random.default_rng(7)
    sky = np.where(rng.random((60, 60, 1)) < 0.9, 0.02, rng.random((60, 60, 1))) * np.ones(3, np.float32)
    content = _image(0, mix=((0.5, 0.5, 0.5), (0.1, 0.1, 0.1), (0.0, 0.0, 0.1)))
    start = palette(content, [sky.astype(np.float32)], [1.0], only_tones=True)
    y, yc = luminance(start).ravel(), luminance(content).ravel()
    assert np.corrcoef(y, yc)[0, 1] > 0.9
    assert np.quantile(y, 0.9) - np.quantile(y, 0.1) > 0.3  # a black start would be ~0


def test_tones_paint_each_tone_in_the_paintings_colour_of_it_and_none_of_the_photos_hues():
    """A painting of dark blue and light yellow: the photo's dark red roof starts blue, its pale sky yellow;
    the photo's hues choose no colour (its gray version starts in the same ones), and one tone is one colour."""
    rng = np.random.default_rng(5)
    style = np.concatenate([np.broadcast_to(np.float32([0.1, 0.1, 0.45]), (20, 30, 3)),
                            np.broadcast_to(np.float32([0.95, 0.85, 0.3]), (20, 30, 3))])
    style = np.clip(style + rng.normal(0, 0.02, style.shape), 0, 1).astype(np.float32)
    roof, sky = np.float32([0.5, 0.1, 0.1]), np.float32([0.75, 0.85, 0.95])
    content = np.concatenate([np.broadcast_to(roof, (10, 20, 3)), np.broadcast_to(sky, (10, 20, 3))])
    start = palette(content, [style], [1.0], only_tones=True)
    assert start[0, 0, 2] > start[0, 0, 0] + 0.1  # the dark roof: blue
    assert start[-1, 0, 0] > start[-1, 0, 2] + 0.3  # the light sky: yellow
    photo = _image(6, 0.5, mix=((0.9, 0.0, 0.0), (0.0, 0.0, 0.9), (0.0, 0.9, 0.0)))  # strong hues
    gray = np.repeat(luminance(photo)[..., None], 3, axis=-1)  # the same light and dark, no hue
    hued, grey = (palette(x, [style], [1.0], only_tones=True).reshape(-1, 3) for x in (photo, gray))
    inside = ((hued > 0) & (hued < 1) & (grey > 0) & (grey < 1)).all(axis=1)  # not clipped to [0, 1]
    assert inside.mean() > 0.5
    np.testing.assert_allclose(_chroma(hued[inside]), _chroma(grey[inside]), atol=1e-5)
    pair = palette(np.broadcast_to(roof, (5, 10, 3)).copy(), [style], [1.0], only_tones=True)
    assert np.ptp(pair.reshape(-1, 3), axis=0).max() < 1e-6  # one colour, no ramp across it


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


@pytest.mark.parametrize("only_tones", [False, True])
@pytest.mark.parametrize("gray", [True, False])
def test_a_flat_or_gray_content_stays_finite(gray, only_tones):
    content = np.full((20, 30, 3), 0.4, np.float32) if not gray else np.repeat(_image(0)[..., :1], 3, axis=-1)
    out = palette(content, [_image(3)], [1.0], only_tones=only_tones)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
