"""Every input dtype × channel layout through a tiny real run: float32 out, in [0, 1], the layout rules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from napari_neural_style import stylize
from napari_neural_style.engine.images import to_unit
from napari_neural_style.engine.tensors import resize

RNG = np.random.default_rng(3)
SHAPE = (40, 48)
OUT = (27, 32)  # size=32: 40×48 → 27×32
RUN = {"size": 32, "steps": 2, "scales": 1, "preview_every": 0}
STYLE = (RNG.random((36, 36, 3)) * 255).astype(np.uint8)


def _data(dtype, channels: int) -> np.ndarray:
    shape = SHAPE + ((channels,) if channels else ())
    if dtype is bool:
        return RNG.random(shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)  # the dtype rule maps the whole range: use all of it
        return RNG.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)
    return (RNG.random(shape) * 3 - 1).astype(dtype)  # outside [0, 1]: stretched from min to max


DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64, bool]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("channels", [0, 3, 4], ids=["gray", "rgb", "rgba"])
def test_dtype_and_layout(dtype, channels):
    content = _data(dtype, channels)
    out = stylize(content, STYLE, **RUN)
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.shape == OUT + ((4,) if channels == 4 else (3,))  # gray content is stylised in colour
    if channels == 4:
        alpha = torch.from_numpy(to_unit(content[..., 3]))[None, None]
        np.testing.assert_allclose(out[..., 3], resize(alpha, OUT)[0, 0].numpy(), atol=1e-6)
    assert out[..., :3].std() > 0.01  # a picture, not a flat fill


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, bool], ids=lambda d: np.dtype(d).name)
def test_gray_with_luminance_preserved_stays_gray(dtype):
    out = stylize(_data(dtype, 0), STYLE, preserve_color="luminance", **RUN)
    assert out.shape == OUT and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_intensity_rule_and_contrast_limits_change_the_input_mapping():
    """12-bit data in uint16: the dtype rule maps it as 12-bit data (with a warning saying so, and how to
    choose), as percentiles and limits do; not nearly black, as the whole uint16 range would."""
    content = RNG.integers(0, 4095, SHAPE, endpoint=True).astype(np.uint16)
    with pytest.warns(UserWarning, match=r"content is uint16 holding values \d+–\d+, which need 12 of its 16 "
                                         r"bits: mapped 0–4095 to black–white .*intensity='percentile' or "
                                         r"contrast_limits=\(low, high\)"):
        dtype = stylize(content, STYLE, content_weight=1.0, style_weight=0.0, **RUN)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mapping warning when limits or percentiles are asked for
        means = {name: stylize(content, STYLE, content_weight=1.0, style_weight=0.0, **RUN, **options).mean()
                 for name, options in [("percentile", {"intensity": "percentile"}),
                                       ("limits", {"contrast_limits": (0.0, 4095.0)})]}
    assert dtype.mean() == pytest.approx(0.5, abs=0.1)
    assert means["percentile"] == pytest.approx(0.5, abs=0.1)
    np.testing.assert_allclose(dtype.mean(), means["limits"], atol=1e-4)


@pytest.mark.parametrize("dtype", [np.int64, np.uint32, np.int16], ids=lambda d: np.dtype(d).name)
def test_wide_integers_holding_8_bit_values_map_as_8_bit(dtype):
    """0-255 in a wide integer type gives the picture uint8 gives (not a flat gray), with a warning."""
    image = (RNG.random(SHAPE + (3,)) * 255).astype(np.uint8)
    with pytest.warns(UserWarning, match=rf"content is {np.dtype(dtype).name} holding values 0–25\d, which need "
                                         r"8 of its \d+ bits: mapped 0–255 to black–white"):
        wide = stylize(image.astype(dtype), STYLE, **RUN)
    np.testing.assert_allclose(wide, stylize(image, STYLE, **RUN), atol=1e-5)
    assert wide.std() > 0.05


def test_integers_filling_their_type_keep_the_dtype_rule():
    """Data that needs all its type's bits maps over the type's range, silently; negative values too."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = to_unit(np.array([[0, 65535]], np.uint16))
        signed = to_unit(np.array([[-32768, 100]], np.int16))
    np.testing.assert_array_equal(full, [[0.0, 1.0]])
    np.testing.assert_allclose(signed, [[0.0, 32868 / 65535]])
    with pytest.warns(UserWarning, match=r"need 10 of its 32 bits: mapped -1024–1023"):
        np.testing.assert_allclose(to_unit(np.array([[-1000, 1023]], np.int32)), [[24 / 2047, 1.0]])
