"""The live loss plot in the dock: each loss term against step on a log scale, scale and slice changes marked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import QSize

if TYPE_CHECKING:
    from .engine.progress import Progress

COLOURS = {"total": "#ffffff", "style": "#f0a030", "content": "#40a0f0", "tv": "#a0a0a0", "temporal": "#60d060"}
HEIGHT = 160  # pixels
WIDTH = 200  # pixels: the width it asks for; it takes the dock's
FLOOR = 1e-6  # terms below this share of the step's total are not drawn: they would stretch the log axis


class LossPlot:
    """A pyqtgraph plot fed one :class:`.Progress` at a time; ``native`` is the Qt widget to dock, hidden
    until the first step.

    Only finite values above ``FLOOR`` × the step's total are drawn (a log axis cannot show 0, and a term
    ~1e-16, such as the temporal loss at a slice's first step, would squash the others into a line). A
    dashed vertical line marks where a new scale, tile or slice begins. The key is the plot's title, above
    the curves. ``add`` only records a step; ``flush`` redraws, when its owner repaints (a redraw costs the
    GUI thread ~10 ms, which a fast run would pay at every step).
    """

    def __init__(self) -> None:
        self.native = _PlotWidget(background=None)
        self.native.setFixedHeight(HEIGHT)
        self.native.setLogMode(x=False, y=True)
        self.native.setLabel("bottom", "step")
        self.native.showGrid(y=True, alpha=0.2)
        self.native.setVisible(False)
        self.key = self.native.getPlotItem().titleLabel
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.marks: list[pg.InfiniteLine] = []
        self._steps: list[int] = []
        self._values: dict[str, list[float]] = {}
        self._where: tuple | None = None

    def clear(self) -> None:
        """Forget the last run's curves and marks."""
        for item in [*self.curves.values(), *self.marks]:
            self.native.removeItem(item)
        self.native.setTitle(None)
        self.curves, self.marks, self._steps, self._values, self._where = {}, [], [], {}, None

    def add(self, p: Progress) -> None:
        """Append step ``p``'s losses (drawn at the next ``flush``)."""
        self.native.setVisible(True)
        where = (p.scale, p.tile, p.index)
        if self._where is not None and where != self._where:
            pen = pg.mkPen("#808080", style=pg.QtCore.Qt.PenStyle.DashLine)
            mark = pg.InfiniteLine(p.step - 0.5, angle=90, pen=pen)
            self.native.addItem(mark)
            self.marks.append(mark)
        self._where = where
        self._steps.append(p.step)
        floor = FLOOR * p.losses.get("total", 0.0)
        for name, value in p.losses.items():
            self._values.setdefault(name, [np.nan] * (len(self._steps) - 1)).append(value if value > floor else np.nan)
        for values in self._values.values():
            if len(values) < len(self._steps):
                values.append(np.nan)  # a term this step did not have (e.g. temporal on the first slice)

    def flush(self) -> None:
        """Redraw the curves with every step so far."""
        steps = np.asarray(self._steps)
        for name, values in self._values.items():
            v = np.asarray(values, float)
            v[~(v > 0)] = np.nan
            if name not in self.curves:
                self.curves[name] = self.native.plot(name=name, pen=pg.mkPen(COLOURS.get(name, "m"), width=1.5),
                                                     connect="finite")
                self.native.setTitle(" ".join(f"<span style='color:{COLOURS.get(k, 'm')}'>{k}</span>"
                                              for k in self.curves), size="8pt")
            self.curves[name].setData(steps, v)


class _PlotWidget(pg.PlotWidget):
    """A plot that asks for a narrow width (pyqtgraph's asks for 640 px, which made the dock that wide)."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(WIDTH, HEIGHT)
