"""Shared fixtures: the widget docked in a real viewer through the plugin manifest."""

from __future__ import annotations

import pytest

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
