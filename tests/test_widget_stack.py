"""The widget with stacks, labels and several styles (run under xvfb-run): nD output, Stop keeps slices."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
from conftest import napari_process, notifications_since, output, outputs
from napari.utils.notifications import notification_manager
from skimage import data

from napari_neural_style.engine.params import StyleParams
from napari_neural_style.engine.plan import make_plan
from napari_neural_style.widget import METADATA_KEY, params_from_widget

RUN_TIMEOUT_MS = 180_000
MAX_GROWTH = 256 * 2**20  # bytes a 4-slice range of a lazy stack may add; reading the test's stack adds 1 GiB
RNG = np.random.default_rng(2)

LATER = max(1, round(4 * StyleParams().stack_steps))  # steps of each chained slice after the first (of 4)


@pytest.fixture
def viewer_widget(docked):
    """Content 'stack' (3, 40, 48) uint16 with contrast limits set, styles 'b' and 'c', the widget docked."""
    stack = (RNG.random((3, 40, 48)) * 4000).astype(np.uint16)
    return docked({"stack": (stack, {"contrast_limits": (0, 4000)}), "b": (data.astronaut()[::8, ::8], {}),
                   "c": (data.coffee()[::8, ::8], {})}, "stack", "b", size=32, steps=4, preview_every=0, scales=1)


def test_whole_stack_only_for_stacks(viewer_widget):
    viewer, widget = viewer_widget
    assert widget.whole_stack.enabled
    widget.content.value = viewer.layers["c"]  # 2D RGB
    assert not widget.whole_stack.enabled and not widget.whole_stack.value


def test_contrast_limits_reach_the_engine(viewer_widget):
    _, widget = viewer_widget
    assert params_from_widget(widget).contrast_limits == (0.0, 4000.0)


def test_whole_stack_streams_slices_into_an_nd_layer(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    widget.whole_stack.value = True
    shapes = []
    widget.run_button.clicked.emit()
    widget.worker.yielded.connect(lambda p: p.stack is not None and shapes.append(output(viewer).data.shape))
    qtbot.waitUntil(lambda: widget.worker is None, timeout=RUN_TIMEOUT_MS)
    out = output(viewer)
    assert shapes == [(n, 27, 32, 3) for n in (1, 2, 3)]  # one nD layer, growing by each finished slice
    assert out.data.dtype == np.float32 and out.rgb and (out.data.std(axis=(1, 2, 3)) > 0.01).all()
    np.testing.assert_allclose(out.scale, [1, 40 / 27, 48 / 32])  # the output covers the content
    assert out.metadata[METADATA_KEY]["steps_done"] == 4 + 2 * LATER and not out.metadata[METADATA_KEY]["stopped"]


def test_progress_and_status_of_a_whole_stack(viewer_widget, qtbot):
    """The dock's progress bar starts at the whole stack's total; the status names the slice in words."""
    viewer, widget = viewer_widget
    widget.whole_stack.value = True
    total = make_plan(params_from_widget(widget), viewer.layers["stack"].data.shape, rgb=False).total
    assert total == 4 + 2 * LATER  # later slices chain from the previous one with stack_steps of the steps
    texts: list[str] = []  # what the run asks the dock to show (it repaints at most every SHOW_MS)
    show = widget._set_status
    widget._set_status = lambda text: (texts.append(text), show(text))
    widget.run_button.clicked.emit()
    assert widget.progress.max == total and widget.progress.value == 0
    qtbot.waitUntil(lambda: widget.worker is None, timeout=RUN_TIMEOUT_MS)
    steps = [text for text in texts if " · step " in text]
    assert [int(text.split(" · step ")[1].split("/")[0]) for text in steps] == list(range(1, total + 1))
    assert {text.split(" · ")[0] for text in steps} == {"slice 1 of 3", "slice 2 of 3", "slice 3 of 3"}
    assert steps[-1].startswith(f"slice 3 of 3 · step {total}/{total} · ")
    assert widget.progress.value == total and widget.status.value.startswith("done")


def test_stop_keeps_finished_slices(viewer_widget, qtbot):
    """Stop keeps the finished slices and leaves the others out (no black slices over the content)."""
    viewer, widget = viewer_widget
    widget.whole_stack.value = True
    widget.steps.value = 20  # chained slices get several steps each (stack_steps), so Stop lands inside one
    finished = []
    widget.run_button.clicked.emit()
    widget.worker.yielded.connect(lambda p: p.stack is not None and (finished.append(p.index), widget.stop()))
    qtbot.waitUntil(lambda: widget.worker is None, timeout=RUN_TIMEOUT_MS)
    out = output(viewer).data
    assert 1 <= len(finished) < 3 and out.shape == (len(finished), 27, 32, 3)
    assert (out.std(axis=(1, 2, 3)) > 0.01).all()
    assert output(viewer).metadata[METADATA_KEY]["stopped"]
    assert f"kept the {len(finished)} of 3 slices finished" in widget.status.value


def test_labels_pick_a_style_per_region(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    labels = np.zeros((40, 48), np.uint8)
    labels[:, :24], labels[:, 24:36] = 1, 2
    viewer.add_labels(labels, name="regions")
    widget.regions.value = viewer.layers["regions"]
    widget.more_styles.value = [viewer.layers["c"]]
    widget.run_button.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=RUN_TIMEOUT_MS)
    z = int(viewer.dims.point[0])
    layer = output(viewer)  # the slice on screen, placed at its z and named for it
    assert layer.name == f"stack[{z}] × b" and layer.translate[0] == z
    assert layer.metadata[METADATA_KEY]["plane_index"]["content"] == [z]
    out = layer.data[0]
    assert layer.data.shape == (1, 27, 32, 3)
    right = out[:, 25:]  # label 0 (columns 36+ of 48 → 24+ of 32): the content, gray
    assert np.abs(right - right.mean(axis=-1, keepdims=True)).max() < 1e-5
    assert np.abs(out[:, :15] - out[:, :15].mean(axis=-1, keepdims=True)).max() > 0.01  # stylised: colour


def test_continue_a_slice_result_with_labels_and_more_styles(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    labels = np.zeros((40, 48), np.uint8)
    labels[:, :24], labels[:, 24:] = 1, 2
    viewer.add_labels(labels, name="regions")
    widget.regions.value, widget.more_styles.value = viewer.layers["regions"], [viewer.layers["c"]]
    viewer.dims.set_point(0, 2)
    widget.run_button.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=RUN_TIMEOUT_MS)
    first = output(viewer)
    viewer.dims.set_point(0, 0)  # elsewhere now: the continued run still reads slice 2
    widget.regions.value, widget.more_styles.value = None, []
    viewer.layers.selection.active = first
    widget.steps.value = 2
    widget.continue_button.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=RUN_TIMEOUT_MS)
    second = outputs(viewer)[-1]
    meta = second.metadata[METADATA_KEY]
    assert second.name == "stack[2] × b [1]" and second.translate[0] == 2 and second.data.shape == (1, 27, 32, 3)
    assert meta["plane_index"]["content"] == [2] and meta["labels"] == "regions" and meta["more_styles"] == ["c"]
    assert meta["continues"]["layer"] == "stack[2] × b" and meta["steps_done"] == 2 and meta["error"] is None


def test_slice_range_stylises_only_its_slices_at_their_z(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    widget.whole_stack.value = True
    assert (widget.slice_start.value, widget.slice_stop.value, widget.slice_stop.max) == (0, 3, 3)
    widget.slice_start.value, widget.slice_stop.value = 1, 3
    assert widget.session is None and make_plan(params_from_widget(widget), (2, 40, 48), rgb=False).total == 4 + LATER
    widget.run_button.clicked.emit()
    assert widget.progress.max == 4 + LATER
    qtbot.waitUntil(lambda: widget.worker is None, timeout=RUN_TIMEOUT_MS)
    out = output(viewer)
    meta = out.metadata[METADATA_KEY]
    assert out.name == "stack[1:3] × b" and out.data.shape == (2, 27, 32, 3) and out.translate[0] == 1
    assert meta["slices"] == [1, 3] and meta["whole_stack"] and meta["steps_done"] == 4 + LATER
    widget.whole_stack.value, widget.slice_start.value = False, 0
    viewer.layers.selection.active = out
    widget.reuse_button.clicked.emit()  # the range comes back with the other settings
    assert widget.whole_stack.value and (widget.slice_start.value, widget.slice_stop.value) == (1, 3)
    widget.slice_stop.value = 1  # an empty range: a readable notification, no run
    n = len(notification_manager.records)
    widget.run_button.clicked.emit()
    assert widget.session is None
    assert any("slices (1, 1) must satisfy 0 <= start < stop <= 3" in m for m in notifications_since(n))


@pytest.fixture(scope="module")
def scheduler():
    """A LocalCluster of one single-threaded worker process; its scheduler's address."""

    from distributed import LocalCluster

    from napari_neural_style.engine.cluster import worker_environment

    with worker_environment():
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                               env={"PYTHONPATH": os.pathsep.join(sys.path)})
    with cluster:
        yield cluster.scheduler_address


def test_scheduler_field_runs_the_range_on_the_cluster(viewer_widget, qtbot, scheduler):
    viewer, widget = viewer_widget
    widget.whole_stack.value, widget.advanced.value = True, True
    shown = lambda name: not widget[name].native.isHidden()  # noqa: E731 - the viewer's window is not shown
    assert shown("scheduler") and shown("slice_start") and widget.scheduler.label == "dask scheduler"
    widget.slice_start.value, widget.scheduler.value = 1, f" {scheduler} "
    seen, landed = [], []
    widget.run_button.clicked.emit()
    widget.worker.yielded.connect(lambda p: seen.append((p.index, p.stack is not None)))
    widget.worker.yielded.connect(lambda p: p.stack is not None and landed.append(output(viewer).data.copy()))
    qtbot.waitUntil(lambda: widget.worker is None, timeout=RUN_TIMEOUT_MS)
    out = output(viewer)
    meta = out.metadata[METADATA_KEY]
    assert meta["error"] is None and meta["scheduler"] == scheduler and meta["slices"] == [1, 3]
    assert out.data.shape == (2, 27, 32, 3) and out.translate[0] == 1 and (out.data.std(axis=(1, 2, 3)) > 0.01).all()
    assert {index for index, _ in seen} == {(0,), (1,)} and seen[-1] == ((1,), True)  # each slice reported
    # slice 0 came back and showed as soon as it was done, on its own, before its segment (both slices) ended
    # (whether slice 1 is still empty then is a race: the worker thread fills the shared array meanwhile)
    first = landed[0]
    assert [index for index, has_stack in seen if has_stack][0] == (0,)
    assert first.shape == (2, 27, 32, 3) and first[0].std() > 0.01
    assert widget.session is None and widget.status.value.startswith("done")


def test_stop_on_the_cluster_cancels_its_tasks(viewer_widget, qtbot, scheduler):
    """Stop when the first slice lands (its segment, all 3 slices on the one worker, still runs): the run
    ends at once, keeps what landed, and leaves no task of its own on the scheduler (the generator is
    closed in the run's thread: tasks cancelled, client closed)."""
    from distributed import Client

    viewer, widget = viewer_widget
    # slices slow enough that Stop lands before the segment ends
    widget.whole_stack.value, widget.scheduler.value, widget.steps.value = True, scheduler, 150
    widget.run_button.clicked.emit()
    widget.worker.yielded.connect(lambda p: p.stack is not None and widget.stop())
    qtbot.waitUntil(lambda: widget.worker is None, timeout=RUN_TIMEOUT_MS)
    out = output(viewer).data
    kept = int(out.reshape(3, -1).any(axis=1).sum())
    assert 1 <= kept < 3 and out[0].std() > 0.01 and output(viewer).metadata[METADATA_KEY]["stopped"]
    assert f"kept the {kept} of 3 slices finished" in widget.status.value
    with Client(scheduler) as client:
        qtbot.waitUntil(lambda: client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0,
                        timeout=10_000)


def test_bad_scheduler_address_is_a_readable_notification(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    widget.whole_stack.value, widget.scheduler.value = True, "no-port-here"
    n = len(notification_manager.records)
    widget.run_button.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=RUN_TIMEOUT_MS)
    messages = notifications_since(n)
    assert any("no dask scheduler reached at 'no-port-here'" in m for m in messages), messages
    assert "Traceback" not in "".join(messages) and widget.status.value.startswith("failed: no dask scheduler")


def test_a_lazy_stack_too_big_for_memory_reads_only_its_range(tmp_path):
    """A dask layer of 2000×512×512 uint16 (1 GiB; 4 GiB as float32), a 4-slice range stylised in a napari
    process of its own (this one holds what earlier tests left): that process grows by far less than one
    stack's worth and stays under 2 GiB all its life; the output holds the 4 slices at their z."""
    got = json.loads(napari_process("lazy_range_napari.py", tmp_path).stdout.strip().splitlines()[-1])
    base, peak = got["base"], got["life"]
    print(f"RSS before the range run {base / 2**20:.0f} MiB, peak of the process {peak / 2**20:.0f} MiB "
          f"(range run: +{(got['peak'] - base) / 2**20:.0f} MiB)")
    assert got["name"] == "big[1000:1004] × b" and got["shape"] == [4, 32, 32, 3] and got["z"] == 1000
    assert got["error"] is None
    assert got["peak"] - base < MAX_GROWTH and peak < 2 * 2**30
