"""z-stacks and time series through the API: layout rules, slice order, chaining, stack-wide intensities."""

from __future__ import annotations

import numpy as np
import pytest

from napari_neural_style import StyleParams, stylize, stylize_steps
from napari_neural_style.engine.images import layout
from napari_neural_style.engine.stack import flicker

RNG = np.random.default_rng(5)
STYLE = (RNG.random((36, 36, 3)) * 255).astype(np.uint8)
RUN = {"size": 32, "steps": 4, "scales": 1, "preview_every": 0}


@pytest.mark.parametrize("shape, rgb, expected", [
    ((40, 48), None, (0, False)),
    ((40, 48, 3), None, (0, True)),
    ((40, 48, 1), None, (0, True)),
    ((5, 40, 48), None, (1, False)),
    ((5, 40, 48, 4), None, (1, True)),
    ((2, 3, 40, 48), None, (2, False)),
    ((40, 48, 3), False, (1, False)),  # three 48×3 slices: refused later, see below
    ((6, 40, 48, 3), True, (1, True)),
])
def test_layout_rule(shape, rgb, expected):
    assert layout(shape, rgb) == expected


def test_layout_rgb_true_needs_channels():
    with pytest.raises(ValueError, match="rgb=True needs a last axis of 3"):
        layout((5, 40, 48), True)


def test_misread_channels_are_explained():
    with pytest.raises(ValueError, match=r"3 slice\(s\) of \(48, 5\).*rgb=True/False"):
        next(stylize_steps(np.zeros((3, 48, 5)), STYLE, StyleParams(**RUN)))


def test_stack_runs_slices_in_order_and_chains():
    content = (RNG.random((2, 3, 40, 48)) * 65535).astype(np.uint16)
    params = StyleParams(**RUN)
    seen = list(stylize_steps(content, STYLE, params))
    later = round(RUN["steps"] * params.stack_steps)
    assert [p.step for p in seen] == list(range(1, RUN["steps"] + 5 * later + 1))
    assert all(p.total == seen[-1].step and p.slices == 6 for p in seen)
    assert [p.index for p in seen if p.stack is not None] == [(t, z) for t in range(2) for z in range(3)]
    assert [p.index for p in seen][:RUN["steps"] + 1] == [(0, 0)] * RUN["steps"] + [(0, 1)]
    last = seen[-1]
    assert last.done and last.stack.shape == (2, 3, 27, 32, 3) and last.stack.dtype == np.float32
    np.testing.assert_array_equal(last.stack[1, 2], last.image)
    assert last.stack.min() >= 0 and last.stack.max() <= 1 and (last.stack.std(axis=(2, 3, 4)) > 0.01).all()


def test_later_slice_starts_from_the_previous_result():
    """Slice 1 differs from slice 0; after its first step it is still near slice 0's result, not its content."""
    frames = RNG.random((2, 40, 48, 3)).astype(np.float32)
    seen = list(stylize_steps(frames, STYLE, StyleParams(**{**RUN, "preview_every": 1}, stack_init="previous"),
                              rgb=True))
    first = next(p.image for p in seen if p.index == (0,) and p.stack is not None)
    second_start = next(p.image for p in seen if p.index == (1,))
    plain = stylize(frames[1], STYLE, size=32, steps=1, scales=1)  # what slice 1 gives on its own
    assert np.abs(second_start - first).mean() < 0.5 * np.abs(second_start - plain).mean()
    independent = list(stylize_steps(frames, STYLE, StyleParams(**RUN, stack_init="independent"), rgb=True))
    assert independent[-1].total == 2 * RUN["steps"]


def test_stop_keeps_finished_slices():
    content = RNG.random((3, 40, 48)).astype(np.float32)
    kept = None
    for p in stylize_steps(content, STYLE, StyleParams(**RUN, stack_steps=0.5)):  # 2 steps a later slice
        if p.stack is not None:
            kept = p.stack
        if p.index == (1,):
            break  # Stop during slice 1
    assert kept.shape == (3, 27, 32, 3)
    assert kept[0].std() > 0.01 and not kept[1:].any()


def test_intensities_map_over_the_whole_stack():
    """Content only, started from the content: the output is the input mapped with stack-wide limits."""
    content = np.stack([np.linspace(0, 0.5, 40 * 48).reshape(40, 48), np.linspace(0, 2, 40 * 48).reshape(40, 48)])
    out = stylize(content, STYLE, style_weight=0.0, stack_init="independent", preserve_color="luminance",
                  size=48, steps=1, scales=1)
    assert out.shape == (2, 40, 48)  # gray in, colour preserved: gray out
    assert out[0].max() == pytest.approx(0.25, abs=0.02) and out[1].max() == pytest.approx(1.0, abs=0.02)


def test_flicker_metric():
    frames = np.zeros((3, 4, 4), np.float32)
    frames[1] = 0.5
    assert flicker(frames) == pytest.approx(0.5)


def test_cli_stack_tiff(tmp_path):
    import tifffile

    from napari_neural_style.cli import main

    tifffile.imwrite(tmp_path / "stack.tif", (RNG.random((3, 40, 48)) * 4095).astype(np.uint16))
    tifffile.imwrite(tmp_path / "style.tif", STYLE)
    args = [str(tmp_path / "stack.tif"), str(tmp_path / "style.tif"), "--size", "32", "--steps", "2",
            "--scales", "1", "--quiet", "--intensity", "percentile"]
    assert main(args + ["-o", str(tmp_path / "out.png")]) == 2  # a stack needs TIFF
    assert main(args + ["-o", str(tmp_path / "out.tif")]) == 0
    out = tifffile.imread(tmp_path / "out.tif")
    assert out.shape == (3, 27, 32, 3) and out.dtype == np.float32 and (out.std(axis=(1, 2, 3)) > 0.01).all()
