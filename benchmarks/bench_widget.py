"""The widget's run against the command line's on the same job, quiet and beside one busy process.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/bench_widget.py [--repeat 1]

The job: scikit-image's astronaut in the style of the Hubble deep field, quick look (256 px, 46 steps over 3
scales), default settings. Widget: a napari process of its own (``tests/dock_open_napari.py --run``) under
the display given (Xvfb: software OpenGL): the sample pair opened and the widget docked from the manifest's
menu entry, the network loaded in the background, then Run to the end with the dock's progress, status, loss
plot and a preview every 5 steps on screen. It also reports the event loop's longest gap from the menu click
to a ready widget (and the GUI thread's CPU seconds in it), and while the network then loads. CLI: ``python
-m napari_neural_style`` on the same images saved as PNG, ``--preset quick``: the whole command's wall time,
and the run's own time (``cli.main`` timed in a process that loaded the network first). CPU seconds: the
widget's process during the run (of which its GUI thread and its software OpenGL threads), and the whole
command's. Busy: a Python loop in another process takes one core.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from PIL import Image
from skimage import data

from napari_neural_style.engine.params import PRESETS

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.2  # the widget's run at most this times the command line's


@contextmanager
def busy(on: bool):
    """A process spinning a Python loop (one core) while the block runs, if ``on``."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        yield
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


CLI_TIMED = ("import sys, time, torch\n"
             "from napari_neural_style.engine.network import load_network\n"
             "from napari_neural_style.cli import main\n"
             "load_network('caffe', torch.device('cpu'))  # as the widget has it before Run\n"
             "start = time.perf_counter()\n"
             "code = main(sys.argv[1:])\n"
             "print(f'run_s={time.perf_counter() - start:.3f}')\n"
             "sys.exit(code)\n")


def cli(folder: Path) -> tuple[float, float, float]:
    """(wall seconds of the command, the run's seconds, the command's CPU seconds). The run: ``cli.main`` timed
    inside a process that loaded the network first, as the widget's Run is timed (network loaded, the dock
    calibrated); the command: ``python -m napari_neural_style`` from start to exit."""
    content, style = folder / "astronaut.png", folder / "hubble.png"
    args = [str(content), str(style), "-o", str(folder / "out.png"), "--preset", "quick"]
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run([sys.executable, "-m", "napari_neural_style", *args], capture_output=True, check=True)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    done = subprocess.run([sys.executable, "-c", CLI_TIMED, *args], capture_output=True, text=True, check=True)
    return wall, float(re.search(r"run_s=([\d.]+)", done.stdout).group(1)), cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def widget(folder: Path) -> dict:
    """The napari process's JSON report (run_s: Run to done, cpu_s: the CPU seconds of the run, of the process,
    its GUI thread and its OpenGL threads; open_gap_s, loading_gap_s)."""
    env = {**os.environ, "NAPARI_CONFIG": str(folder / "napari.yaml")}  # not the user's napari settings
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "dock_open_napari.py"), "--run"],
                          capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, per condition")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        sys.exit("run under a display, e.g. xvfb-run -a -s '-screen 0 1600x1000x24' python benchmarks/bench_widget.py")
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start")
    print(f"{'condition':<10}{'widget s':>9}{'CLI wall s':>11}{'CLI run s':>10}{'÷ wall':>7}{'÷ run':>6}"
          f"{'open gap s':>11}{'open CPU s':>11}{'load gap s':>11}{'widget CPU-s (GUI, GL)':>24}"
          f"{'CLI CPU-s':>10}{'load':>6}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
        Image.fromarray(data.hubble_deep_field()).save(folder / "hubble.png")
        for condition in ("quiet", "busy"):
            for _ in range(args.repeat):
                with busy(condition == "busy"):
                    wall, run, cli_cpu = cli(folder)
                    w = widget(folder)
                    load = os.getloadavg()[0]
                steps = PRESETS["quick"]["steps"]
                assert w["progress"][0] == w["progress"][1] == steps and w["status"].startswith("done"), w
                worst = max(worst, w["run_s"] / run)
                cpu = w["cpu_s"]
                split = f"{cpu['process']:.1f} ({cpu['gui']:.1f}, {cpu['gl']:.1f})"
                print(f"{condition:<10}{w['run_s']:>9.1f}{wall:>11.1f}{run:>10.1f}{w['run_s'] / wall:>7.2f}"
                      f"{w['run_s'] / run:>6.2f}{w['open_gap_s']:>11.3f}{w['open_cpu_s']:>11.3f}"
                      f"{w['loading_gap_s']:>11.3f}{split:>24}"
                      f"{cli_cpu:>10.1f}{load:>6.1f}", flush=True)
    print(f"widget ÷ CLI run at most {worst:.2f} (target ≤ {TARGET}): {'yes' if worst <= TARGET else 'no'}")


if __name__ == "__main__":
    main()
