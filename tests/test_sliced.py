"""The sliced-Wasserstein style loss (style_loss="sw") with the real VGG19: its directions, samples and targets,
and runs in every mode (regions, blends, tiles, stacks, colour preservation, bf16)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from napari_neural_style import stylize
from napari_neural_style.engine import sliced
from napari_neural_style.engine.losses import gram
from napari_neural_style.engine.network import Extractor, extract
from napari_neural_style.engine.objective import style_tiles
from napari_neural_style.engine.params import STYLE_LAYERS
from napari_neural_style.engine.sliced import RGB, SlicedStyle, Slicer, sample

CPU = torch.device("cpu")
CONTENT = (data.astronaut()[::8, ::8] / np.float32(255)).astype(np.float32)  # 64 × 64
SIDE = 64
YY, XX = np.mgrid[0:SIDE, 0:SIDE] / SIDE
STRIPES = np.where((np.sin(XX * 2 * np.pi * 8) > 0)[..., None], [0.9, 0.1, 0.1], [1.0, 1.0, 1.0]).astype(np.float32)
DOTS = np.where(((np.sin(XX * 2 * np.pi * 6) * np.sin(YY * 2 * np.pi * 6)) > 0.5)[..., None],
                [1.0, 0.9, 0.1], [0.1, 0.2, 0.8]).astype(np.float32)


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]


def _distance(out: np.ndarray, style: np.ndarray, seed: int = 99) -> float:
    """The sliced style distance of ``out`` to ``style`` over all positions (no sample), on directions of a
    seed no run used: a measure of the whole distributions, not of what was optimised."""
    net = Extractor(STYLE_LAYERS)
    with torch.inference_mode():
        targets = Slicer(seed, 1, CPU).targets([net(_tensor(style), STYLE_LAYERS) | {RGB: _tensor(style)}])
        feats = net(_tensor(out), STYLE_LAYERS) | {RGB: _tensor(out)}
    weights = dict.fromkeys([*STYLE_LAYERS, RGB], 1.0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sliced, "SORTED", 1 << 40)
        return float(SlicedStyle(weights, 0)(feats, targets))


def test_directions_are_fixed_per_scale_and_seed():
    a, b = Slicer(0, 128, CPU), Slicer(0, 128, CPU)
    torch.testing.assert_close(a.direction("relu1_1", 64), b.direction("relu1_1", 64))
    assert not torch.allclose(a.direction("relu1_1", 64), Slicer(0, 256, CPU).direction("relu1_1", 64))
    assert not torch.allclose(a.direction("relu1_1", 64), Slicer(1, 128, CPU).direction("relu1_1", 64))
    d = a.direction(RGB, 3)  # at least MIN_DIRECTIONS, unit length
    assert d.shape == (3, sliced.MIN_DIRECTIONS)
    torch.testing.assert_close(d.norm(dim=0), torch.ones(sliced.MIN_DIRECTIONS))


def test_sample_spreads_evenly_without_repeats():
    g = torch.Generator().manual_seed(0)
    index = sample(100, 130, 1000, g, CPU)  # s = 4: one position in each 4 × 4 cell (edge cells smaller)
    assert len(index) == 25 * 33 and len(set(index.tolist())) == len(index)
    y, x = index // 130, index % 130
    cells = (y // 4) * 33 + x // 4
    assert sorted(cells.tolist()) == list(range(25 * 33))
    assert sample(10, 10, 100, g, CPU) is None  # few enough: all of them


def test_the_term_is_deterministic_and_its_sample_close_to_all_positions():
    """L-BFGS needs the same objective at every step; the sampled distance stays near the full one."""
    layers = (*STYLE_LAYERS, "relu5_1")  # relu5_1 too: a layer small enough to take whole
    feats, style = extract(CONTENT, layers), extract(STRIPES, layers)
    with torch.inference_mode():
        targets = Slicer(0, SIDE, CPU).targets([style])
    weights = dict.fromkeys(layers, 0.2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sliced, "SORTED", 1 << 40)
        full = float(SlicedStyle(weights, 0)(feats, targets))
    assert sliced.budget(SIDE) == 1 << 14  # relu1_1 (64 directions, 4096 positions): 1 in 16
    term = SlicedStyle(weights, 0)
    first, again = float(term(feats, targets)), float(term(feats, targets))
    assert first == again and term.samples["relu1_1"] is not None and term.samples["relu5_1"] is None
    assert first == pytest.approx(full, rel=0.1)


def test_each_layer_sorts_the_same_share_of_its_positions_at_every_scale():
    """Below 512 px the budget follows the area: a coarse scale's step costs as much more than a Gram step as
    a fine one's; the pixels' colours are sorted whole (within SORTED)."""
    g = torch.Generator().manual_seed(0)
    shares = {}
    for side in (128, 256, 512, 1024):
        h = side * 3 // 4
        feats = {"relu1_1": torch.randn(1, 64, h, side, generator=g),
                 "relu3_1": torch.randn(1, 256, h // 4, side // 4, generator=g), RGB: torch.rand(1, 3, h, side)}
        with torch.inference_mode():
            targets = Slicer(0, side, CPU).targets([feats])
        term = SlicedStyle(dict.fromkeys(feats, 1.0), 0)
        term(feats, targets)
        shares[side] = {k: 1.0 if term.samples[k] is None else len(term.samples[k]) / (f.shape[-2] * f.shape[-1])
                        for k, f in feats.items()}
        assert (term.samples[RGB] is None) == (side <= 256)  # 16 directions: all of up to 2^16 pixels
    for layer in ("relu1_1", "relu3_1"):
        assert shares[128][layer] == pytest.approx(shares[512][layer], rel=0.35), layer
        assert shares[256][layer] == pytest.approx(shares[512][layer], rel=0.35), layer
        assert shares[512][layer] < 1
    assert shares[1024]["relu1_1"] < shares[512]["relu1_1"] / 3  # above 512 px: at most SORTED
    assert sliced.budget(128) == sliced.SORTED // 16 and sliced.budget(4096) == sliced.SORTED


def test_tiled_style_targets_match_the_whole_image():
    forward = Extractor(STYLE_LAYERS)
    image = _tensor(np.asarray(data.chelsea()[::3, ::3], np.float32) / 255)
    with torch.inference_mode():
        whole = Slicer(0, 1, CPU).targets([forward(image, STYLE_LAYERS) | {RGB: image}])
        tiled = Slicer(0, 1, CPU).targets(features() for _, features in style_tiles(forward, image, STYLE_LAYERS, 64))
    for layer in (*STYLE_LAYERS, RGB):
        a, b = whole[layer].table, tiled[layer].table
        assert b.shape == a.shape
        assert float((a - b).norm() / a.norm()) < 0.1, layer  # the margins' context differs a little


def test_a_run_matches_the_style_distribution():
    out = stylize(CONTENT, DOTS, size=SIDE, steps=30, scales=1, style_loss="sw", preview_every=0)
    assert out.shape == CONTENT.shape and np.isfinite(out).all()
    assert _distance(out, DOTS) < 0.5 * _distance(CONTENT, DOTS)


def test_each_region_takes_its_own_style():
    gray = np.repeat((0.3 + 0.4 * YY)[..., None], 3, axis=-1).astype(np.float32)
    halves = np.where(XX < 0.5, 1, 2).astype(np.uint8)
    out = stylize(gray, [STRIPES, DOTS], labels=halves, size=SIDE, steps=40, scales=2, style_loss="sw",
                  style_weight=50.0, preview_every=0)
    half = SIDE // 2

    def grams(image):
        return {k: gram(v) for k, v in extract(image, STYLE_LAYERS).items()}

    def distance(a, b):
        return sum(float((a[k] - b[k]).square().sum() / b[k].square().sum()) for k in a)

    styles = [grams(s[:, :half]) for s in (STRIPES, DOTS)]  # measured by Gram matrices: not what was optimised
    left, right = grams(out[:, :half]), grams(out[:, half:])
    assert distance(left, styles[0]) < 0.7 * distance(left, styles[1])
    assert distance(right, styles[1]) < 0.7 * distance(right, styles[0])


def test_a_blend_is_a_mixture_in_proportion():
    """Blend (1, 0) is the first style alone; (1, 1) lands between the two."""
    options = {"size": 32, "steps": 6, "scales": 1, "style_loss": "sw", "preview_every": 0, "style_weight": 30.0}
    alone = stylize(CONTENT, STRIPES, **options)
    np.testing.assert_array_equal(stylize(CONTENT, [STRIPES, DOTS], style_blend=(1, 0), **options), alone)
    both = stylize(CONTENT, [STRIPES, DOTS], style_blend=(1, 1), **options)
    blue = [float(image[..., 2].mean() - image[..., 0].mean()) for image in (alone, both)]
    assert blue[1] > blue[0] + 0.05  # the dots' blue came in


@pytest.mark.parametrize("options", [
    {"tile_size": 32, "tile_overlap": 8},
    {"preserve_color": "luminance"},
    {"preserve_color": "histogram"},
    {"precision": "bf16"},
], ids=["tiles", "luminance", "histogram", "bf16"])
def test_every_mode_runs(options):
    content = CONTENT[:48, :48]
    out = stylize(content, DOTS, size=48, steps=4, scales=1, style_loss="sw", preview_every=0, **options)
    assert out.shape == content.shape and np.isfinite(out).all()
    assert np.abs(out - content).mean() > 0.01


def test_a_stack_follows_the_flow():
    stack = np.stack([CONTENT, np.roll(CONTENT, 2, axis=1)])
    out = stylize(stack, DOTS, size=SIDE, steps=6, scales=1, style_loss="sw", preview_every=0)
    assert out.shape == stack.shape and np.isfinite(out).all()
    assert np.abs(out - stack).mean() > 0.01


def test_a_guide_of_ones_is_no_guide_also_on_a_sample():
    """The weighted (region) path and the plain one agree, with large layers sampled (at 64 px relu1_1 1 in
    16)."""
    feats, style = extract(CONTENT, STYLE_LAYERS), extract(DOTS, STYLE_LAYERS)
    with torch.inference_mode():
        targets = Slicer(0, SIDE, CPU).targets([style])
    weights = dict.fromkeys(STYLE_LAYERS, 0.2)
    ones = {k: torch.ones(1, 1, *v.shape[-2:]) for k, v in feats.items()}
    plain, guided = SlicedStyle(weights, 0)(feats, targets), SlicedStyle(weights, 0)(feats, targets, guide=ones)
    assert float(guided) == pytest.approx(float(plain), rel=1e-4)
