"""The plan of a run (shapes, scales, tiles, totals) is worked out without torch, and matches the run."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

from napari_neural_style import StyleParams, stylize_steps
from napari_neural_style.engine.params import PRESETS
from napari_neural_style.engine.plan import (
    RUN_PASS_PIXELS,
    RUN_PASSES,
    SETUP_PASSES,
    PassCost,
    Plan,
    StackPlan,
    make_plan,
)

PLAN_WITHOUT_TORCH = """
import json, sys
from napari_neural_style.engine import StyleParams, make_plan
tiled = make_plan(StyleParams(size=3000, steps=30, tile_size=1024, tile_overlap=64), (2000, 3000, 3))
stack = make_plan(StyleParams(size=256, steps=40), (7, 5, 300, 400))
print(json.dumps({"tiled": tiled.total, "tiles": [len(s.tiles or ()) for s in tiled.scales],
                  "stack": stack.total, "slices": stack.slices, "torch": "torch" in sys.modules}))
"""


def test_plans_of_tiled_and_stack_runs_need_no_torch():
    out = subprocess.run([sys.executable, "-c", PLAN_WITHOUT_TORCH], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert got["torch"] is False
    assert got["tiles"] == [0, 2, 12]  # 750×500 whole, 1500×1000 in 2×1 tiles, 3000×2000 in 4×3
    schedule = StyleParams(steps=30).schedule  # (fraction, steps) per scale
    assert got["tiled"] == schedule[0][1] + 2 * schedule[1][1] + 12 * schedule[2][1]
    later = round(40 * StyleParams().stack_steps)  # chained slices: the finest scale only
    assert got["slices"] == 35 and got["stack"] == 40 + 34 * later


def test_plan_total_is_what_the_run_yields_and_pickles():
    content = np.random.default_rng(0).random((3, 40, 56)).astype(np.float32)
    params = StyleParams(size=48, steps=6, scales=2, tile_size=32, tile_overlap=8, preview_every=0)
    plan = make_plan(params, content.shape)
    assert isinstance(plan, StackPlan) and isinstance(plan.first, Plan)
    assert pickle.loads(pickle.dumps(plan)) == plan
    seen = list(stylize_steps(content, content[0], params))
    assert len(seen) == plan.total == seen[0].total


def test_eta_leaves_out_the_setup(monkeypatch):
    """The ETA extrapolates the steps' own time: a slow start (style targets here) is not counted again."""
    from napari_neural_style.engine import run

    targets = run.style_targets

    def slow_targets(*args, **kwargs):
        time.sleep(3.0)
        return targets(*args, **kwargs)

    monkeypatch.setattr(run, "style_targets", slow_targets)
    content = np.random.default_rng(1).random((32, 32, 3)).astype(np.float32)
    first = next(stylize_steps(content, content, StyleParams(size=32, steps=5, scales=1, preview_every=0)))
    assert first.elapsed > 3.0
    assert first.eta <= 4 * (first.elapsed - 3.0) + 0.5  # 4 more steps like the first, not 3 s each


def test_pass_cost_fits_two_timed_passes():
    cost = PassCost.fit([(256 * 256, 1.3), (128 * 128, 0.4)])
    assert cost.seconds(128 * 128) == pytest.approx(0.4) and cost.seconds(256 * 256) == pytest.approx(1.3)
    assert PassCost.fit([(100, 2.0), (400, 1.0)]) == PassCost(0.0, 1.0 / 400)  # noise: never a negative term


def test_seconds_count_steps_and_targets_per_scale_tile_and_slice():
    cost = PassCost(overhead=0.1, per_pixel=1e-5)
    params = StyleParams(size=512, steps=100, scales=3, tile_size=0)
    plan = make_plan(params, (512, 512, 3))
    by_hand = sum((s.steps + SETUP_PASSES) * cost.seconds(s.shape[0] * s.shape[1]) for s in plan.scales)
    assert plan.seconds(cost, setup=False) == pytest.approx(by_hand)
    assert plan.seconds(cost) == pytest.approx(by_hand + RUN_PASSES * cost.seconds(RUN_PASS_PIXELS))
    tiled = make_plan(StyleParams(size=512, steps=100, scales=3, tile_size=256, tile_overlap=32), (512, 512, 3))
    assert tiled.seconds(cost) > plan.seconds(cost)  # every tile repeats the steps, on overlapping pixels
    stack = make_plan(params, (5, 512, 512, 3))
    assert stack.seconds(cost) == pytest.approx(plan.seconds(cost) + 4 * stack.later.seconds(cost, setup=False))
    quick, best = (make_plan(StyleParams(**PRESETS[k]), (512, 512, 3)).seconds(cost) for k in ("quick", "best"))
    assert best > 10 * quick
