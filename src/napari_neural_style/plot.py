"""The live loss plot in the dock: each loss term against step on a log scale, scale and slice changes marked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

if TYPE_CHECKING:
    from .engine.progress import Progress

COLOURS = {"total": "w", "style": "#f0a030", "content": "#40a0f0", "tv": "#a0a0a0", "temporal": "#60d060"}
HEIGHT = 160  # pixels


class LossPlot:
    """A pyqtgraph plot fed one :class:`.Progress` at a time; ``native`` is the Qt widget to dock.

    Only finite, positive values are drawn (a log axis cannot show 0). A dashed vertical line marks where
    a new scale, tile or slice begins.
    """

    def __init__(self) -> None:
        self.native = pg.PlotWidget(background=None)
        self.native.setFixedHeight(HEIGHT)
        self.native.setLogMode(x=False, y=True)
        self.native.addLegend(offset=(-5, 5), labelTextSize="7pt")
        self.native.setLabel("bottom", "step")
        self.native.showGrid(y=True, alpha=0.2)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.marks: list[pg.InfiniteLine] = []
        self._steps: list[int] = []
        self._values: dict[str, list[float]] = {}
        self._where: tuple | None = None

    def clear(self) -> None:
        """Forget the last run's curves and marks."""
        for item in [*self.curves.values(), *self.marks]:
            self.native.removeItem(item)
        self.native.getPlotItem().legend.clear()
        self.curves, self.marks, self._steps, self._values, self._where = {}, [], [], {}, None

    def add(self, p: Progress) -> None:
        """Append step ``p``'s losses and redraw (a few curves of at most a few thousand points)."""
        where = (p.scale, p.tile, p.index)
        if self._where is not None and where != self._where:
            pen = pg.mkPen("#808080", style=pg.QtCore.Qt.PenStyle.DashLine)
            mark = pg.InfiniteLine(p.step - 0.5, angle=90, pen=pen)
            self.native.addItem(mark)
            self.marks.append(mark)
        self._where = where
        self._steps.append(p.step)
        for name, value in p.losses.items():
            self._values.setdefault(name, [np.nan] * (len(self._steps) - 1)).append(value)
        steps = np.asarray(self._steps)
        for name, values in self._values.items():
            if len(values) < len(steps):
                values.append(np.nan)  # a term this step did not have (e.g. temporal on the first slice)
            v = np.asarray(values, float)
            v[~(v > 0)] = np.nan
            if name not in self.curves:
                self.curves[name] = self.native.plot(name=name, pen=pg.mkPen(COLOURS.get(name, "m"), width=1.5),
                                                     connect="finite")
            self.curves[name].setData(steps, v)
