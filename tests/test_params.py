"""StyleParams validation, the per-scale step schedule and make_params."""

from __future__ import annotations

import dataclasses
import json
import math
from itertools import pairwise

import pytest

from napari_neural_style.engine import make_params
from napari_neural_style.engine.params import STYLE_LAYERS, StyleParams


def test_defaults_are_valid_and_json_friendly():
    params = StyleParams()
    assert params.style_layers == STYLE_LAYERS
    data = params.to_dict()
    assert set(data) == set(StyleParams.names())
    assert json.loads(json.dumps(data))["style_layers"] == list(STYLE_LAYERS)


def test_sequences_become_tuples_and_params_are_frozen():
    params = StyleParams(style_layers="relu3_1", style_blend=[1, 2], scale_steps=[1, 1, 2])
    assert params.style_layers == ("relu3_1",)
    assert params.style_blend == (1, 2) and params.scale_steps == (1, 1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.steps = 3


def test_weights_path_of_existing_file_is_accepted(tmp_path):
    path = tmp_path / "w.pt"
    path.write_bytes(b"")
    assert StyleParams(weights=str(path)).weights == str(path)


@pytest.mark.parametrize("options, fragment", [
    ({"style_weight": -1.0}, "style_weight must be >= 0"),
    ({"content_weight": -0.1}, "content_weight must be >= 0"),
    ({"tv_weight": -1}, "tv_weight must be >= 0"),
    ({"style_weight": math.nan}, "style_weight must be a finite number"),
    ({"style_weight": 0, "content_weight": 0}, "nothing to optimise"),
    ({"learning_rate": 0}, "learning_rate must be > 0"),
    ({"style_scale": 0}, "style_scale must be > 0"),
    ({"style_scale": 9}, "style_scale must be at most 8"),
    ({"style_layers": ("relu1_1", "relu9_9")}, "unknown style_layers ['relu9_9']"),
    ({"content_layers": ("conv4_5",)}, "unknown content_layers ['conv4_5']"),
    ({"style_layers": ()}, "style_layers is empty"),
    ({"steps": 0}, "steps must be between 1 and"),
    ({"steps": 2.5}, "steps must be a whole number"),
    ({"steps": True}, "steps must be a whole number"),
    ({"size": 8}, "size must be between 16 and"),
    ({"scales": 0}, "scales must be between 1 and 8"),
    ({"seed": -1}, "seed must be between 0 and"),
    ({"preview_every": -1}, "preview_every must be between 0 and"),
    ({"optimizer": "sgd"}, "optimizer must be one of lbfgs, adam, got 'sgd'"),
    ({"init": "zeros"}, "init must be one of content, palette, tones, noise, image"),
    ({"preserve_color": "yes"}, "preserve_color must be one of none, luminance, histogram"),
    ({"pooling": "min"}, "pooling must be one of max, avg"),
    ({"precision": "fp16"}, "precision must be one of auto, fp32, bf16"),
    ({"intensity": "log"}, "intensity must be one of dtype, percentile"),
    ({"style_loss": "mrf"}, "style_loss must be one of gram, sw"),
    ({"weights": "imagenet"}, "unknown weight source 'imagenet'"),
    ({"weights": ""}, "weights must be 'caffe', 'torchvision' or a path"),
    ({"style_layer_weights": (1.0, 2.0)}, "style_layer_weights has 2 values for 4 style_layers"),
    ({"style_layer_weights": (1, 1, -1, 1)}, "style_layer_weights must be non-negative"),
    ({"style_blend": (0, 0)}, "style_blend must have a positive sum"),
    ({"style_blend": (1, math.inf)}, "style_blend must be non-negative finite"),
    ({"scale_steps": (1, 1)}, "scale_steps has 2 fractions for 3 scales"),
    ({"scale_steps": (0, 0, 0)}, "scale_steps must have a positive sum"),
    ({"percentiles": (60, 40)}, "percentiles must be (low, high)"),
    ({"contrast_limits": (1.0, 0.0)}, "contrast_limits must be increasing"),
    ({"contrast_limits": (0.0, math.inf)}, "contrast_limits must be two finite numbers"),
    ({"device": "gpu"}, "device must be 'auto', 'cpu'"),
])
def test_bad_field_is_named(options, fragment):
    with pytest.raises(ValueError) as info:
        StyleParams(**options)
    assert fragment in str(info.value)


@pytest.mark.parametrize("steps, scales, scale_steps", [
    (300, 3, None), (300, 2, None), (3, 3, None), (2, 3, None), (1, 5, None), (7, 5, None), (1000, 8, None),
    (10, 2, (1, 1)), (100, 3, (0.1, 0.1, 0.8)), (5, 4, (0, 0, 0, 1)),
])
def test_schedule_sums_to_steps_coarsest_first(steps, scales, scale_steps):
    schedule = StyleParams(steps=steps, scales=scales, scale_steps=scale_steps).schedule
    fractions = [f for f, _ in schedule]
    assert sum(s for _, s in schedule) == steps
    assert all(s >= 1 for _, s in schedule)
    assert len(schedule) == min(scales, steps)
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert all(b == 2 * a for a, b in pairwise(fractions))


def test_schedule_shares():
    assert StyleParams().schedule == [(0.25, 30), (0.5, 5), (1.0, 11)]  # the defaults: 46 steps
    assert StyleParams(steps=180, scales=3).schedule == [(0.25, 117), (0.5, 20), (1.0, 43)]
    assert [s for _, s in StyleParams(steps=100, scales=3, scale_steps=(1, 1, 8)).schedule] == [10, 10, 80]
    assert StyleParams(steps=50, scales=1).schedule == [(1.0, 50)]
    assert StyleParams(style_loss="sw").schedule == [(0.25, 33), (0.5, 5), (1.0, 8)]  # sw: Gram's wall time


@pytest.mark.parametrize("size, default, two_scales", [
    (1024, [30, 5, 11], [5, 5]), (512, [30, 5, 11], [5, 5]), (384, [27, 4, 15], [3, 7]), (296, [23, 4, 19], [1, 9]),
    (256, [21, 3, 22], [1, 9]), (100, [21, 3, 22], [1, 9])])
def test_finest_scale_takes_a_larger_share_below_512_px(size, default, two_scales):
    """Below 512 px the finest scale's share is 512/size times larger (at most twice), taken from the coarser
    scales in proportion; the total stays ``steps``, and a single scale keeps them all."""
    assert [s for _, s in StyleParams(size=size).schedule] == default
    assert [s for _, s in StyleParams(size=size, steps=10, scales=2, scale_steps=(1, 1)).schedule] == two_scales
    assert StyleParams(size=size, steps=30, scales=1).schedule == [(1.0, 30)]


def test_make_params():
    base = make_params(size=64, steps=5)
    assert (base.size, base.steps) == (64, 5)
    assert make_params(base, steps=9) == dataclasses.replace(base, steps=9)
    with pytest.raises(ValueError, match="unknown option.*colour_weight"):
        make_params(colour_weight=1.0)
    with pytest.raises(ValueError, match="steps must be between"):
        make_params(base, steps=0)


@pytest.mark.parametrize(("size", "factor"), [(64, 0.5), (256, 0.5), (384, 0.75), (512, 1.0), (2048, 1.0)])
def test_content_weight_follows_size_below_512(size, factor):
    assert StyleParams(size=size, content_weight=2.0).size_content_weight == pytest.approx(2.0 * factor)


def test_objective_weighs_content_by_size():
    """The content term is the one scaled: style and image terms (temporal, tv) keep their weights."""
    import torch

    from napari_neural_style.engine.objective import Objective

    feats = {k: torch.rand(1, 4, 6, 6) for k in StyleParams().style_layers + StyleParams().content_layers}
    targets = {0: {k: torch.rand(1, 4, 4) for k in StyleParams().style_layers}}
    content = {k: torch.rand(1, 4, 6, 6) for k in StyleParams().content_layers}
    rgb = torch.rand(1, 3, 24, 24)
    small, large = (Objective(StyleParams(size=size, tv_weight=1.0), targets, content)(feats, rgb)
                    for size in (256, 512))
    assert float(small["content"]) == pytest.approx(0.5 * float(large["content"]))
    assert float(small["style"]) == pytest.approx(float(large["style"]))
    assert float(small["tv"]) == pytest.approx(float(large["tv"]))
