"""The plan of a run (shapes, scales, tiles, totals) is worked out without torch, and matches the run."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np

from napari_neural_style import StyleParams, stylize_steps
from napari_neural_style.engine.plan import Plan, StackPlan, make_plan

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
