"""Long stacks on a dask.distributed cluster: segments as tasks, finished slices into a zarr store (resumable),
progress streamed back as :class:`.Progress` records.

dask does the rest: ``client.submit(..., retries=RETRIES)`` re-runs a segment that raised, the scheduler
re-runs the segments of a worker that died, ``as_completed`` hands back finished segments and worker
events (``log_event``/``subscribe_topic``) report each finished slice. Each task calls the engine in the
worker process, so the network loads once per worker (the per-process cache in :mod:`.network`).
"""

from __future__ import annotations

import math
import queue
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace

import dask
import dask.array as da
import numpy as np
from distributed import Client, Queue, as_completed

from .cancel import Cancel
from .params import StyleParams
from .plan import Plan, StackPlan, later_params, output_shape
from .progress import Progress
from .segments import check_first, plan_segments, run_segment
from .slices import Slices, stack_limits
from .store import RESULT, done_slices, open_store
from .timing import DEFAULT_COST, slice_seconds

WORKER_ENV = {"OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20)}
"""Environment of worker processes, set before they start (see :func:`worker_environment`; in a job
script, export it): torch on one thread per worker, and glibc's mmap threshold at 32 MiB. dask's nanny
sets ``MALLOC_TRIM_THRESHOLD_``, which freezes that threshold at 128 KiB, so every tensor is a fresh mmap:
torch on the CPU ran 2.5× slower in workers."""
RETRIES = 3  # times a segment that raised is tried again
MAX_SEGMENT = 32  # slices per segment at most by default: what a lost worker costs, how often a store resumes
EVENT_WAIT = 0.25  # seconds to wait for a worker event before looking at finished segments again
CONNECT_TIMEOUT = 30  # seconds to reach a scheduler before giving up


def worker_environment() -> dask.config.set:
    """``with worker_environment(): cluster = LocalCluster(...)``: :data:`WORKER_ENV` in the environment
    that dask's nanny sets before it spawns each worker (``distributed.nanny.pre-spawn-environ``)."""
    return dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENV.items()})


def connect(address: str, timeout: float | None = None) -> Client:
    """A client of the dask scheduler at ``address`` (e.g. ``tcp://10.0.0.5:8786``); ValueError saying why
    when none is reached within ``timeout`` seconds (default :data:`CONNECT_TIMEOUT`)."""
    try:
        return Client(address, timeout=CONNECT_TIMEOUT if timeout is None else timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"no dask scheduler reached at {address!r}: {reason}") from None


def cluster_steps(view: Slices, style: np.ndarray | Sequence[np.ndarray], params: StyleParams, *, rgb: bool,
                  client: Client, store: str | None = None, segment: int | None = None,
                  init_image: np.ndarray | None = None, labels: object | None = None,
                  cancel: Cancel = None) -> Iterator[Progress]:
    """Stylise the stack ``view`` on ``client``'s cluster; yield a :class:`.Progress` per finished slice.

    The slices still to do (all, or those the ``store`` does not yet hold) are cut into segments of
    ``segment`` consecutive slices (default: an even share per worker, at most :data:`MAX_SEGMENT`), one
    task each. ``step``/``total`` count as in one process, so ETAs compare. Without a store, each slice
    comes back as soon as it is finished, in a record whose ``stack`` holds it (slices land in any order;
    those still to come are 0), so a viewer can show it. The last record's ``stack`` is
    the result, of the view's shape: a numpy array, or with ``store`` a dask array reading the store
    (which holds the whole stack: ``dask.array.from_zarr(store, "result")``). Closing the generator early
    cancels the segments not yet started; what finished slices wrote stays in the store, and so does
    setting ``cancel`` (within :data:`EVENT_WAIT` seconds).
    """
    params = replace(params, contrast_limits=stack_limits(view, params, rgb))
    later = later_params(params)
    hw = view.plane_shape[:2]
    plan = StackPlan(view.lead_shape, Plan.make(params, hw), Plan.make(later, hw))
    check_first(view, style, params, init_image=init_image, labels=labels)
    out_shape = view.lead_shape + output_shape(params, view.plane_shape, rgb)
    if store is not None:
        root = open_store(store, params, view.stack_lead + view.plane_shape, view.dtype,
                          view.stack_lead + out_shape[len(view.lead_shape):], len(view.stack_lead))
        result = da.from_zarr(root[RESULT])[view.window_slice]
        done = done_slices(root)
        finished = {k for k, p in enumerate(view.positions) if done[p]}
    else:
        result, finished = np.zeros(out_shape, np.float32), set()
    missing = [k for k in range(len(view)) if k not in finished]
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    length = segment or min(MAX_SEGMENT, max(1, math.ceil(len(missing) / workers)))
    segments = plan_segments(missing, length, later is not params)

    topic = f"napari-neural-style-{uuid.uuid4().hex}"
    events: queue.SimpleQueue = queue.SimpleQueue()
    style_f = client.scatter(list(style) if isinstance(style, (list, tuple)) else style, broadcast=True,
                             hash=False)  # a key of its own: one freed by a run just ended is not reused
    client.subscribe_topic(topic, events.put)  # before any segment runs, so that no event is missed
    landing = Queue(topic, client=client) if store is None else None  # finished slices, handed over at once
    futures = {}
    for s in segments:
        part = view.take(s.first, s.stop)
        futures[client.submit(run_segment, part, style_f, params, rgb=rgb, lead_in=s.lead_in,
                              labels=part.labels(labels), init_image=init_image, store=store, topic=topic,
                              key=f"stylize-segment-{topic}-{s.start}-{s.stop}", retries=RETRIES,
                              pure=False)] = s
    steps = {k: plan.first.total if k == 0 else plan.later.total for k in range(len(view))}
    styles = [np.shape(s)[:2] for s in (style if isinstance(style, (list, tuple)) else [style])]
    first, later = slice_seconds(plan, params, DEFAULT_COST, styles, len(styles) if labels is not None else 0)
    modeled = {k: first if k == 0 else later for k in range(len(view))}  # their ratios: the workers' speed is
    base, start = set(finished), time.perf_counter()  # learnt from the slices they finish

    def progress(k: int, losses: dict[str, float], stack: object = None) -> Progress:
        done = sum(steps[j] for j in finished)
        elapsed = time.perf_counter() - start
        left, new = (sum(modeled[j] for j in range(len(view)) if j not in finished),
                     sum(modeled[j] for j in finished - base))
        eta = elapsed * left / new if new else left / workers
        return Progress(done, plan.total, losses, elapsed, eta, len(plan.later.scales) - 1,
                        len(plan.later.scales), plan.later.shape, None,
                        tuple(int(i) for i in np.unravel_index(k, view.lead_shape)), plan.slices, stack)

    pending = as_completed(list(futures))
    try:
        while not pending.is_empty():
            if cancel is not None and cancel.is_set():
                return
            for k, losses in _events(events, view):
                if k not in finished:
                    finished.add(k)
                    yield progress(k, losses)
            for k, image in _landed(client, landing, view):
                result.reshape((-1,) + image.shape)[k] = image
                yield progress(k, {}, result)
            for future in pending.next_batch(block=False):
                s = futures[future]
                part = future.result()  # raises what the segment raised, after its retries
                if part is not None:
                    result.reshape((-1,) + part.shape[1:])[s.start:s.stop] = part
                finished.update(range(s.start, s.stop))
                if not pending.is_empty():
                    yield progress(s.stop - 1, {}, result)
    finally:
        client.unsubscribe_topic(topic)
        client.cancel([f for f in futures if not f.done()])
        if landing is not None:
            landing.close()  # the scheduler drops it, and slices still in it, once no segment holds it
    yield progress(len(view) - 1, {}, result)


def _landed(client: Client, landing: Queue | None, view: Slices) -> Iterator[tuple[int, np.ndarray]]:
    """(view slice, image) of the slices handed over since last asked; one whose worker has died since is
    skipped (its segment runs again)."""
    if landing is None:
        return
    for position, image in client.gather(landing.get(batch=True), errors="skip"):
        if position in view.positions:
            yield view.positions.index(position), image


def _events(events: queue.SimpleQueue, view: Slices) -> Iterator[tuple[int, dict[str, float]]]:
    """(view slice, losses) of the slices finished since last asked, after waiting up to EVENT_WAIT."""
    try:
        batch = [events.get(timeout=EVENT_WAIT)]
    except queue.Empty:
        return
    while not events.empty():
        batch.append(events.get())
    for _, message in batch:
        if message["position"] in view.positions:
            yield view.positions.index(message["position"]), message["losses"]

