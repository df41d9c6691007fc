"""The dock widget: pick content and style layers, run the engine in a thread, stream previews into a layer.

torch is imported only when the widget is built (to list devices) and inside the worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from magicgui.widgets import (CheckBox, ComboBox, Container, FileEdit, Label, LineEdit, PushButton, Select, SpinBox,
                              create_widget)
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils import progress
from napari.utils.notifications import show_error, show_info, show_warning
from superqt.utils import GeneratorWorker

from .engine.params import OPTIMIZERS, PRESERVE_COLOR, WEIGHT_SOURCES, StyleParams

if TYPE_CHECKING:
    import napari

    from .engine.progress import Progress

METADATA_KEY = "neural_style"
DEVICE_LABELS = {"auto": "auto", "cpu": "CPU", "cuda": "CUDA", "mps": "MPS"}
WEIGHTS_FILE = "file…"
ADVANCED = ("tv_weight", "optimizer", "init", "seed", "scales", "preserve_color", "weights", "weights_file",
            "device", "preview_every")
SHUTDOWN_WAIT_S = 5.0
MORE_STYLES_HEIGHT = 72  # pixels: about four rows


@dataclass
class _Job:
    """What the widget knows about the run in progress."""

    content: Image
    style: Image
    params: StyleParams
    index: dict[str, list[int]]
    pbar: progress
    output: Image | None = None
    last: Progress | None = None
    steps: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    stopped: bool = False

    def record(self) -> None:
        """Write everything needed to re-run this into the output layer's metadata."""
        if self.output is not None:
            self.output.metadata[METADATA_KEY] = {
                "params": self.params.to_dict(), "content": self.content.name, "style": self.style.name,
                "plane_index": self.index, "steps_done": self.steps, "losses": dict(self.losses),
                "stopped": self.stopped, "error": self.error,
            }


class StyleTransferWidget(Container):
    """Neural style transfer of one image layer in the style of another, with live previews."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        from .engine.network import available_devices

        self.viewer = viewer
        self.worker: GeneratorWorker | None = None
        self._job: _Job | None = None
        defaults = StyleParams()
        controls = [
            create_widget(annotation=Image, name="content", label="content"),
            create_widget(annotation=Image, name="style", label="style"),
            Select(name="more_styles", label="more styles", choices=self._image_choices, value=[],
                   tooltip="more style images (in layer order): blended with style, or with a labels layer "
                           "label 1 uses style, label 2 the first of these, …"),
            create_widget(annotation=Optional[Labels], name="regions", label="labels",  # noqa: UP007
                          options={"tooltip": "regions: label k gets style k, label 0 keeps the content"}),
            CheckBox(name="whole_stack", text="whole stack", value=False, enabled=False,
                     tooltip="stylise every slice (each starting from the previous result), not just this one"),
            SpinBox(name="size", value=384, min=16, max=8192, tooltip="long side of the output, in pixels"),
            SpinBox(name="steps", value=defaults.steps, min=1, max=100_000, tooltip="optimiser steps over all scales"),
            LineEdit(name="style_weight", value=f"{defaults.style_weight:g}", tooltip="e.g. 10 to 1000"),
            LineEdit(name="content_weight", value=f"{defaults.content_weight:g}"),
            CheckBox(name="advanced", text="advanced settings", value=False),
            LineEdit(name="tv_weight", value=f"{defaults.tv_weight:g}", tooltip="smoothness, e.g. 1e-3"),
            ComboBox(name="optimizer", choices=OPTIMIZERS, value=defaults.optimizer),
            ComboBox(name="init", choices=("content", "noise"), value=defaults.init),
            SpinBox(name="seed", value=defaults.seed, min=0, max=2**31 - 1),
            SpinBox(name="scales", value=defaults.scales, min=1, max=8, tooltip="coarse-to-fine levels"),
            ComboBox(name="preserve_color", choices=PRESERVE_COLOR, value=defaults.preserve_color),
            ComboBox(name="weights", choices=(*WEIGHT_SOURCES, WEIGHTS_FILE), value=defaults.weights,
                     tooltip="VGG19 weights: caffe (original), torchvision (downloaded once) or a file"),
            FileEdit(name="weights_file", label="weights file", mode="r", filter="*.pt *.pth *.bin"),
            ComboBox(name="device", choices=[(DEVICE_LABELS.get(d, d), d) for d in ("auto", *available_devices())]),
            SpinBox(name="preview_every", value=5, min=0, max=100_000, tooltip="steps between previews (0: end)"),
            PushButton(name="run_button", text="Run"),
            PushButton(name="stop_button", text="Stop", enabled=False),
            Label(name="status", value=""),
        ]
        super().__init__(widgets=controls, labels=True)
        self.more_styles.native.setMaximumHeight(MORE_STYLES_HEIGHT)  # a short list; it scrolls
        self.native.layout().addStretch(1)  # spare height goes below the controls, not between them
        self.advanced.changed.connect(self._show_advanced)
        self.weights.changed.connect(self._show_advanced)
        self._show_advanced()
        self.content.changed.connect(self._update_stack_option)
        self._update_stack_option()
        self.run_button.changed.connect(self.start)
        self.stop_button.changed.connect(self.stop)
        viewer.layers.events.removed.connect(self._on_layer_removed)
        self.native.destroyed.connect(self._on_destroyed)

    # -- controls -------------------------------------------------------------------------------------
    def reset_choices(self, *_: Any) -> None:
        """Refresh the layer pickers (napari calls this on layer changes); keep style apart from content."""
        super().reset_choices()
        others = [layer for layer in self.style.choices if layer is not self.content.value]
        if self.style.value is self.content.value and others:
            self.style.value = others[0]

    def _show_advanced(self) -> None:
        for name in ADVANCED:
            self[name].visible = self.advanced.value and (name != "weights_file" or self.weights.value == WEIGHTS_FILE)

    def _image_choices(self, _: Any) -> list[tuple[str, Image]]:
        """This viewer's image layers, for the 'more styles' list."""
        return [(layer.name, layer) for layer in self.viewer.layers if isinstance(layer, Image)]

    def _update_stack_option(self) -> None:
        """'whole stack' only for content with more than two non-RGB dimensions."""
        content = self.content.value
        self.whole_stack.enabled = content is not None and content.ndim > 2
        if not self.whole_stack.enabled:
            self.whole_stack.value = False

    def _extra_inputs(self, content: Image, style: Image, style_plane: np.ndarray, size: int
                      ) -> tuple[list[np.ndarray], np.ndarray | None]:
        """All style images (the style, then 'more styles') and the labels for the run, if any."""
        more = [layer for layer in self.more_styles.value if layer is not content and layer is not style]
        styles = [style_plane] + [_plane(layer, self.viewer, size)[0] for layer in more]
        labels = self.regions.value
        if labels is None:
            return styles, None
        if self.whole_stack.value and labels.ndim == content.ndim:
            return styles, np.asarray(labels.data)
        return styles, _plane(labels, self.viewer, size)[0]

    def _layers(self) -> tuple[Image, Image]:
        """The chosen content and style layers; ValueError with a sentence for the user otherwise."""
        content, style = self.content.value, self.style.value
        for role, layer in (("content", content), ("style", style)):
            if layer is None:
                raise ValueError(f"choose an image layer as {role} (only image layers can be used; "
                                 f"File > Open Sample has examples)")
        if content is style:
            raise ValueError(f"content and style are both '{content.name}': choose two different image layers")
        return content, style

    # -- run ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Validate the settings and start a run in a worker thread (errors become notifications)."""
        if self.worker is not None:
            return
        try:
            content, style = self._layers()
            params = params_from_widget(self)
            content_plane, content_index = _plane(content, self.viewer, params.size)
            style_plane, style_index = _plane(style, self.viewer, params.size)
            styles, labels = self._extra_inputs(content, style, style_plane, params.size)
            if self.whole_stack.value:
                content_plane, content_index = _stack_data(content, params.size), []
        except ValueError as exc:
            show_error(f"Neural style transfer cannot start: {exc}")
            return
        pbar = progress(total=params.steps, desc=f"Neural style: {content.name} × {style.name}")
        self._job = _Job(content, style, params, {"content": content_index, "style": style_index}, pbar)
        worker = create_worker(_run_steps, content_plane, styles, params, labels, content.rgb,
                               _worker_class=GeneratorWorker, _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._on_progress)
        worker.errored.connect(self._on_error)
        worker.warned.connect(self._on_warning)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.run_button.enabled, self.stop_button.enabled = False, True
        self.status.value = "starting (loading the network)…"
        worker.start()

    def stop(self) -> None:
        """Ask the run to end after the current step; the partial result stays in the output layer."""
        if self.worker is not None:
            self.worker.quit()
            self.stop_button.enabled = False
            self.status.value = "stopping after this step…"

    def _on_progress(self, p: Progress) -> None:
        job = self._job
        if job is None or not self._alive:
            return
        job.last, job.steps, job.losses = p, p.step, p.losses
        where = f"slice {p.index} ({p.slices}) · " if p.index else ""
        self.status.value = f"{where}step {p.step}/{p.total} · {_losses_text(p.losses)} · ETA {p.eta:.0f} s"
        if p.index:  # a whole-stack run: only finished slices go into the nD output
            if p.stack is not None:
                self._show(job, p.stack, lead=len(p.index))
        elif p.image is not None:
            self._show(job, p.image)
        job.record()
        # last: napari's progress bar processes Qt events, so other handlers may run inside this call
        job.pbar.total = p.total
        job.pbar.update(p.step - job.pbar.n)

    def _show(self, job: _Job, data: np.ndarray, lead: int = 0) -> None:
        """Put ``data`` into this run's output layer: a preview plane, or (``lead`` leading axes) the nD
        result with its finished slices. The first call creates the layer above the inputs, covering the
        content's extent."""
        if job.output is not None:
            if job.output in self.viewer.layers:
                job.output.data = data
            return
        content, layers = job.content, self.viewer.layers
        if content not in layers or job.style not in layers:  # removed: this run is ending
            return
        plane = content.ndim - 2
        full = np.asarray((content.data[0] if content.multiscale else content.data).shape[plane:plane + 2])
        scale = np.asarray(content.scale[-2:]) * full / np.asarray(data.shape[lead:lead + 2])
        # pixel edges, not centres, line up with the content's: both cover the same extent
        translate = np.asarray(content.translate[-2:]) + (scale - np.asarray(content.scale[-2:])) / 2
        job.output = Image(data, name=f"{content.name} × {job.style.name}", rgb=data.ndim > lead + 2,
                           contrast_limits=(0.0, 1.0), scale=(*content.scale[plane - lead:plane], *scale),
                           translate=(*content.translate[plane - lead:plane], *translate))
        job.record()
        layers.insert(max(layers.index(content), layers.index(job.style)) + 1, job.output)

    def _on_error(self, exc: Exception) -> None:
        reason = str(exc) if isinstance(exc, (ValueError, _RunError)) else f"{type(exc).__name__}: {exc}"
        if self._job is not None:
            self._job.error = reason
        self.status.value = "failed: see the notification"
        show_error(f"Neural style transfer stopped with an error: {reason}")

    def _on_warning(self, args: tuple) -> None:
        show_warning(f"Neural style transfer: {args[0]}")

    def _on_finished(self) -> None:
        job, worker = self._job, self.worker
        self._job, self.worker = None, None
        if job is None:
            return
        job.stopped = worker is not None and worker.abort_requested and (job.last is None or not job.last.done)
        job.record()
        if self._alive:
            self.run_button.enabled, self.stop_button.enabled = True, False
            if job.output is None and job.stopped:
                self.status.value = "stopped before the first preview"
            elif job.error is None:
                self.status.value = (f"{'stopped' if job.stopped else 'done'} after {job.steps} steps · "
                                     f"{_losses_text(job.losses)}")
        job.pbar.close()

    # -- shutdown -------------------------------------------------------------------------------------
    _alive = True

    def _on_layer_removed(self, event: Any) -> None:
        job = self._job
        if job is not None and event.value in (job.content, job.style, job.output):
            show_info(f"Neural style transfer stopped: layer '{event.value.name}' was removed")
            self.stop()

    def _on_destroyed(self) -> None:
        self._alive = False
        self.shutdown()

    def shutdown(self, wait_s: float = SHUTDOWN_WAIT_S) -> None:
        """Stop the run, if any, and wait up to ``wait_s`` for its thread to finish its step."""
        worker = self.worker
        if worker is None:
            return
        worker.quit()
        deadline = time.monotonic() + wait_s
        while worker.is_running and time.monotonic() < deadline:
            time.sleep(0.02)


def params_from_widget(widget: StyleTransferWidget) -> StyleParams:
    """The run's parameters from the widget's values; ValueError with a clear message when one is bad."""
    weights = widget.weights.value
    if weights == WEIGHTS_FILE:
        weights = str(widget.weights_file.value)
        if not widget.weights_file.value or weights == ".":
            raise ValueError("choose a weights file, or the 'caffe' or 'torchvision' weights")
    content = widget.content.value
    limits = None
    if content is not None and not content.rgb:
        limits = tuple(float(v) for v in content.contrast_limits)
    return StyleParams(
        size=widget.size.value, steps=widget.steps.value, style_weight=_number(widget, "style_weight"),
        content_weight=_number(widget, "content_weight"), tv_weight=_number(widget, "tv_weight"),
        optimizer=widget.optimizer.value, init=widget.init.value, seed=widget.seed.value,
        scales=widget.scales.value, preserve_color=widget.preserve_color.value, weights=weights,
        device=widget.device.value, preview_every=widget.preview_every.value, contrast_limits=limits)


def _losses_text(losses: dict[str, float]) -> str:
    return " · ".join(f"{k} {v:.3g}" for k, v in losses.items() if k != "total")


def _number(widget: Container, name: str) -> float:
    text = widget[name].value.strip()
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number such as 1e5, got {text!r}") from None


def _plane(layer: Image, viewer: napari.viewer.Viewer, size: int) -> tuple[np.ndarray, list[int]]:
    """The 2D image (Y, X) or (Y, X, C) of ``layer`` on screen now, and its index in the leading dims.

    Stacks give the slice at the viewer's current point; multiscale data the coarsest level whose long
    side is still at least ``size`` (else level 0).
    """
    spatial = slice(layer.ndim - 2, layer.ndim)
    data = layer.data
    if layer.multiscale:
        levels = [level for level in data if max(level.shape[spatial]) >= size]
        full, data = data[0].shape, levels[-1] if levels else data[0]
    else:
        full = data.shape
    point = layer.world_to_data(viewer.dims.point)
    index = [int(np.clip(np.floor(p * n / f + 0.5), 0, n - 1))
             for p, n, f in zip(point[: layer.ndim - 2], data.shape, full)]
    return np.asarray(data[tuple(index)]), index


def _stack_data(layer: Image, size: int) -> np.ndarray:
    """All of ``layer``'s data for a whole-stack run (multiscale: the level :func:`_plane` would use)."""
    if not layer.multiscale:
        return np.asarray(layer.data)
    levels = [level for level in layer.data if max(level.shape[layer.ndim - 2: layer.ndim]) >= size]
    return np.asarray(levels[-1] if levels else layer.data[0])


def _run_steps(content: np.ndarray, style: list[np.ndarray], params: StyleParams, labels: np.ndarray | None,
               rgb: bool) -> Iterator[Progress]:
    """``stylize_steps`` for the worker thread, with autograd on there (grad mode is per thread)."""
    import torch

    from .engine.transfer import stylize_steps

    torch.set_grad_enabled(True)
    try:
        yield from stylize_steps(content, style, params, labels=labels, rgb=rgb)
    except RuntimeError as exc:  # superqt takes a RuntimeError for a deleted worker: no signal, a hung run
        raise _RunError(f"{type(exc).__name__}: {exc}") from exc


class _RunError(Exception):
    """An engine RuntimeError (e.g. out of memory), carried out of the worker as an ordinary error."""
