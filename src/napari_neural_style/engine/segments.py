"""Segments: runs of consecutive slices stylised as one task (a dask.distributed task or a dask chunk) by
the same stack driver as everything else. A chained segment (``stack_init`` "flow" or "previous") that
does not start at slice 0 starts one slice early and drops that slice, so its first kept slice is chained
from a neighbour like every other slice and the seams stay coherent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .inputs import Inputs
from .params import StyleParams
from .slices import Slices
from .stack import stack_steps
from .store import write_slice


@dataclass(frozen=True)
class Segment:
    """Slices ``start:stop`` of a view kept; with ``lead_in``, slice ``start - 1`` runs first and is dropped."""

    start: int
    stop: int
    lead_in: bool

    @property
    def first(self) -> int:
        """The first slice the segment runs."""
        return self.start - self.lead_in


def plan_segments(missing: Iterable[int], length: int, chained: bool) -> list[Segment]:
    """The ``missing`` slices (view positions, ascending) as runs of consecutive slices, each cut into
    segments of at most ``length``; chained segments after slice 0 get a lead-in slice."""
    if length < 1:
        raise ValueError(f"segment length must be at least 1 slice, got {length}")
    segments: list[Segment] = []
    run: list[int] = []
    for k in [*missing, None]:
        if run and (k is None or k != run[-1] + 1 or len(run) == length):
            segments.append(Segment(run[0], run[-1] + 1, chained and run[0] > 0))
            run = []
        if k is not None:
            run.append(k)
    return segments


def check_first(view: Slices, style: np.ndarray | Sequence[np.ndarray], params: StyleParams, *,
                init_image: np.ndarray | None = None, labels: object | None = None) -> None:
    """Validate the inputs on the view's first slice (read now) before any segment is sent: ValueError here,
    not after a task's retries."""
    first = view.labels(labels)
    first = None if first is None else first.reshape((-1,) + first.shape[-2:])[0]
    Inputs.read(view.read(0), style, params, init_image=init_image, labels=first)


def run_segment(part: Slices, style: np.ndarray | Sequence[np.ndarray], params: StyleParams, *, rgb: bool,
                lead_in: bool, labels: np.ndarray | None = None, init_image: np.ndarray | None = None,
                store: str | None = None, topic: str | None = None) -> np.ndarray | None:
    """Stylise the slices of ``part`` (one segment, lead-in included) with :func:`.stack_steps`; drop the
    lead-in. Each kept slice is written to the zarr ``store`` as soon as it is finished (then None is
    returned), else all are returned stacked. With ``topic``, each finished slice is reported as a
    dask.distributed worker event {"position", "losses"} (the caller subscribes to it), and without a
    store the slice itself is handed over at once through the dask Queue ``topic`` (see :func:`_hand_over`)."""
    kept = []
    for p in stack_steps(part, style, params, rgb=rgb, init_image=init_image, labels=labels):
        if p.stack is None:
            continue
        k = int(np.ravel_multi_index(p.index, part.lead_shape))
        if lead_in and k == 0:
            continue
        image = p.stack[p.index]
        if store is not None:
            write_slice(store, part.where(k), part.positions[k], image)
        else:
            kept.append(image.copy())
        if topic is not None:
            from distributed import get_worker

            get_worker().log_event(topic, {"position": part.positions[k], "losses": p.losses})
            if store is None:
                _hand_over(topic, part.positions[k], kept[-1])
    return None if store is not None else np.stack(kept)


def _hand_over(name: str, position: int, image: np.ndarray) -> None:
    """Hand a finished slice to the client now, before its segment ends: a future of (position, image),
    whose data stays on this worker until the client takes it, through the dask Queue ``name``. Closing
    the queue here lets the scheduler drop it, and any future left in it, once the client has closed it."""
    from distributed import Queue, get_client, get_worker

    client = get_client()
    [future] = client.scatter([(position, image)], workers=[get_worker().address], hash=False)
    landing = Queue(name, client=client)
    landing.put(future)
    landing.close()
