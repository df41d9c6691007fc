"""One run from the widget: its worker thread, its output layer and the metadata it writes.

torch is imported only inside the worker thread.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from napari.layers import Image
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_warning
from superqt.utils import GeneratorWorker

from .engine.params import StyleParams
from .engine.plan import StackPlan, make_plan, output_shape
from .engine.progress import STOPPED
from .layers import RunInputs, placement

if TYPE_CHECKING:
    import napari

    from .engine.progress import Progress

METADATA_KEY = "neural_style"
PACKAGE = Path(__file__).resolve().parent
SHOW_S = 1.0  # a run repaints at most this often: each preview (the last step's always) and, in the dock, its
# status, progress and loss plot; in software OpenGL every repaint composites the whole window


class Session:
    """A run of ``params`` on ``inputs``.

    It streams previews into its output layer (made hidden at ``start``, above the inputs, shown with the
    first image, when it takes the place of the layer it ``replaces``, if any), keeps the layer's metadata
    current (everything needed to re-run it), and reports through ``on_status`` (one line of text),
    ``on_step`` (every step's record) and ``on_end`` (called once the worker has finished). Constructing it
    checks the plan (ValueError for the user); ``start`` launches the worker.
    """

    def __init__(self, viewer: napari.viewer.Viewer, inputs: RunInputs, params: StyleParams, *,
                 on_status: Callable[[str], None], on_end: Callable[[Session], None],
                 on_step: Callable[[Progress], None] = lambda p: None, replaces: Image | None = None) -> None:
        content, style = inputs.content, inputs.style
        self.plan = make_plan(params, inputs.shape, content.rgb)
        self.slices, self.scheduler = inputs.slices, inputs.scheduler
        self.viewer, self.content, self.style, self.params, self.about = viewer, content, style, params, inputs.about
        self.on_status, self.on_end, self.on_step = on_status, on_end, on_step
        self.content_shape, self.replaces = np.shape(inputs.content_data), replaces
        self.output: Image | None = None
        self.shown = False  # the output layer has its first image
        self._previewed = -SHOW_S  # time.monotonic() of the last preview shown
        self.last: Progress | None = None
        self.steps = 0
        self.losses: dict[str, float] = {}
        self.error: str | None = None
        self.stopped = False
        self._warned: set[object] = set()
        self._showwarning = warnings.showwarning  # the hook before the worker's (set again at start)
        self._stopping = threading.Event()  # the engine's cancel: ends the run mid-step or mid-load
        self.worker: GeneratorWorker = create_worker(
            _run_steps, inputs.content_data, inputs.styles, params, labels=inputs.labels, rgb=content.rgb,
            init_image=inputs.init_image, slices=inputs.slices, scheduler=inputs.scheduler, stopping=self._stopping,
            _worker_class=_ClosingWorker, _start_thread=False, _ignore_errors=True)
        self.worker.yielded.connect(self._on_progress)
        self.worker.errored.connect(self._on_error)
        self.worker.warned.connect(self._on_warning)
        self.worker.finished.connect(self._on_finished)

    @property
    def lead(self) -> int:
        """Leading axes of the output: the stack's, or the content's around a single-slice result."""
        return len(self.plan.lead_shape) if isinstance(self.plan, StackPlan) else len(self._plane_index)

    @property
    def _plane_index(self) -> list[int]:
        """The content's slice of a single-slice run (empty for 2D content and whole stacks)."""
        return [] if isinstance(self.plan, StackPlan) else list(self.about["plane_index"]["content"])

    @property
    def _at(self) -> list[int]:
        """Where the output's first slice sits along the content's leading axes (empty: where it starts)."""
        if self.slices is not None:
            return [self.slices[0]] + [0] * (self.lead - 1)
        return self._plane_index

    def start(self) -> None:
        self._showwarning = warnings.showwarning  # napari's, or Python's: where others' warnings go
        self._make_output()
        self.on_status(f"connecting to {self.scheduler}…" if self.scheduler else "starting…")
        self.worker.start()

    def stop(self) -> None:
        """Ask the run to end: the engine ends it within about a network layer's time, whatever it is doing,
        and hands back the current image (rendered in the worker thread), which stays in the output layer."""
        self._stopping.set()
        self.on_status("stopping…")

    def wait(self, timeout_s: float) -> None:
        """Stop the run and wait up to ``timeout_s`` for its thread to finish its step."""
        self._stopping.set()
        self.worker.quit()
        deadline = time.monotonic() + timeout_s
        while self.worker.is_running and time.monotonic() < deadline:
            time.sleep(0.02)

    def record(self) -> None:
        """Write everything needed to re-run this into the output layer's metadata."""
        if self.output is not None:
            self.output.metadata[METADATA_KEY] = {
                "params": self.params.to_dict(), "content": self.content.name, "style": self.style.name,
                **self.about, "steps_done": self.steps, "losses": dict(self.losses), "stopped": self.stopped,
                "error": self.error,
            }

    # -- worker signals -------------------------------------------------------------------------------
    def _on_progress(self, p: Progress) -> None:
        where = f"slice {self._position(p) + 1} of {p.slices} · " if p.index else ""
        self.last = p
        if p.stage:  # no step: what the run is doing, and after a stop the current image
            if p.stage != STOPPED:
                self.on_status(f"{where}{p.stage}…")
            elif not p.index and p.image is not None and p.step:
                self._show(p.image.reshape((1,) * self.lead + p.image.shape))
            return
        self.steps, self.losses = p.step, p.losses
        self.on_status(f"{where}step {p.step}/{p.total} · {losses_text(p.losses)} · ETA {p.eta:.0f} s")
        if p.index and p.stack is not None:
            # a cluster's slices land as workers finish them, in any order: all are shown, those to come black
            self._show(p.stack if self.scheduler else p.stack[:self._rows(self._finished(p))])
        elif not p.index and p.image is not None and self._preview_due(p):
            self._show(p.image.reshape((1,) * self.lead + p.image.shape))
        self.record()
        self.on_step(p)

    def _preview_due(self, p: Progress) -> bool:
        """Whether step ``p``'s preview goes to the layer: the last step's always, others at most every
        ``SHOW_S`` (a fast run's previews would otherwise take a core from it, repainting the window)."""
        now = time.monotonic()
        if p.done or now - self._previewed >= SHOW_S:
            self._previewed = now
            return True
        return False

    def _position(self, p: Progress) -> int:
        """Step ``p``'s slice, counted from 0 in the order a whole-stack run takes them."""
        return int(np.ravel_multi_index(p.index, self.plan.lead_shape))

    def _finished(self, p: Progress) -> int:
        """Slices of a whole-stack run finished by step ``p``."""
        if self.scheduler:  # the slices landed in the output (a stylised slice is never all 0)
            if self.output is None:
                return 0
            data = np.asarray(self.output.data)
            return int(data.reshape(int(np.prod(data.shape[:self.lead])), -1).any(axis=1).sum())
        return self._position(p) + int(p.stack is not None)

    def _rows(self, finished: int) -> int:
        """Entries along a stack's first axis holding ``finished`` slices (C order): unstarted ones are left
        out of the output, not shown black."""
        return -(-finished // int(np.prod(self.plan.lead_shape[1:])))

    def _make_output(self) -> None:
        """The output layer, made when the run starts, before the worker competes for the CPU: napari's
        layer creation (controls, list row, vispy visual) holds the GUI thread ~0.2 s, twice that beside a
        busy run. It is hidden (napari then reads none of its data) and of the first image's shape until
        that image comes: on top of the inputs and earlier results, covering the content's extent (a
        single slice's result at that slice)."""
        layers = self.viewer.layers
        plane_index, lead_shape = self._plane_index, getattr(self.plan, "lead_shape", ())
        plane = output_shape(self.params, self.content_shape[len(lead_shape):], self.content.rgb)
        shape = (1,) * self.lead + plane  # a whole stack's first row, or the slice of a single-slice run
        where = placement(self.content, shape, self.lead, self._at)
        at = f"[{', '.join(map(str, plane_index))}]" if plane_index else ""
        if self.slices is not None:
            at = f"[{self.slices[0]}:{self.slices[1]}]"
        self.output = Image(np.broadcast_to(np.float32(0), shape), name=f"{self.content.name}{at} × {self.style.name}",
                            rgb=len(plane) > 2, contrast_limits=(0.0, 1.0), scale=where.scale,
                            translate=where.translate, visible=False)
        self.record()
        below = [self.content, self.style, *(layer for layer in layers if METADATA_KEY in layer.metadata)]
        layers.insert(max(layers.index(layer) for layer in below) + 1, self.output)

    def _show(self, data: np.ndarray) -> None:
        """Put ``data`` (the output's leading axes, then a plane) into the output layer; the first image
        shows it, and takes the place of the output it ``replaces``."""
        layers = self.viewer.layers
        if self.output is None or self.output not in layers:
            return
        self.output.data = data
        if not self.shown:
            self.shown = self.output.visible = True
            if self.replaces is not None and self.replaces in layers:
                layers.remove(self.replaces)
                self.output.name = self.replaces.name

    def _drop_unshown(self) -> None:
        """A run that ended before its first image leaves no empty layer behind."""
        layer, self.output = self.output, self.output if self.shown else None  # no longer this run's output
        if layer is not None and not self.shown and layer in self.viewer.layers:
            self.viewer.layers.remove(layer)

    def _on_error(self, exc: Exception) -> None:
        self.error = str(exc) if isinstance(exc, (ValueError, _RunError)) else f"{type(exc).__name__}: {exc}"
        self.on_status(f"failed: {self.error.strip().splitlines()[0]}")  # the full reason is in the notification
        show_error(f"Neural style transfer failed: {self.error}")

    def _on_warning(self, args: tuple) -> None:
        """superqt's worker takes over every thread's warnings while it runs, all of them, every time: show
        the plugin's own as notifications, once each, and hand others to the hook in place before the run
        (napari's or Python's), once per place of origin, as Python's default filter would."""
        message, category, filename, lineno = args[:4]
        ours = Path(filename).resolve().is_relative_to(PACKAGE)
        key = str(message) if ours else (str(message), category, filename, lineno)
        if key in self._warned:
            return
        self._warned.add(key)
        if ours:
            show_warning(f"Neural style transfer: {message}")
        else:
            self._showwarning(*args)

    def _on_finished(self) -> None:
        last = self.last
        self.stopped = (self._stopping.is_set() or self.worker.abort_requested) and (last is None or not last.done)
        if self.stopped and self.error is None:
            self.on_status(self._keep_current(last))
        elif self.error is None:
            self.on_status(f"done after {self.steps} steps · {losses_text(self.losses)}")
        self._drop_unshown()
        self.record()
        self.on_end(self)

    def _keep_current(self, last: Progress | None) -> str:
        """After a stop: the current image into the output (a stack keeps its finished slices); the status."""
        if last is None or not last.step:
            return "stopped before the first step"
        head = f"stopped at step {last.step}/{last.total}"
        if last.index:
            return f"{head}: kept the {self._finished(last)} of {last.slices} slices finished"
        if last.stage != STOPPED and last.current is not None:  # a stopped record's image is shown already
            image = last.current()
            self._show(image.reshape((1,) * self.lead + image.shape))
        return f"{head}: kept the image of step {last.step} · {losses_text(self.losses)}"


def losses_text(losses: dict[str, float]) -> str:
    return " · ".join(f"{k} {v:.3g}" for k, v in losses.items() if k != "total")


def _run_steps(content: np.ndarray, style: list[np.ndarray], params: StyleParams, *, labels: np.ndarray | None,
               rgb: bool, init_image: np.ndarray | None, stopping: threading.Event,
               slices: tuple[int, int] | None = None, scheduler: str = "") -> Iterator[Progress]:
    """``stylize_steps`` for the worker thread, with autograd on there (grad mode is per thread) and
    ``stopping`` as its cancel Event: Stop ends the run within about a network layer's time, whatever it is
    doing (the network's load included). With a ``scheduler`` address the run goes to that dask cluster
    (whose workers load the network) through a client made (and closed) in this thread."""
    import torch

    from .engine.transfer import stylize_steps

    torch.set_grad_enabled(True)
    client = None
    try:
        if scheduler:
            from .engine.cluster import connect

            client = connect(scheduler)
        yield from stylize_steps(content, style, params, labels=labels, rgb=rgb, init_image=init_image,
                                 slices=slices, client=client, cancel=stopping, stages=True)
    except RuntimeError as exc:  # superqt takes a RuntimeError for a deleted worker: no signal, a hung run
        raise _RunError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        if client is not None:
            client.close()


class _ClosingWorker(GeneratorWorker):
    """A generator worker that closes its generator in its own thread when it ends, also after a stop: a
    cluster run cancels its tasks and closes its client there, not later wherever the generator is freed."""

    def work(self) -> object:
        try:
            return super().work()
        finally:
            self._gen.close()


class _RunError(Exception):
    """An engine RuntimeError (e.g. out of memory), carried out of the worker as an ordinary error."""
