"""One time model for the estimate and the ETA: a plan's timeline counts what the run does (stacks, labels,
styles, tiles, the thread tuner's probes), and the ETA follows the run's own step times along it."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from napari_neural_style import StyleParams, stylize_steps
from napari_neural_style.engine import timing
from napari_neural_style.engine.plan import make_plan
from napari_neural_style.engine.threads import ThreadTuner
from napari_neural_style.engine.timing import Clock, Line, PassCost, Stretch, estimate, probing, timeline

# one thread 4 × faster than all cores (a busy machine): the tuner keeps one and probes all cores now and then
BUSY = PassCost(Line(0.02, 2e-6), Line(0.1, 8e-6), all_cores=False)
QUICK = StyleParams(size=256, steps=57)
STYLE = [(300, 400)]


def test_line_fits_two_timed_passes():
    line = Line.fit({256 * 256: 1.3, 128 * 128: 0.4})
    assert line.seconds(128 * 128) == pytest.approx(0.4) and line.seconds(256 * 256) == pytest.approx(1.3)
    assert Line.fit({100: 2.0, 400: 1.0}) == Line(0.0, 1.0 / 400)  # noise: never a negative term


def test_a_timeline_has_one_stretch_per_record_and_sets_up_each_loop():
    """One stretch per progress record; setting up (targets, the first step's warm-up) where a scale or
    tile starts; the tuner's probes where it runs them."""
    for params, shape in [(QUICK, (384, 512, 3)), (StyleParams(size=512, steps=30, tile_size=200), (384, 512, 3)),
                          (QUICK, (5, 160, 224))]:
        plan = make_plan(params, shape)
        stretches = timeline(plan, params, BUSY, STYLE)
        assert len(stretches) == plan.total
        plans = [plan] if not hasattr(plan, "slices") else [plan.first] + [plan.later] * (plan.slices - 1)
        loops = sum(len(s.tiles or [s]) for p in plans for s in p.scales)
        assert sum(s.fixed > 0 for s in stretches) == loops
    tiled = timeline(make_plan(StyleParams(size=512, steps=30, tile_size=200), (384, 512, 3)), QUICK, BUSY, STYLE)
    whole = timeline(make_plan(StyleParams(size=512, steps=30), (384, 512, 3)), QUICK, BUSY, STYLE)
    assert sum(s.seconds for s in tiled) > sum(s.seconds for s in whole)  # tiles repeat steps on overlaps


def test_a_stack_counts_every_slice_as_a_run_of_its_own():
    """The 5-slice z-stack that was estimated at 13 s and took 68.7 s: every later slice reads its slice and
    flow, sets up its targets again and starts a new thread tuner (two steps on all cores on a busy machine),
    none of which the old model counted."""
    params = StyleParams(size=224, steps=57)
    plan = make_plan(params, (5, 160, 224))
    stretches = timeline(plan, params, BUSY, STYLE)
    first, later = stretches[:plan.first.total], stretches[plan.first.total:plan.first.total + plan.later.total]
    assert stretches == first + later * 4
    pixels = 160 * 224
    kept, other = BUSY.seconds(pixels), BUSY.seconds(pixels, True)
    assert later[0].fixed >= (timing.SLICE + timing.FORWARD) * kept + timing.FORWARD * other
    assert [i for i, s in enumerate(later) if s.probe] == [0, 2]  # a fresh tuner on a busy machine
    assert sum(s.seconds for s in later) > plan.later.total * kept + 2 * (other - kept)
    assert estimate(plan, params, BUSY, STYLE) == pytest.approx(sum(s.seconds for s in first + later * 4))


def test_labels_and_styles_add_their_targets_and_guided_grams():
    plan = make_plan(QUICK, (384, 512, 3))
    one = estimate(plan, QUICK, BUSY, STYLE)
    three = estimate(plan, QUICK, BUSY, STYLE * 3)
    targets = sum(timing.FORWARD * BUSY.seconds(round(max(s.shape) ** 2 * 0.75), s is plan.scales[0])
                  for s in plan.scales)
    assert three - one == pytest.approx(2 * targets)  # each style's targets at every scale
    labelled = estimate(plan, QUICK, BUSY, STYLE * 2, regions=2)
    steps = sum(s.kept for s in timeline(plan, QUICK, BUSY, STYLE) if not s.probe)
    assert labelled - estimate(plan, QUICK, BUSY, STYLE * 2) >= 2 * timing.REGION * steps  # guided Grams per region


def test_probing_is_the_thread_tuners_schedule():
    """The model's probes are the steps the real tuner runs at the count it does not keep."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for fast in (1, 2):
            tuner = ThreadTuner()
            for fresh in (True, False):
                tuner.reset()
                for step in range(60):
                    tuner.before_step()
                    assert (tuner.current != fast) == probing(step, fresh, fast == 2), (fast, fresh, step)
                    tuner.after_step(0.1 if tuner.current == fast else 0.4)
            tuner.restore()
    finally:
        torch.set_num_threads(before)


def test_the_clock_follows_the_run_and_starts_at_the_estimate(monkeypatch):
    """Before any record the ETA is the estimate; after a few steps that took twice the modeled time, it is
    twice the modeled rest (no prior), and a tuner keeping the other count than modeled is followed."""
    now = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])
    stretches = [Stretch(1.0, 0.1, 0.4, False)] + [Stretch(0.0, 0.1, 0.4, i == 10) for i in range(29)]
    assert Clock(stretches, all_cores=True).eta() == pytest.approx(sum(s.seconds for s in stretches))
    clock = Clock(stretches, all_cores=True, prior=False)
    clock.start()
    for s in stretches[:4]:
        now[0] += 2 * s.seconds
        eta = clock.record(all_cores=True, keeps_all_cores=True)
    assert eta == pytest.approx(2 * sum(s.seconds for s in stretches[4:]))
    now[0] += 2 * 0.4  # the machine got busy: the tuner now keeps one thread, whose steps take 0.8 s
    eta = clock.record(all_cores=False, keeps_all_cores=False)
    assert eta == pytest.approx(24 * 2 * 0.4 + 2 * 0.1)  # kept steps at one thread, one probe on all cores


def test_eta_leaves_out_a_slow_start(monkeypatch):
    """A slow start (style targets here) is not taken as the pace of the steps to come."""
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
