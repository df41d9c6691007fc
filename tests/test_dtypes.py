"""Every input dtype × channel layout through a tiny real run: float32 out, in [0, 1], the layout rules."""

from __future__ import annotations

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
    """12-bit data in uint16: the dtype rule sees it nearly black, percentiles and limits stretch it."""
    content = RNG.integers(0, 4095, SHAPE, endpoint=True).astype(np.uint16)
    means = {name: stylize(content, STYLE, content_weight=1.0, style_weight=0.0, **RUN, **options).mean()
             for name, options in [("dtype", {}), ("percentile", {"intensity": "percentile"}),
                                   ("limits", {"contrast_limits": (0.0, 4095.0)})]}
    assert means["dtype"] < 0.15
    assert means["percentile"] == pytest.approx(0.5, abs=0.1)
    assert means["limits"] == pytest.approx(0.5, abs=0.1)
