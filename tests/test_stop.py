"""Stopping a run at any stage: stage records between steps, a cancel Event that ends a run mid-step or
mid-load, and a memory refusal before the network loads."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from napari_neural_style import StyleParams, stylize_steps
from napari_neural_style.engine import memory, network
from napari_neural_style.engine.plan import make_plan
from napari_neural_style.engine.progress import STOPPED

RNG = np.random.default_rng(5)
CONTENT = RNG.random((48, 64, 3)).astype(np.float32)
STYLE = RNG.random((40, 40, 3)).astype(np.float32)
TILED = StyleParams(size=96, steps=4, scales=2, tile_size=56, tile_overlap=8, preview_every=0)


class CancelAfter(threading.Event):
    """Set by itself at its ``n``-th check: a stop that lands at an exact point of the computation."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.checks = n, 0

    def is_set(self) -> bool:
        self.checks += 1
        if self.checks >= self.n:
            self.set()
        return super().is_set()


def stopped_at(stage: str) -> list:
    """The records of a TILED run with stages, its cancel set at the first stage record starting ``stage``."""
    cancel = threading.Event()
    records = []
    for p in stylize_steps(CONTENT, STYLE, TILED, cancel=cancel, stages=True):
        records.append(p)
        if p.stage.startswith(stage):
            cancel.set()
    return records


def test_stage_records_say_what_the_run_does():
    """With stages, a record before each long piece that is not a step; the steps are the plan's."""
    records = list(stylize_steps(CONTENT, [STYLE, STYLE[::-1]], TILED, stages=True))
    stages = [p.stage for p in records if p.stage]
    assert stages[:4] == ["loading the network", "computing style targets (scale 1 of 2, style 1 of 2)",
                          "computing style targets (scale 1 of 2, style 2 of 2)",
                          "computing content targets (scale 1 of 2)"]
    assert "computing style targets (scale 2 of 2, style 2 of 2, tile 4 of 4)" in stages  # 96² in 48-px tiles
    assert "computing content targets (scale 2 of 2, tile 4 of 4)" in stages
    assert all(not p.losses and p.image is None for p in records if p.stage)
    steps = [p for p in records if not p.stage]
    assert len(steps) == make_plan(TILED, CONTENT.shape).total and steps[-1].done
    assert [p.step for p in steps] == list(range(1, len(steps) + 1))
    assert not any(p.stage for p in stylize_steps(CONTENT, STYLE, TILED))  # only when asked for


def test_cancel_mid_step_keeps_the_image_before_that_step():
    """A stop inside a step's forward or backward pass ends the run there: the last record is a stopped one
    whose image is that of the steps finished, as a run of that many steps gives."""
    params = StyleParams(size=64, steps=5, scales=1, preview_every=0, threads=1)
    first = CancelAfter(10**9)
    at = [first.checks for _ in stylize_steps(CONTENT, STYLE, params, cancel=first)]  # checks when step k ended
    per_step = at[3] - at[2]  # checks in one step: before each layer's forward and backward, and after it
    for into in (per_step // 4, 3 * per_step // 4):  # forward, backward
        cancel = CancelAfter(at[2] + into)  # inside the fourth step
        records = list(stylize_steps(CONTENT, STYLE, params, cancel=cancel))
        assert [p.step for p in records] == [1, 2, 3, 3] and records[-1].stage == STOPPED
        three = list(stylize_steps(CONTENT, STYLE, StyleParams(size=64, steps=3, scales=1, threads=1)))[-1]
        np.testing.assert_array_equal(records[-1].image, three.image)


def test_cancel_during_the_network_load_ends_at_once(monkeypatch):
    """A load cannot be interrupted: the run leaves it behind (it finishes and caches in its thread)."""
    slow, started = threading.Event(), threading.Event()

    def slow_preload(weights: str, device: str) -> None:
        started.set()
        slow.wait(30)

    monkeypatch.setattr(network, "preload", slow_preload)
    cancel = threading.Event()
    run = stylize_steps(CONTENT, STYLE, TILED, cancel=cancel, stages=True)
    assert next(run).stage == "loading the network"
    threading.Timer(0.3, cancel.set).start()
    start = time.perf_counter()
    records = list(run)
    seconds = time.perf_counter() - start
    slow.set()
    assert started.is_set() and [p.stage for p in records] == [STOPPED] and records[0].image is None
    assert seconds < 1.0


def test_a_stop_before_the_first_step_renders_nothing(monkeypatch):
    """Nothing painted yet: the stopped record has no image, and the start is not rendered at full size for
    it (at 8192 px that took 2.4 s of a 3-s stop)."""
    from napari_neural_style.engine import run

    rendered = []
    render = run.render
    monkeypatch.setattr(run, "render", lambda *args: rendered.append(args) or render(*args))
    records = stopped_at("computing style targets")
    assert records[-1].stage == STOPPED and records[-1].step == 0 and records[-1].image is None
    assert rendered == []


def test_cancel_between_stages_and_after_a_stack_slice():
    """Setting cancel while the generator waits at a stage record ends it at the next one; a stack stops
    after the current slice's stopped record, keeping the finished slices."""
    records = stopped_at("computing content targets (scale 2")
    assert records[-1].stage == STOPPED and records[-1].image.shape == (72, 96, 3)
    stack = np.stack([CONTENT, CONTENT[::-1]])
    cancel = CancelAfter(10**9)
    params = StyleParams(size=64, steps=2, scales=1, preview_every=0)
    total = list(stylize_steps(stack, STYLE, params, cancel=cancel))
    cancel2 = CancelAfter(cancel.checks - 3)
    records = list(stylize_steps(stack, STYLE, params, cancel=cancel2))
    assert records[-1].stage == STOPPED and records[-1].index == (1,) and len(records) < len(total) + 1
    assert [p.index for p in records if p.stack is not None] == [(0,)]


def test_a_run_that_does_not_fit_is_refused_before_the_network_loads(monkeypatch):
    """The widget's run path checks memory first: a refused size never loads the network."""
    from napari_neural_style.session import _run_steps

    loads = []
    monkeypatch.setattr(network, "preload", lambda *args: loads.append(args))
    monkeypatch.setattr(network, "load_network", lambda *args: loads.append(args))
    monkeypatch.setattr(memory, "host_available_bytes", lambda: 1 << 30)
    run = _run_steps(np.zeros((4096, 4096, 3), np.uint8), [STYLE], StyleParams(size=8192), labels=None, rgb=True,
                     init_image=None, stopping=threading.Event())
    with pytest.raises(ValueError, match=r"needs about .* GiB but 1.0 GiB are free"):
        next(run)
    assert loads == []
