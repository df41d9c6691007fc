"""Shared fixtures and helpers: the widget docked in a real viewer through the plugin manifest (and a small
astronaut × Hubble pair docked so), its output layer, the error notifications since a point, a napari script
run in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from napari.utils.notifications import NotificationSeverity, notification_manager
from skimage import data

from napari_neural_style.widget import METADATA_KEY

PLUGIN = "napari-neural-style"
SHUTDOWN_TIMEOUT_MS = 180_000


@pytest.fixture
def docked(make_napari_viewer, qtbot):
    """Factory: ``docked(layers, content, style, **values)`` adds image ``layers`` ({name: (data, kwargs)})
    to a new viewer, docks the widget via the manifest, selects content/style and sets widget values.
    Any run still going is shut down at teardown."""
    widgets = []

    def make(layers: dict, content: str, style: str, **values):
        viewer = make_napari_viewer()
        _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Neural style transfer")
        for name, (image, kwargs) in layers.items():
            viewer.add_image(image, name=name, **kwargs)
        widget.content.value, widget.style.value = viewer.layers[content], viewer.layers[style]
        for name, value in values.items():
            getattr(widget, name).value = value
        widgets.append(widget)
        return viewer, widget

    yield make
    for widget in widgets:
        widget.shutdown()
        qtbot.waitUntil(lambda w=widget: w.worker is None, timeout=SHUTDOWN_TIMEOUT_MS)


@pytest.fixture
def viewer_widget(docked):
    """A viewer with content 'a' (128² RGB) and style 'b' (55×63 RGB), and the widget docked via the manifest."""
    return docked({"a": (data.astronaut()[::4, ::4], {}), "b": (data.hubble_deep_field()[::16, ::16], {})},
                  "a", "b", size=64, steps=10, preview_every=2, scales=1)


def stepping(widget, steps: int = 1) -> bool:
    """The widget's run has made ``steps`` steps (its status line shows them at most every SHOW_S)."""
    return widget.session is not None and widget.session.steps >= steps


def outputs(viewer) -> list:
    """The viewer's output layers (those carrying run metadata), bottom to top."""
    return [layer for layer in viewer.layers if METADATA_KEY in layer.metadata]


def output(viewer):
    """The viewer's first output layer."""
    return outputs(viewer)[0]


def notifications_since(n: int, severity: NotificationSeverity = NotificationSeverity.ERROR) -> list[str]:
    """Messages of ``severity`` notified after the first ``n`` records."""
    return [r.message for r in notification_manager.records[n:] if r.severity == severity]


def napari_process(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``tests/<script>`` (a napari session of its own, under this test's display) with napari settings
    of its own under ``tmp_path``, not the user's; assert it exited with 0."""
    env = {**os.environ, "NAPARI_CONFIG": str(tmp_path / "settings.yaml")}
    probe = subprocess.run([sys.executable, str(Path(__file__).with_name(script))], capture_output=True, text=True,
                           timeout=600, env=env)
    assert probe.returncode == 0, probe.stderr[-3000:]
    return probe
