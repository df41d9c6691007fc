"""What the run generator yields after every optimiser step (no torch here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

STOPPED = "stopped"  # the stage of a cancelled run's last record
LOADING = "loading the network"  # the stage of a run's first record



@dataclass
class Progress:
    """One optimiser step. ``image`` (float32, the output's shape, values in [0, 1]) is set every
    ``preview_every`` steps, at the end of each scale (and tile) and on the last step; otherwise None.

    Stacks: ``index`` is the slice's position along the leading axes and ``slices`` their count; ``step``
    and ``total`` count over the whole stack, ``image`` is the current slice, and ``stack`` (the nD result,
    filled slice by slice, later slices still 0) is set when a slice is finished: on the last step it is
    the whole result. It is one array, updated in place by later slices: copy it to keep a snapshot.
    Tiled scales: ``tile`` (1-based) of ``tiles``; both 0 when the scale is one whole image.
    ``current()`` renders the image as it is now, like ``image`` (of a stack: the current slice), e.g. to
    keep it after a stop or Ctrl-C; call it while the generator is paused or ended, never from another
    thread while it runs.

    Stage records (``stage`` set, e.g. "computing style targets (scale 3 of 3, tile 2 of 16)"; only with
    ``stylize_steps(..., stages=True)``) come between steps, before long work that is not a step: ``step``
    is the steps done so far, ``losses`` is empty, ``image`` None. A cancelled run's last record has the
    stage :data:`STOPPED` and the current image.
    """

    step: int
    total: int
    losses: dict[str, float]
    elapsed: float
    eta: float
    scale: int
    scales: int
    shape: tuple[int, int]
    image: np.ndarray | None = field(default=None, repr=False)
    index: tuple[int, ...] = ()
    slices: int = 1
    stack: np.ndarray | None = field(default=None, repr=False)
    tile: int = 0
    tiles: int = 0
    current: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)
    stage: str = ""

    @property
    def done(self) -> bool:
        return self.step == self.total

    @property
    def result(self) -> np.ndarray | None:
        """The array a caller keeps from this step: the nD stack of a stack run (set when a slice is
        finished), the image of a single-image run (set on previews and the last step), else None."""
        return self.stack if self.index else self.image
