"""Spatial control: a label image assigns regions to styles (guided Gram matrices, Gatys et al. 2017)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_neural_style import StyleParams, stylize, stylize_steps
from napari_neural_style.engine.losses import gram
from napari_neural_style.engine.network import extract
from napari_neural_style.engine.params import STYLE_LAYERS

SIDE = 64
YY, XX = np.mgrid[0:SIDE, 0:SIDE] / SIDE


def _stripes() -> np.ndarray:
    """Red and white vertical stripes."""
    on = (np.sin(XX * 2 * np.pi * 8) > 0)[..., None]
    return np.where(on, [0.9, 0.1, 0.1], [1.0, 1.0, 1.0]).astype(np.float32)


def _dots() -> np.ndarray:
    """Yellow dots on blue."""
    on = ((np.sin(XX * 2 * np.pi * 6) * np.sin(YY * 2 * np.pi * 6)) > 0.5)[..., None]
    return np.where(on, [1.0, 0.9, 0.1], [0.1, 0.2, 0.8]).astype(np.float32)


CONTENT = np.repeat((0.3 + 0.4 * YY)[..., None], 3, axis=-1).astype(np.float32)  # a plain gray ramp
HALVES = np.where(XX < 0.5, 1, 2).astype(np.uint8)


def _grams(image: np.ndarray) -> dict[str, torch.Tensor]:
    return {k: gram(v) for k, v in extract(image, STYLE_LAYERS).items()}


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return sum(float((a[k] - b[k]).square().sum() / b[k].square().sum()) for k in a)


def test_each_region_takes_its_own_style():
    out = stylize(CONTENT, [_stripes(), _dots()], labels=HALVES, size=SIDE, steps=40, scales=2,
                  style_weight=50.0, preview_every=0)  # a plain ramp: a strong style pull, whatever the default
    half = SIDE // 2
    styles = [_grams(s[:, :half]) for s in (_stripes(), _dots())]  # same size as each region
    left, right = _grams(out[:, :half]), _grams(out[:, half:])
    assert _distance(left, styles[0]) < 0.7 * _distance(left, styles[1])
    assert _distance(right, styles[1]) < 0.7 * _distance(right, styles[0])


def test_label_zero_keeps_the_content():
    labels = HALVES.copy()
    labels[:, 40:] = 0
    out = stylize(CONTENT, [_stripes(), _dots()], labels=labels, size=SIDE, steps=3, scales=1, preview_every=0,
                  style_weight=1e4)
    np.testing.assert_allclose(out[:, 40:], CONTENT[:, 40:], atol=1e-6)
    assert np.abs(out[:, :40] - CONTENT[:, :40]).max() > 0.01  # the labelled part did change


def test_labels_follow_a_stack():
    stack = np.stack([CONTENT, CONTENT[::-1]])
    out = stylize(stack, [_stripes(), _dots()], labels=np.where(HALVES == 2, 0, 1), size=32, steps=2,
                  scales=1, preview_every=0)
    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(out[1, :, 16:], stack[1, ::2, ::2][:, 16:], atol=0.05)  # label 0: content


@pytest.mark.parametrize("labels, styles, options, fragment", [
    (np.ones((32, 64), np.uint8), 2, {}, "labels have shape (32, 64) but the content is 64×64"),
    (HALVES * 2, 2, {}, "labels [4] have no style image: label k uses style image k and 2 are given"),
    (HALVES, 1, {}, "labels [2] have no style image"),
    (HALVES.astype(np.float32), 2, {}, "labels must be integers"),
    (HALVES, 2, {"style_blend": (1, 1)}, "leave style_blend unset"),
])
def test_bad_labels_are_explained(labels, styles, options, fragment):
    with pytest.raises(ValueError) as info:
        next(stylize_steps(CONTENT, [_stripes(), _dots()][:styles], StyleParams(size=32, steps=1, **options),
                           labels=labels))
    assert fragment in str(info.value)


def test_stack_labels_must_fit_a_slice_or_the_stack():
    with pytest.raises(ValueError, match=r"fit neither one content slice \(64, 64\) nor the whole stack"):
        next(stylize_steps(np.stack([CONTENT] * 3), _stripes(), StyleParams(size=32, steps=1),
                           labels=np.ones((2, SIDE, SIDE), np.uint8)))


def test_cli_labels(tmp_path):
    from PIL import Image as PILImage

    from napari_neural_style.cli import main

    for name, image in (("c.png", CONTENT), ("s1.png", _stripes()), ("s2.png", _dots())):
        PILImage.fromarray(np.round(image * 255).astype(np.uint8)).save(tmp_path / name)
    labels = HALVES.copy()
    labels[:, 48:] = 0
    PILImage.fromarray(labels).save(tmp_path / "labels.png")
    args = [str(tmp_path / n) for n in ("c.png", "s1.png", "s2.png")]
    assert main(args + ["-o", str(tmp_path / "out.tif"), "--labels", str(tmp_path / "labels.png"), "--size", "64",
                        "--steps", "3", "--scales", "1", "--quiet"]) == 0
    import tifffile

    out = tifffile.imread(tmp_path / "out.tif")
    np.testing.assert_allclose(out[:, 48:], np.round(CONTENT[:, 48:] * 255) / 255, atol=1e-6)
    assert main(args[:2] + ["-o", str(tmp_path / "x.tif"), "--labels", str(tmp_path / "labels.png"),
                            "--size", "64", "--steps", "1", "--quiet"]) == 2  # label 2 has no style
