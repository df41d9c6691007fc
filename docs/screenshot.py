"""Make docs/screenshot.png: real napari with the sample data, the widget docked, mid-run (two thirds done).

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
    while session.last is None or session.last.step < 2 * session.plan.total // 3 or session.output is None:
        if time.monotonic() - start > TIMEOUT_S or widget.worker is None:
            raise SystemExit(f"the run did not get two thirds done within {TIMEOUT_S} s")
        app.processEvents()
        time.sleep(0.02)
    viewer.layers["style: hubble"].visible = False
    viewer.scene.camera.center, viewer.scene.camera.zoom = (256, 256), 1.3  # frame the astronaut's 512² extent
    for _ in range(20):
        app.processEvents()
    viewer.screenshot(str(OUT), canvas_only=False)
    print(f"{OUT}: {widget.status.value} after {time.monotonic() - start:.0f} s")
    widget.shutdown()
    viewer.close()


if __name__ == "__main__":
    main()
