"""Make docs/screenshot.png: real napari with the sample data, the widget docked, mid-run (the first preview
of the finest scale, a few steps before the end).

Run under Xvfb:  xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshot.py
"""

from __future__ import annotations

import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

OUT = Path(__file__).with_name("screenshot.png")
TIMEOUT_S = 900


def main() -> None:
    viewer = napari.Viewer(title="napari-neural-style")
    viewer.window.resize(1500, 900)
    viewer.open_sample("napari-neural-style", "astronaut_hubble")
    _, widget = viewer.window.add_plugin_dock_widget("napari-neural-style", "Neural style transfer")
    widget.content.value = viewer.layers["astronaut"]
    widget.style.value = viewer.layers["style: hubble"]
    widget.size.value, widget.preview_every.value = 256, 10
    widget.run_button.clicked.emit()
    app, start = QApplication.instance(), time.monotonic()
    session = widget.session
    while not (session.last and session.last.scale == session.last.scales - 1 and session.last.image is not None):
        if time.monotonic() - start > TIMEOUT_S or widget.worker is None:
            raise SystemExit(f"the run did not reach its finest scale within {TIMEOUT_S} s")
        app.processEvents()
        time.sleep(0.02)
    viewer.layers["style: hubble"].visible = False
    viewer.reset_view()
    for _ in range(20):
        app.processEvents()
    viewer.screenshot(str(OUT), canvas_only=False)
    print(f"{OUT}: {widget.status.value} after {time.monotonic() - start:.0f} s")
    widget.shutdown()
    viewer.close()


if __name__ == "__main__":
    main()
