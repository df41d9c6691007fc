"""A napari process of its own for ``test_widget_stack``'s memory test: a 2000×512×512 uint16 dask layer
(1 GiB; 4 GiB as float32), a 4-slice range stylised through the widget docked from the manifest. Prints
one JSON line: resident memory sampled before and during the range run and over the process's life, and the
output. (Sampled, not ``ru_maxrss``: Linux carries that across exec from the parent, here pytest.)"""

from __future__ import annotations

import json
import os
import threading
import time

import dask.array as da
import napari
import numpy as np
from qtpy.QtWidgets import QApplication
from skimage import data

from napari_neural_style.session import METADATA_KEY


def rss() -> int:
    """This process's resident memory in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS(threading.Thread):
    """Resident memory sampled every few milliseconds until ``stop()`` returns its peak."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self._done = rss(), threading.Event()
        self.start()

    def run(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, rss())

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def run_to_end(widget, timeout_s: float = 300.0) -> None:
    widget.run_button.clicked.emit()
    deadline = time.monotonic() + timeout_s
    while widget.worker is not None and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.01)


def main() -> None:
    life = PeakRSS()
    n, side = 2000, 512
    pattern = (np.indices((side, side)).sum(axis=0) % 64 * 60).astype(np.uint16)
    stack = (da.zeros((n, side, side), np.uint16, chunks=(1, side, side)) + pattern
             + (da.arange(n, chunks=1, dtype=np.uint16) % 50)[:, None, None])
    viewer = napari.Viewer(show=False)
    _, widget = viewer.window.add_plugin_dock_widget("napari-neural-style", "Neural style transfer")
    viewer.add_image(stack, name="big", contrast_limits=(0, 4000))
    viewer.add_image(data.astronaut()[::8, ::8], name="b")
    widget.content.value, widget.style.value = viewer.layers["big"], viewer.layers["b"]
    widget.size.value, widget.steps.value, widget.preview_every.value, widget.scales.value = 32, 2, 0, 1
    run_to_end(widget)  # one plane first: torch and the network load, as in any session before a range run
    widget.whole_stack.value = True
    widget.slice_start.value, widget.slice_stop.value = 1000, 1004
    sampler = PeakRSS()
    base = sampler.peak
    run_to_end(widget)
    peak = sampler.stop()
    out = viewer.layers[-1]
    print(json.dumps({"base": base, "peak": peak, "life": life.stop(),
                      "name": out.name, "shape": list(out.data.shape), "z": out.translate[0],
                      "error": out.metadata[METADATA_KEY]["error"]}), flush=True)
    viewer.close()
    os._exit(0)  # now: daemon threads still in torch (the widget's calibration) abort an orderly exit


if __name__ == "__main__":
    main()
