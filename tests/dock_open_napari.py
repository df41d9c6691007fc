"""A napari process of its own (under a display): open the Astronaut and Hubble sample from the manifest, click
the plugin's menu entry, and measure the event loop (a QTimer ticking every 10 ms) from the click to a ready
widget (and the GUI thread's CPU time for it: the gap a quiet machine would see), and on until the network is
loaded and timed in the background. With ``--run`` it then presses Run on the quick look and times it to the
end. Prints one JSON line: the longest gaps, the times, CPU seconds, and the thread that imported torch
(``test_widget_dock``, ``benchmarks/bench_widget.py``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

TICK_MS = 10
TIMEOUT_S = 600.0


class _TorchImport:
    """A meta-path finder that only notes the thread on which torch is first imported."""

    thread: str | None = None

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "torch" and self.thread is None:
            self.thread = threading.current_thread().name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", action="store_true", help="then run the quick look and time it")
    args = parser.parse_args()
    torch_import = _TorchImport()
    sys.meta_path.insert(0, torch_import)

    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    viewer = napari.Viewer()
    viewer.window.show()
    viewer.open_sample("napari-neural-style", "astronaut_hubble")
    wait(app, 1.0)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(TICK_MS)
    wait(app, 0.5)
    action = next(a for a in viewer.window.plugins_menu.actions() if a.text().startswith("Neural style transfer"))
    marks: dict[str, float] = {}

    def click() -> None:
        marks["click"], marks["click_cpu"] = time.perf_counter(), time.thread_time()
        action.trigger()
        QTimer.singleShot(0, ready)

    def ready() -> None:
        marks["ready"], marks["ready_cpu"] = time.perf_counter(), time.thread_time()

    QTimer.singleShot(0, click)
    until(app, lambda: "ready" in marks)
    dock = next(d for name, d in viewer.window._wrapped_dock_widgets.items() if name.startswith("Neural style"))
    widget = dock.inner_widget()
    until(app, lambda: widget.calibrations.costs and not widget.calibrations.pending)
    marks["calibrated"] = time.perf_counter()
    timer.stop()
    result = {"open_s": marks["ready"] - marks["click"], "open_cpu_s": marks["ready_cpu"] - marks["click_cpu"],
              "calibrated_s": marks["calibrated"] - marks["click"],
              "open_gap_s": longest_gap(ticks, marks["click"], marks["ready"]),
              "loading_gap_s": longest_gap(ticks, marks["ready"], marks["calibrated"]),
              "torch_thread": torch_import.thread, "gui_thread": threading.main_thread().name}
    if args.run:
        start, cpu = time.perf_counter(), cpu_seconds()
        widget.run_button.clicked.emit()
        until(app, lambda: widget.worker is None)
        used = {k: v - cpu[k] for k, v in cpu_seconds().items()}
        result |= {"run_s": time.perf_counter() - start, "status": widget.status.value,
                   "progress": [widget.progress.value, widget.progress.max], "cpu_s": used}
    print(json.dumps(result), flush=True)
    viewer.close()


def cpu_seconds() -> dict[str, float]:
    """CPU seconds so far: the whole process, its GUI (main) thread, its software OpenGL threads (llvmpipe)."""
    tick = os.sysconf("SC_CLK_TCK")
    gui = gl = 0.0
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread has ended
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        if task.name == str(os.getpid()):
            gui = seconds
        elif name.startswith("llvmpipe"):
            gl += seconds
    times = os.times()
    return {"process": times.user + times.system, "gui": gui, "gl": gl}


def longest_gap(ticks: list[float], start: float, end: float) -> float:
    """The longest time between consecutive events (ticks, ``start`` and the first tick after ``end``)."""
    inside = [t for t in ticks if start < t <= end]
    after = [t for t in ticks if t > end][:1]
    times = [start, *inside, *after]
    return max(b - a for a, b in zip(times, times[1:], strict=False)) if len(times) > 1 else 0.0


def wait(app: object, seconds: float) -> None:
    until(app, lambda: False, seconds)


def until(app: object, condition: object, timeout_s: float = TIMEOUT_S) -> None:
    """Run the Qt event loop (as napari does) until ``condition()`` holds, checked every 20 ms, or ``timeout_s``."""
    from qtpy.QtCore import QEventLoop, QTimer

    loop, check, deadline = QEventLoop(), QTimer(), time.perf_counter() + timeout_s
    check.timeout.connect(lambda: (condition() or time.perf_counter() > deadline) and loop.quit())
    check.start(20)
    if not condition():
        loop.exec()
    check.stop()


if __name__ == "__main__":
    main()
