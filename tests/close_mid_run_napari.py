"""A napari process of its own (under a display): dock the widget on the Astronaut and Hubble sample, press
Run, and close napari while the run starts and the network is being timed in the background; then let Python
exit as it does when a user closes napari (``test_widget_stop``). Prints the threads still alive."""

from __future__ import annotations

import threading
import time

TIMEOUT_S = 300.0


def main() -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_neural_style.engine import network

    viewer = napari.Viewer()
    viewer.open_sample("napari-neural-style", "astronaut_hubble")
    _, widget = viewer.window.add_plugin_dock_widget("napari-neural-style", "Neural style transfer")
    widget.content.value, widget.style.value = viewer.layers["astronaut"], viewer.layers["style: hubble"]
    widget.size.value = 256
    app = QApplication.instance()

    def until(condition) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit("timed out")
            app.processEvents()
            time.sleep(0.01)

    widget.run_button.clicked.emit()  # it waits for the network's load
    until(lambda: network._load_cached.cache_info().currsize == 1)  # loaded: the timing begins (seconds)
    until(lambda: widget.session.steps > 0 or not widget.calibrations.pending)
    timing = bool(widget.calibrations.pending)
    viewer.close()
    print(f"closed at step {widget.session.steps}, timing the network: {timing}; alive: "
          f"{sorted(t.name for t in threading.enumerate())}", flush=True)


if __name__ == "__main__":
    main()
