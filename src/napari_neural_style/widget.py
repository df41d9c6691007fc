"""The dock widget's controls: pick content and style layers and settings, start and stop a :class:`.Session`.

torch is imported only in background threads: the device list's, the run's worker and the network's load and
timing (:mod:`.estimates`). Building the widget imports none of it, so opening the dock does not stall napari.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    Label,
    LineEdit,
    ProgressBar,
    PushButton,
    Select,
    SpinBox,
    Widget,
    create_widget,
)
from napari.layers import Image, Labels
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QEvent, QObject, QSize, Qt, QTimer
from qtpy.QtWidgets import QFrame, QScrollArea, QSizePolicy, QVBoxLayout, QWidget
from superqt.utils import ensure_main_thread, qthrottled

from .engine.params import OPTIMIZERS, PRESERVE_COLOR, PRESET_FIELDS, PRESETS, STYLE_LOSSES, WEIGHT_SOURCES, StyleParams
from .estimates import CALIBRATING, Calibrations, estimate
from .layers import RunInputs, full_shape, read_inputs
from .options import INIT_CHOICES, PRESET_LABELS, help_text
from .reuse import continue_params, control_values
from .session import METADATA_KEY, SHOW_S, Session

if TYPE_CHECKING:
    import napari
    from superqt.utils import GeneratorWorker

    from .engine.progress import Progress
    from .plot import LossPlot

__all__ = ["METADATA_KEY", "StyleTransferWidget", "params_from_widget"]

DEVICE_LABELS = {"auto": "auto", "cpu": "CPU", "cuda": "CUDA", "mps": "MPS"}
PICKERS = ("content", "style")
WEIGHTS_FILE = "file…"
ADVANCED = ("style_loss", "tv_weight", "optimizer", "init", "seed", "scales", "preserve_color", "weights",
            "weights_file", "device", "preview_every", "tile_size", "tile_overlap", "scheduler")
RANGE = ("slice_start", "slice_stop")  # shown with 'whole stack'
MAX_SLICES = 1 << 30  # the range controls' bound before a stack is chosen
SHUTDOWN_WAIT_S = 5.0
SHOW_MS = round(1000 * SHOW_S)  # a run's status line, progress bar and loss plot repaint together at most so often
MORE_STYLES_HEIGHT = 72  # pixels: about four rows
CUSTOM = "custom"  # the preset picker when size, steps and scales match no preset
# Deliberate departures from StyleParams' defaults (which suit the CLI's final outputs):
PRESET = "quick"  # the first result in seconds on a laptop CPU, large enough to judge the style; raise it after
PREVIEW_EVERY = 5  # previews often enough to watch the image form, while rendering them costs little


class StyleTransferWidget(Container):
    """Neural style transfer of one image layer in the style of another, with live previews."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self.viewer = viewer
        self.session: Session | None = None
        self.previous: Image | None = None  # this widget's last output layer
        self._emptied: set[str] = set()  # pickers left empty because their layer was removed
        super().__init__(widgets=_controls(), labels=True)
        self.more_styles.choices = self._image_choices  # after the layer pickers exist: it reads them
        self.more_styles.native.setMaximumHeight(MORE_STYLES_HEIGHT)  # a short list; it scrolls
        self.status.native.setWordWrap(True)  # long messages wrap; the dock keeps its width
        for label in (self.status, self.estimate):
            label.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.estimate.native.setWordWrap(True)
        self.progress.native.setFormat("%v of %m steps")
        self.loss_plot: LossPlot | None = None  # made when pyqtgraph is imported (in the background) or at Run
        self._scroll_settings()
        self.advanced.changed.connect(self._show_advanced)
        self.weights.changed.connect(self._show_advanced)
        self.whole_stack.changed.connect(self._show_advanced)
        self.content.changed.connect(self._update_stack_option)
        for name in PICKERS:
            self[name].changed.connect(self.more_styles.reset_choices)
            self[name].changed.connect(partial(self._picked, name))
        self._update_stack_option()
        self.calibrations = Calibrations(on_ready=lambda: self._alive and self._update_estimate())
        self._applying = False  # a preset is setting the controls
        self.estimate_seconds: float | None = None  # the current settings' estimated time
        self.preset.changed.connect(self._apply_preset)
        for name in PRESET_FIELDS:
            self[name].changed.connect(self._match_preset)
        for name in ("content", "style", "more_styles", "regions", "whole_stack", *RANGE, "steps", "size", "scales",
                     "tile_size", "tile_overlap", "device", "style_loss"):
            self[name].changed.connect(self._update_estimate)
        self._show_advanced()
        self.run_button.changed.connect(self.start)
        self.stop_button.changed.connect(self.stop)
        self.reuse_button.changed.connect(self.use_settings)
        self.continue_button.changed.connect(self.continue_run)
        viewer.layers.selection.events.active.connect(self._update_result_buttons)
        viewer.layers.events.removed.connect(self._on_layer_removed)
        self.native.destroyed.connect(self._on_destroyed)
        self._undocked = _Undocked(self.native, self.stop)
        # a run's status, progress bar and loss plot repaint the dock together, at most every SHOW_MS (and at
        # its end): in software OpenGL every repaint composites the whole window, which at each step of a fast
        # run took a core from it
        self._shown: dict[str, Any] = {}  # what the next repaint shows: 'status' text, 'progress' (step, total)
        self._repaint = qthrottled(self._repaint_now, SHOW_MS)  # no Qt parent: it outlives a closed window
        self._background = False  # the threads that import torch start once the dock is shown
        QTimer.singleShot(0, self._start_background)

    @property
    def worker(self) -> GeneratorWorker | None:
        """The running session's worker thread, if any."""
        return self.session.worker if self.session is not None else None

    # -- controls -------------------------------------------------------------------------------------
    def reset_choices(self, *_: Any) -> None:
        """Refresh the layer pickers (napari calls this on layer changes). A picked layer stays picked (also
        when renamed); one that was removed leaves its picker empty, never another layer in its place, so Run
        cannot take a pair the user did not choose. Other empty pickers take an image that is neither the
        other's nor a result."""
        picked = {name: self[name].value for name in PICKERS}
        super().reset_choices()
        for name, layer in picked.items():
            if layer is not None and layer not in self.viewer.layers:
                self._emptied.add(name)
                self[name].value = None
            elif self[name].value is not layer:
                self[name].value = layer
        for name, other in zip(PICKERS, reversed(PICKERS), strict=True):
            if self[name].value is None and name not in self._emptied:
                self[name].value = next((layer for layer in self[name].choices if layer is not None
                                         and layer is not self[other].value and METADATA_KEY not in layer.metadata),
                                        None)

    def _picked(self, name: str, layer: Image | None) -> None:
        """A layer chosen in picker ``name``: it may be filled again when layers change."""
        if layer is not None:
            self._emptied.discard(name)

    def _scroll_settings(self) -> None:
        """Put the settings (the controls above Run) into a vertical scroll area that takes the dock's spare
        height: the dock never asks for more than the screen, and Run, Stop, the progress, the status and the
        loss plot stay in view below it."""
        layout = self.native.layout()
        inner = QWidget()
        box = QVBoxLayout(inner)
        box.setContentsMargins(0, 0, 0, 0)
        for _ in range([widget.name for widget in self].index("run_button")):
            box.addWidget(layout.takeAt(0).widget())
        box.addStretch(1)  # spare height goes below the settings, not between them
        layout.insertWidget(0, _Settings(inner), stretch=1)

    def _start_background(self) -> None:
        """Start importing pyqtgraph and listing the devices, and loading and timing the network (ready before
        Run, while the user picks layers), in threads. Called once the dock is shown: torch's import holds the
        interpreter for stretches, and napari would stall if that overlapped with building and docking it."""
        if self._alive:
            self._background = True
            threading.Thread(target=self._list_devices, name="neural-style devices").start()  # not a daemon: see
            # Calibrations (a daemon killed at exit inside torch's import aborts the process)
            self._update_estimate()

    def _plot(self) -> LossPlot:
        """The loss plot (hidden until a run's first step), made on first use."""
        if self.loss_plot is None:
            from .plot import LossPlot

            self.loss_plot = LossPlot()
            self.native.layout().addWidget(self.loss_plot.native)
        return self.loss_plot

    @ensure_main_thread
    def _plot_importable(self) -> None:
        if self._alive:
            self._plot()

    @ensure_main_thread
    def _devices_listed(self, devices: list[str]) -> None:
        if self._alive:
            self.device.choices = _device_choices(devices)

    def _list_devices(self) -> None:
        """Import pyqtgraph for the loss plot (0.1-0.3 s), then list the device picker's choices beyond "auto"
        and CPU (torch's import, 2-5 s), here rather than on the GUI thread."""
        from . import plot  # noqa: F401 - imported here, the plot is made in the GUI thread

        self._plot_importable()
        from .engine.network import available_devices

        self._devices_listed(available_devices())

    def _apply_preset(self) -> None:
        if self.preset.value != CUSTOM:
            self._applying = True
            try:
                for name, value in PRESETS[self.preset.value].items():
                    self[name].value = value
            finally:
                self._applying = False

    def _match_preset(self) -> None:
        """The preset picker follows size, steps and scales: the preset they make up, else "custom"."""
        if not self._applying:
            values = {name: self[name].value for name in PRESET_FIELDS}
            self.preset.value = next((k for k, preset in PRESETS.items() if preset == values), CUSTOM)

    def _update_estimate(self) -> None:
        """The current settings' time on this machine, and each preset's, for the chosen content
        ("calibrating…" while the device's network loads and is timed)."""
        device, content, self.estimate_seconds = self.device.value, self.content.value, None
        if not self._background:
            self.estimate.value = CALIBRATING
            return
        cost = self.calibrations.cost(device)
        if cost is None or content is None:
            self.estimate.value = CALIBRATING if device in self.calibrations.pending else ""
            return
        try:
            self.estimate_seconds, self.estimate.value = estimate(
                params_from_widget(self), content, self.whole_stack.value, cost,
                (self.slice_start.value, self.slice_stop.value),
                [layer for layer in (self.style.value, *self.more_styles.value) if layer is not None],
                self.regions.value is not None)
        except ValueError:  # settings that cannot run: Run says why
            self.estimate.value = ""

    def _show_advanced(self) -> None:
        for name in ADVANCED:
            self[name].visible = self.advanced.value and (name != "weights_file" or self.weights.value == WEIGHTS_FILE)
        for name in RANGE:
            self[name].visible = self.whole_stack.value

    def _image_choices(self, _: Any) -> list[tuple[str, Image]]:
        """This viewer's image layers but the content, the style and earlier results, for 'more styles'."""
        return [(layer.name, layer) for layer in self.viewer.layers if isinstance(layer, Image)
                and layer not in (self.content.value, self.style.value) and METADATA_KEY not in layer.metadata]

    def _in_labels(self, text: str) -> str:
        """``text`` with the controls' code names (style_weight) written as the labels users see."""
        for widget in self:
            if "_" in widget.name and widget.label:
                text = re.sub(rf"\b{widget.name}\b", widget.label, text)
        return text

    def _refuse(self, what: str, exc: ValueError) -> None:
        show_error(f"Neural style transfer cannot {what}: {self._in_labels(str(exc))}")

    def _update_stack_option(self) -> None:
        """'whole stack' only for content with more than two non-RGB dimensions; its slice range: all of
        the content's first leading axis."""
        content = self.content.value
        self.whole_stack.enabled = content is not None and content.ndim > 2
        if not self.whole_stack.enabled:
            self.whole_stack.value = False
            return
        n = full_shape(content)[0]
        self.slice_start.max, self.slice_stop.max = n - 1, n
        self.slice_start.value, self.slice_stop.value = 0, n

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

    def _named(self, name: str) -> Image | Labels:
        """This viewer's layer called ``name``; ValueError when it is gone."""
        if name not in self.viewer.layers:
            raise ValueError(f"layer '{name}' of that run is no longer in the viewer")
        return self.viewer.layers[name]

    def _selected_result(self) -> tuple[Image, dict[str, Any]]:
        """The selected output layer and its metadata; ValueError if the selection is not a result."""
        layer = self.viewer.layers.selection.active
        if layer is None or METADATA_KEY not in layer.metadata:
            raise ValueError("select a result layer (one made by this widget) first")
        return layer, layer.metadata[METADATA_KEY]

    def _update_result_buttons(self, *_: Any) -> None:
        layer = self.viewer.layers.selection.active
        meta = layer.metadata.get(METADATA_KEY) if layer is not None else None
        self.reuse_button.enabled = meta is not None
        self.continue_button.enabled = meta is not None and not meta.get("whole_stack") and self.session is None

    # -- run ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Validate the settings and start a run in a worker thread (errors become notifications)."""
        try:
            content, style = self._layers()
            params = params_from_widget(self)
            inputs = read_inputs(content, style, self.more_styles.value, self.regions.value, self.viewer.dims.point,
                                 params.size, whole_stack=self.whole_stack.value,
                                 slices=(self.slice_start.value, self.slice_stop.value),
                                 scheduler=self.scheduler.value)
        except ValueError as exc:
            self._refuse("start", exc)
            return
        self._launch(inputs, params)

    def continue_run(self) -> None:
        """Run 'steps' more steps from the selected result's image, with the settings it records."""
        try:
            layer, meta = self._selected_result()
            params = continue_params(meta, self.steps.value, self.preview_every.value)
            content, style = self._named(meta["content"]), self._named(meta["style"])
            more = [self._named(name) for name in meta["more_styles"]]
            labels = self._named(meta["labels"]) if meta["labels"] else None
            at = content.data_to_world([*meta["plane_index"]["content"], 0, 0])
            point = [*self.viewer.dims.point[:-len(at)], *at]  # the content's slice that the result came from
            image = np.asarray(layer.data).reshape(layer.data.shape[len(meta["plane_index"]["content"]):])
            inputs = read_inputs(content, style, more, labels, point, params.size, init_image=image,
                                 continues={"layer": layer.name, "steps_done": meta["steps_done"]})
        except ValueError as exc:
            self._refuse("continue", exc)
            return
        self._launch(inputs, params)

    def use_settings(self) -> None:
        """Set every control as for the selected result's run (layers that are gone are left as they are)."""
        try:
            _, meta = self._selected_result()
        except ValueError as exc:
            show_error(f"Neural style transfer: {exc}")
            return
        layers = self.viewer.layers
        picks = {name: layers[meta[name]] for name in ("content", "style") if meta[name] in layers}
        picks["regions"] = layers[meta["labels"]] if meta["labels"] in layers else None  # noqa: SIM401
        picks["more_styles"] = [layers[name] for name in meta["more_styles"] if name in layers]
        values = control_values(meta)
        if values["weights"] not in WEIGHT_SOURCES:
            self.weights_file.value, values["weights"] = values["weights"], WEIGHTS_FILE
        if values["device"] not in self.device.choices:
            del values["device"]
        for name, value in (picks | values).items():  # layers first: they decide what 'whole stack' allows
            self[name].value = value

    def _launch(self, inputs: RunInputs, params: StyleParams) -> None:
        if self.session is not None:
            return
        try:
            session = Session(self.viewer, inputs, params, on_status=self._set_status, on_end=self._on_end,
                              on_step=self._on_step, replaces=self.previous if self.replace_previous.value else None)
        except ValueError as exc:
            self._refuse("start", exc)
            return
        self.session = session
        self._plot().clear()
        self.progress.max, self.progress.value, self.progress.visible = session.plan.total, 0, True
        self.run_button.enabled, self.stop_button.enabled, self.continue_button.enabled = False, True, False
        session.start()

    def stop(self) -> None:
        """Ask the run to end after the current step; its current image stays in the output layer."""
        if self.session is not None:
            self.stop_button.enabled = False
            self.session.stop()

    def _on_step(self, p: Progress) -> None:
        """The step's progress and losses, in the dock (not napari's progress bar: while one is open, napari's
        activity indicator redraws all the time, which in software OpenGL takes a CPU core from the run)."""
        if self._alive:
            try:
                self._plot().add(p)
            except RuntimeError:  # its Qt objects went with the closed window, before our 'destroyed' signal
                self._alive = False
                return
            self._shown["progress"] = (p.step, p.total)
            self._repaint()

    def _set_status(self, text: str) -> None:
        if self._alive:
            self._shown["status"] = text
            self._repaint()

    def _repaint_now(self) -> None:
        """The run's latest status, progress and losses on screen (one repaint of the dock)."""
        shown, self._shown = self._shown, {}
        if not self._alive:
            return
        try:
            if "status" in shown:
                self.status.value = shown["status"]
            if "progress" in shown:
                step, total = shown["progress"]
                if self.progress.max != total:
                    self.progress.max = total
                self.progress.value = step
            if self.loss_plot is not None:
                self.loss_plot.flush()
        except RuntimeError:  # its Qt objects went with the closed window, before our 'destroyed' signal
            self._alive = False

    def _on_end(self, session: Session) -> None:
        if self.session is session:
            self.session = None
        if session.output is not None:
            self.previous = session.output
        if self._alive:
            self.run_button.enabled, self.stop_button.enabled = True, False
            self._update_result_buttons()
            self._repaint.cancel()
            self._repaint_now()  # the last step's progress and losses, and what the run ended with

    # -- shutdown -------------------------------------------------------------------------------------
    _alive = True

    def _on_layer_removed(self, event: Any) -> None:
        session = self.session
        if session is not None and event.value in (session.content, session.style, session.output):
            show_info(f"Neural style transfer stopped: layer '{event.value.name}' was removed")
            self.stop()

    def _on_destroyed(self) -> None:
        self._alive = False
        self.shutdown()

    def shutdown(self, wait_s: float = SHUTDOWN_WAIT_S) -> None:
        """Stop timing the network and the run, if any, and wait up to ``wait_s`` for the run's thread to
        finish its step."""
        self.calibrations.close()
        if self.session is not None:
            self.session.wait(wait_s)


class _Settings(QScrollArea):
    """A vertical scroll area around ``inner``, as wide as the settings ask (and never narrower than they
    need): the dock opens narrow, and the area scrolls instead of growing the window."""

    def __init__(self, inner: QWidget) -> None:
        super().__init__()
        self.setWidget(inner)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(inner.minimumSizeHint().width() + self._bar())

    def _bar(self) -> int:
        return self.verticalScrollBar().sizeHint().width()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self.widget().sizeHint().width() + self._bar(), super().sizeHint().height())


class _Undocked(QObject):
    """Calls ``on_undocked`` when ``widget`` loses its parent: napari closing the dock (the widget itself
    lives on, held by its run's signals, so it is not destroyed)."""

    def __init__(self, widget: QWidget, on_undocked: Callable[[], None]) -> None:
        super().__init__(widget)
        self._on_undocked = on_undocked
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.ParentChange and obj.parent() is None:
            self._on_undocked()
        return False


def _controls() -> list[Widget]:
    """The widget's controls, in order, at the default preset's values."""
    d = StyleParams(**PRESETS[PRESET])
    tip = help_text
    return [
        create_widget(annotation=Optional[Image], name="content", label="content"),  # noqa: UP007, UP045
        create_widget(annotation=Optional[Image], name="style", label="style"),  # noqa: UP007, UP045
        Select(name="more_styles", label="more styles", choices=(), value=[],
               tooltip="more style images (in layer order): blended with style, or with a labels layer "
                       "label 1 uses style, label 2 the first of these, …"),
        create_widget(annotation=Optional[Labels], name="regions", label="labels",  # noqa: UP007, UP045
                      options={"tooltip": "regions: label k gets style k, label 0 keeps the content"}),
        CheckBox(name="whole_stack", text="whole stack", value=False, enabled=False,
                 tooltip="stylise every slice (each starting from the previous result), not just this one"),
        SpinBox(name="slice_start", label="from slice", value=0, min=0, max=MAX_SLICES,
                tooltip="whole stack: the first slice (of the first leading axis) to stylise"),
        SpinBox(name="slice_stop", label="to slice", value=1, min=1, max=MAX_SLICES,
                tooltip="whole stack: the slice to stop before (the range is from ≤ slice < to); only the "
                        "range's slices are read, so a lazy (dask) stack need not fit in memory"),
        ComboBox(name="preset", choices=[*((PRESET_LABELS[k], k) for k in PRESETS), (CUSTOM, CUSTOM)], value=PRESET,
                 tooltip="size, steps and scales for a quick look, a balanced or the best result"),
        Label(name="estimate", label="time", value="",
              tooltip="estimated from a timed pass of the network on this machine, for the content"),
        SpinBox(name="size", value=d.size, min=16, max=8192, tooltip=tip("size")),
        SpinBox(name="steps", value=d.steps, min=1, max=100_000, tooltip=tip("steps")),
        LineEdit(name="style_weight", value=f"{d.style_weight:g}", tooltip=tip("style_weight")),
        LineEdit(name="content_weight", value=f"{d.content_weight:g}", tooltip=tip("content_weight")),
        CheckBox(name="advanced", text="advanced settings", value=False),
        ComboBox(name="style_loss", label="style loss", choices=STYLE_LOSSES, value=d.style_loss,
                 tooltip=tip("style_loss")),
        LineEdit(name="tv_weight", value=f"{d.tv_weight:g}", tooltip=tip("tv_weight")),
        ComboBox(name="optimizer", choices=OPTIMIZERS, value=d.optimizer, tooltip=tip("optimizer")),
        ComboBox(name="init", choices=INIT_CHOICES, value=d.init, tooltip=tip("init")),
        SpinBox(name="seed", value=d.seed, min=0, max=2**31 - 1, tooltip=tip("seed")),
        SpinBox(name="scales", value=d.scales, min=1, max=8, tooltip=tip("scales")),
        ComboBox(name="preserve_color", choices=PRESERVE_COLOR, value=d.preserve_color,
                 tooltip=tip("preserve_color")),
        ComboBox(name="weights", choices=(*WEIGHT_SOURCES, WEIGHTS_FILE), value=d.weights, tooltip=tip("weights")),
        FileEdit(name="weights_file", label="weights file", mode="r", filter="*.pt *.pth *.bin"),
        ComboBox(name="device", choices=_device_choices(["cpu"]), tooltip=tip("device")),  # more when listed
        SpinBox(name="preview_every", value=PREVIEW_EVERY, min=0, max=100_000, tooltip=tip("preview_every")),
        SpinBox(name="tile_size", value=d.tile_size, min=0, max=1 << 16, tooltip=tip("tile_size")),
        SpinBox(name="tile_overlap", value=d.tile_overlap, min=0, max=1 << 15, tooltip=tip("tile_overlap")),
        LineEdit(name="scheduler", label="dask scheduler", value="",
                 tooltip="whole stack: the address of a dask.distributed scheduler (e.g. tcp://10.0.0.5:8786) "
                         "whose cluster stylises the stack in segments of slices; empty: this process"),
        CheckBox(name="replace_previous", text="replace previous output", value=False,
                 tooltip="the new result takes the place of this widget's last one (at its first "
                         "preview) instead of landing on top of it"),
        PushButton(name="run_button", text="Run"),
        PushButton(name="stop_button", text="Stop", enabled=False),
        PushButton(name="reuse_button", text="Use these settings", enabled=False,
                   tooltip="set every control as for the selected result layer"),
        PushButton(name="continue_button", text="Continue", enabled=False,
                   tooltip="'steps' more steps from the selected result's image, with its settings"),
        ProgressBar(name="progress", label="progress", value=0, min=0, max=1, visible=False),
        Label(name="status", value=""),
    ]


def _device_choices(devices: list[str]) -> list[tuple[str, str]]:
    """The device picker's (label, value) choices: "auto", then ``devices``."""
    return [(DEVICE_LABELS.get(x, x), x) for x in ("auto", *devices)]


def params_from_widget(widget: StyleTransferWidget) -> StyleParams:
    """The run's parameters from the widget's values; ValueError with a clear message when one is bad."""
    weights = widget.weights.value
    if weights == WEIGHTS_FILE:
        path = widget.weights_file.value
        weights = str(path).strip()
        if weights in ("", ".") or path.is_dir():
            raise ValueError("no weights file is chosen: choose a file (e.g. vgg19.pth) next to 'weights file', "
                             "or the 'caffe' or 'torchvision' weights")
    content = widget.content.value
    limits = None
    if content is not None and not content.rgb:
        limits = tuple(float(v) for v in content.contrast_limits)
    return StyleParams(
        size=widget.size.value, steps=widget.steps.value, style_weight=_number(widget, "style_weight"),
        content_weight=_number(widget, "content_weight"), tv_weight=_number(widget, "tv_weight"),
        style_loss=widget.style_loss.value,
        optimizer=widget.optimizer.value, init=widget.init.value, seed=widget.seed.value,
        scales=widget.scales.value, preserve_color=widget.preserve_color.value, weights=weights,
        device=widget.device.value, preview_every=widget.preview_every.value, tile_size=widget.tile_size.value,
        tile_overlap=widget.tile_overlap.value, contrast_limits=limits)


def _number(widget: Container, name: str) -> float:
    text = widget[name].value.strip()
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number such as 1e5, got {text!r}") from None
