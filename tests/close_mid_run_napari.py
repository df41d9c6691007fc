"""A napari process of its own (under a display): dock the widget on the Astronaut and Hubble sample, press
Run, and close napari while the run starts and the network is being timed in the background; then let Python
exit as it does when a user closes napari (``test_widget_stop``). Prints the threads still alive."""

from __future__ import annotations

import threading

from dock_open_napari import until  # this folder is the script's first import path


def main() -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_neural_style.engine import network

    app = QApplication.instance() or QApplication([])
    viewer = napari.Viewer()
    viewer.open_sample("napari-neural-style", "astronaut_hubble")
    _, widget = viewer.window.add_plugin_dock_widget("napari-neural-style", "Neural style transfer")
    widget.content.value, widget.style.value = viewer.layers["astronaut"], viewer.layers["style: hubble"]
    widget.size.value = 256

    widget.run_button.clicked.emit()  # it waits for the network's load
    until(app, lambda: network._load_cached.cache_info().currsize == 1)  # loaded: the timing begins (seconds)
    until(app, lambda: widget.session.steps > 0 or not widget.calibrations.pending)
    timing = bool(widget.calibrations.pending)
    viewer.close()
    print(f"closed at step {widget.session.steps}, timing the network: {timing}; alive: "
          f"{sorted(t.name for t in threading.enumerate())}", flush=True)


if __name__ == "__main__":
    main()
