"""Array conversions between napari layers and the network's RGB in [0, 1], and input validation."""

from __future__ import annotations

import numpy as np
import pytest

from napari_neural_style import stylize
from napari_neural_style.engine.images import check_array, from_plane, to_plane, to_unit

RNG = np.random.default_rng(0)


def _rgb(dtype, lo, hi, shape=(20, 24, 3)) -> np.ndarray:
    return RNG.integers(lo, hi, shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("array, expected", [
    (_rgb(np.uint8, 0, 255), lambda a: a / 255),
    (_rgb(np.uint16, 0, 65535), lambda a: a / 65535),
    (_rgb(np.int16, -32768, 32767), lambda a: (a.astype(float) + 32768) / 65535),
    (RNG.random((20, 24, 3)), lambda a: a),
    (RNG.random((20, 24, 3)) * 40 - 10, lambda a: (a - a.min()) / (a.max() - a.min())),
    (RNG.random((20, 24, 3)) > 0.5, lambda a: a.astype(float)),
])
def test_to_plane_dtype_rule(array, expected):
    plane = to_plane(array, "content")
    assert plane.rgb.dtype == np.float32 and plane.rgb.shape == (20, 24, 3)
    assert plane.alpha is None and not plane.gray
    np.testing.assert_allclose(plane.rgb, expected(array), atol=1e-6)


@pytest.mark.parametrize("shape", [(20, 24), (20, 24, 1)])
def test_gray_becomes_three_equal_channels(shape):
    a = _rgb(np.uint8, 0, 255, shape)
    plane = to_plane(a, "content")
    assert plane.gray and plane.rgb.shape == (20, 24, 3)
    for c in range(3):
        np.testing.assert_allclose(plane.rgb[..., c], a.reshape(20, 24) / 255, atol=1e-6)
    assert from_plane(plane.rgb, plane, gray_out=True).shape == (20, 24)
    assert from_plane(plane.rgb, plane).shape == (20, 24, 3)


def test_rgba_alpha_carried_through():
    a = _rgb(np.uint8, 0, 255, (20, 24, 4))
    plane = to_plane(a, "content")
    np.testing.assert_allclose(plane.alpha, a[..., 3] / 255, atol=1e-6)
    np.testing.assert_allclose(plane.rgb, a[..., :3] / 255, atol=1e-6)
    out = from_plane(np.full((20, 24, 3), 2.0, np.float32), plane)
    assert out.shape == (20, 24, 4)
    np.testing.assert_array_equal(out[..., :3], 1.0)  # clipped to [0, 1]
    np.testing.assert_array_equal(out[..., 3], plane.alpha)


def test_contrast_limits_win():
    a = _rgb(np.uint16, 0, 4095, (20, 24))
    for rule in ("dtype", "percentile"):
        unit = to_unit(a, rule, limits=(100.0, 1100.0))
        np.testing.assert_allclose(unit, np.clip((a - 100.0) / 1000.0, 0, 1), atol=1e-6)


def test_percentile_rule_ignores_hot_pixels():
    a = np.tile(np.arange(1000, dtype=np.uint16), (20, 1))
    a[0, 0] = 65535
    lo, hi = np.percentile(a, (1, 99))
    unit = to_unit(a, "percentile", (1, 99))
    np.testing.assert_allclose(unit, np.clip((a - lo) / (hi - lo), 0, 1), atol=1e-6)
    assert to_unit(a, "dtype").max() == 1.0 and to_unit(a, "dtype")[1].max() < 0.02  # squashed by dtype range


def test_percentile_rule_on_bool_and_flat_images():
    a = np.zeros((20, 20), bool)
    a[5:10] = True
    np.testing.assert_array_equal(to_unit(a, "percentile"), a.astype(np.float32))
    assert not to_unit(np.full((20, 20), 7, np.uint16), "percentile").any()


@pytest.mark.parametrize("array, fragment", [
    (None, "content image is missing"),
    (np.zeros((0, 0)), "content image is empty"),
    (np.zeros((1, 1)), "1×1 pixels; each side needs at least 16"),
    (np.zeros((15, 40, 3)), "15×40 pixels"),
    (np.full((20, 20), np.nan), "400 NaN or infinite values"),
    (np.where(np.eye(20, dtype=bool), np.inf, 0.0), "20 NaN or infinite values"),
    (np.zeros(40), "1 dimensions"),
    (np.zeros((2, 20, 20, 3)), "4 dimensions"),
    (np.zeros((20, 20, 2)), "(Y, X, 3) RGB or (Y, X, 4) RGBA"),
    (np.zeros((5, 20, 20)), "for a z-stack or time series pass one 2D slice"),
    (np.empty((20, 20), object), "must hold numbers, got dtype object"),
    (np.full((20, 20), "a"), "must hold numbers"),
    (np.zeros((20, 20), complex), "complex-valued"),
])
def test_bad_input_is_named(array, fragment):
    with pytest.raises(ValueError) as info:
        check_array(array, "content")
    assert fragment in str(info.value)


def test_good_input_passes_unchanged():
    a = _rgb(np.uint16, 0, 9, (16, 16, 4))
    assert check_array(a, "style") is a


def test_stylize_leaves_inputs_untouched():
    content = _rgb(np.uint16, 0, 65535, (32, 40, 4))
    styles = [RNG.random((24, 24)).astype(np.float64), _rgb(np.int16, -100, 100, (20, 30, 3))]
    init = RNG.random((32, 40, 3)).astype(np.float32)
    copies = [a.copy() for a in (content, *styles, init)]
    out = stylize(content, styles, init_image=init, size=32, steps=2, scales=1, init="image",
                  intensity="percentile", preserve_color="histogram")
    for original, copy in zip((content, *styles, init), copies, strict=True):
        np.testing.assert_array_equal(original, copy)
        assert original.dtype == copy.dtype
    assert out.shape == (26, 32, 4) and out.dtype == np.float32
    assert out[..., 3].mean() == pytest.approx(content[..., 3].mean() / 65535, abs=0.02)  # alpha resized along


def test_ragged_lists_are_named():
    with pytest.raises(ValueError, match=r"^content image is not a regular array \(nested lists of unequal"):
        stylize([[0.0] * 20, [0.0] * 19] * 10, np.zeros((20, 20)), size=32, steps=1)


def test_channels_first_torch_tensors_are_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=r"torch tensor of shape \(3, 32, 40\): channels first .*permute\(1, 2, 0\)"):
        stylize(torch.rand(3, 32, 40), np.zeros((20, 20)), size=32, steps=1)
    with pytest.raises(ValueError, match=r"style image is a torch tensor of shape \(1, 3, 20, 20\)"):
        stylize(np.zeros((32, 40)), torch.rand(1, 3, 20, 20), size=32, steps=1)


def test_a_wrong_weights_dict_says_what_differs(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "0.weight": torch.zeros(8, 3, 3, 3)}, path)
    with pytest.raises(ValueError) as info:
        stylize(np.zeros((32, 32)), np.zeros((32, 32)), size=32, steps=1, weights=str(path), device="cpu")
    message = str(info.value)
    assert "do not fit VGG19's layers: " in message and not message.endswith(":")
    assert "31 missing keys (e.g. 0.bias)" in message and "1 unexpected keys (e.g. conv1.weight)" in message
    assert "1 of the wrong shape (e.g. 0.weight is (8, 3, 3, 3), not (64, 3, 3, 3))" in message


def test_content_as_its_own_style_warns():
    """The same array (or a view of it) as content and style: a warning, as the result would barely change
    (the widget and the command line refuse it); a copy, or another image, runs silently."""
    import warnings

    content = RNG.random((40, 48, 3)).astype(np.float32)
    run = {"size": 32, "steps": 1, "scales": 1, "preview_every": 0}
    for style in (content, content[:], [content[::-1].copy(), content]):
        with pytest.warns(UserWarning, match="the style image is the content itself"):
            stylize(content, style, **run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stylize(content, content.copy(), **run)
