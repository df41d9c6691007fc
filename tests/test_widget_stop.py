"""Stop in a real viewer at any stage of a run, with the status saying what the run is doing."""

from __future__ import annotations

import re
import time

from conftest import napari_process, outputs
from skimage import data

RUN_TIMEOUT_MS = 120_000
STOP_S = 10.0  # the engine alone: 0.09-0.2 s; the widget beside 12-16 busy processes on 2 cores: 2.2-6.8 s


def test_stop_during_style_targets_ends_at_once(docked, qtbot):
    """A run in many tiles spends its first seconds on style targets: the status says so, tile by tile,
    and Stop ends it at once, leaving no empty output layer."""
    viewer, widget = docked({"a": (data.astronaut()[::4, ::4], {}), "b": (data.hubble_deep_field()[::4, ::4], {})},
                            "a", "b", size=512, steps=10, scales=1, tile_size=64, tile_overlap=8)
    widget.run_button.clicked.emit()
    tile = re.compile(r"computing style targets \(tile (\d+) of ")
    qtbot.waitUntil(lambda: (m := tile.search(widget.status.value)) and int(m.group(1)) >= 3, timeout=RUN_TIMEOUT_MS)
    start = time.perf_counter()
    widget.stop_button.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30_000)
    assert time.perf_counter() - start < STOP_S
    assert widget.status.value == "stopped before the first step" and outputs(viewer) == []



def test_closing_napari_mid_run_exits_cleanly(tmp_path):
    """In a napari process of its own: closing napari while a run steps and the network is being timed in the
    background, then exiting as napari does, ends the process cleanly. It aborted ("terminate called without
    an active exception", exit status 134): Python killed the timing's daemon thread inside torch at exit."""
    probe = napari_process("close_mid_run_napari.py", tmp_path)  # exit status 0
    assert "timing the network: True" in probe.stdout, probe.stdout  # closed while it was timing
    assert "terminate called" not in probe.stderr
