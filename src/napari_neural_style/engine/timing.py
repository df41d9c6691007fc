"""The time model, one for the widget's estimate and for every progress record's ETA.

A run is a timeline of stretches, one per progress record: the setting up before its optimiser step (style
and content targets, a stack slice's flow, a new shape's first step) and the step itself, all counted in
forward and backward passes of the loss at their pixel counts. :func:`calibrate` times such a pass
(:class:`PassCost`); :func:`timeline` lays out what a plan does (stacks, flow, labels, styles, tiles, the
thread tuner's probes); :class:`Clock` gives the ETA: the stretches still to come, each kind rescaled by how
long the done ones of that kind really took. torch is imported only to calibrate (no torch at import).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .cancel import Cancel
from .params import StyleParams
from .plan import Plan, StackPlan

if TYPE_CHECKING:
    from .network import Extractor

SIDES = (64, 256)  # timed sides: the range of most steps (a run's coarsest scale to its finest), a few seconds
# In passes (one forward and backward of the loss at the same pixels), measured on a 2-core CPU:
FORWARD = 0.7  # a forward pass alone (style and content targets, resizing the images included)
WARMUP = 1.0  # the first step at a shape not run before (memory, kernel choice), on top of the step
REGION = 0.12  # each labelled region's guided Gram matrices, on top of a step
RUN = 0.5  # a run's own start and end (reading the inputs, rendering the result), at the output's pixels
SLICE = 0.5  # a stack's later slice: reading it, its flow and warp, at the slice's pixels
PRIOR_STEPS = 2  # an ETA trusts a calibrated model as much as this many measured steps
_lock = threading.Lock()  # one calibration at a time: two side by side (two widgets) would time each other
_measured: dict[tuple[str, bool], PassCost] = {}  # (device, bf16) -> the cost calibrated in this process
_calibrated: dict[tuple[str, str, bool], PassCost] = {}  # (weights, device, bf16) -> its cost, once timed


@dataclass(frozen=True)
class Line:
    """Seconds of a pass: ``overhead`` + ``per_pixel`` × pixels (small images cost more per pixel)."""

    overhead: float
    per_pixel: float

    @classmethod
    def fit(cls, timings: dict[int, float]) -> Line:
        """The line through (pixels, seconds) of two timed passes; when noise would make a term negative,
        the larger pass's seconds per pixel alone."""
        (p0, t0), (p1, t1) = sorted(timings.items())
        per_pixel = (t1 - t0) / (p1 - p0)
        overhead = t1 - per_pixel * p1
        return cls(overhead, per_pixel) if per_pixel > 0 and overhead >= 0 else cls(0.0, t1 / p1)

    def seconds(self, pixels: int) -> float:
        return self.overhead + self.per_pixel * pixels


@dataclass(frozen=True)
class PassCost:
    """Seconds of one forward and backward pass of the loss on this machine (:func:`calibrate`): ``kept`` at
    the thread count the tuner keeps, ``other`` at the one it tries now and then (None: there is none, or it
    is not known: as ``kept``); ``all_cores``: the kept count is all cores (the tuner's first choice)."""

    kept: Line
    other: Line | None = None
    all_cores: bool = True

    def seconds(self, pixels: int, probe: bool = False) -> float:
        return (self.other if probe and self.other else self.kept).seconds(pixels)


# A 2-core CPU's cost (bf16, quiet): what the ETA starts from when no calibration ran in this process (it
# follows the run's own step times; only the ratios between sizes come from here)
DEFAULT_COST = PassCost(Line(overhead=0.02, per_pixel=1.5e-6))


@dataclass(frozen=True)
class Stretch:
    """The modeled work before one progress record: ``fixed`` seconds of setting up, then one optimiser step
    of ``kept`` seconds at the count the tuner keeps or ``other`` at the other; ``probe``: at the other;
    ``start``: a run's first (set up on all cores, before the tuner has run a step)."""

    fixed: float
    kept: float
    other: float
    probe: bool
    start: bool = False

    @property
    def seconds(self) -> float:
        return self.fixed + (self.other if self.probe else self.kept)


def timeline(plan: Plan | StackPlan, params: StyleParams, cost: PassCost, styles: Sequence[tuple[int, int]],
             regions: int = 0) -> list[Stretch]:
    """The stretches of a run of ``plan`` (one per progress record) with ``styles`` of these (Y, X) shapes and
    ``regions`` labelled regions (0: no labels). A stack's later slices run each as a new run (a fresh thread
    tuner) after reading the slice (and its flow)."""
    if isinstance(plan, Plan):
        return _run(plan, params, cost, styles, regions, set())
    first, later = _slices(plan, params, cost, styles, regions)
    return first + later * (plan.slices - 1)


def estimate(plan: Plan | StackPlan, params: StyleParams, cost: PassCost, styles: Sequence[tuple[int, int]],
             regions: int = 0) -> float:
    """Seconds a run of ``plan`` takes at ``cost`` (see :func:`timeline`)."""
    return sum(s.seconds for s in timeline(plan, params, cost, styles, regions))


def slice_seconds(plan: StackPlan, params: StyleParams, cost: PassCost, styles: Sequence[tuple[int, int]],
                  regions: int = 0) -> tuple[float, float]:
    """Seconds of a stack's first slice and of each later one (see :func:`timeline`)."""
    first, later = _slices(plan, params, cost, styles, regions)
    return sum(s.seconds for s in first), sum(s.seconds for s in later)


def _slices(plan: StackPlan, params: StyleParams, cost: PassCost, styles: Sequence[tuple[int, int]],
            regions: int) -> tuple[list[Stretch], list[Stretch]]:
    """The stretches of a stack's first slice and of each later one."""
    shapes: set[tuple[int, int]] = set()
    first = _run(plan.first, params, cost, styles, regions, shapes)
    pixels = plan.later.shape[0] * plan.later.shape[1]
    return first, _run(plan.later, params, cost, styles, regions, shapes, SLICE * cost.seconds(pixels))


def clock(plan: Plan | StackPlan, params: StyleParams, device: str, bf16: bool, styles: Sequence[tuple[int, int]],
          regions: int = 0) -> Clock:
    """A :class:`Clock` for a run of ``plan``, at the cost calibrated in this process (else the default,
    without a prior)."""
    cost = _measured.get((device, bf16))
    return Clock(timeline(plan, params, cost or DEFAULT_COST, styles, regions), (cost or DEFAULT_COST).all_cores,
                 prior=cost is not None)


def _run(plan: Plan, params: StyleParams, cost: PassCost, styles: Sequence[tuple[int, int]], regions: int,
         shapes: set[tuple[int, int]], fixed: float = 0.0) -> list[Stretch]:
    """One 2D run: its start, then per scale the style targets (one per style, or per region) and per tile
    (or whole) the content targets and the steps. Before its first step a run sets up at the count the
    tuner starts from (all cores)."""
    start = not cost.all_cores  # setting up at the count the tuner does not keep
    fixed += RUN * cost.seconds(plan.shape[0] * plan.shape[1], start)
    targets = list(styles[:regions]) if regions else list(styles)
    out: list[Stretch] = []
    for scale in plan.scales:
        side = max(scale.shape) * params.style_scale
        fixed += sum(FORWARD * cost.seconds(round(side * side * min(h, w) / max(h, w)), start) for h, w in targets)
        for hw in [t.shape for t in scale.tiles] if scale.tiles else [scale.shape]:
            pixels, fresh = hw[0] * hw[1], not out
            fixed += (FORWARD + WARMUP * (hw not in shapes)) * cost.seconds(pixels, start)
            shapes.add(hw)
            extra = plan.step_passes + REGION * regions  # a step's passes: 1, more with the sliced loss
            kept, other = extra * cost.seconds(pixels), extra * cost.seconds(pixels, True)
            for i in range(scale.steps):
                out.append(Stretch(fixed, kept, other, probing(i, fresh, cost.all_cores), not out))
                fixed = 0.0
            start = False
    return out


def probing(step: int, fresh: bool, all_cores: bool) -> bool:
    """Whether :class:`.threads.ThreadTuner` runs step ``step`` of a loop at the count it does not keep: on a
    run's first loop (``fresh``) step 1 (all cores kept) or steps 0 and 2 (fewer kept, tried again on every
    loop), and every ``PROBE_EVERY`` steps after that."""
    from .threads import PROBE_EVERY  # a timeline is laid out once a pass was timed: torch is in already

    if (fresh or not all_cores) and step < 3:
        return step == 1 if all_cores else step != 1
    return step > 0 and step % PROBE_EVERY == 0


class Clock:
    """The ETA of a run along its :func:`timeline`: after each record, the stretches still to come, each
    rescaled by how long the done ones of its kind took: setting up (with the loop's first step, which warms
    up) or a step, on all cores or on fewer. So a machine slower or busier than calibrated, or one that got
    busy since, is followed, and a tuner that keeps the other count than modeled too; a slow start is not
    taken for the pace of the steps. A stack's slices share one clock. Before any record it is the estimate."""

    def __init__(self, stretches: Sequence[Stretch], all_cores: bool, prior: bool = True) -> None:
        """``all_cores``: the model keeps all cores; with ``prior`` (a calibrated model) each kind's rate
        starts at 1 as if :data:`PRIOR_STEPS` kept steps had taken the modeled time (early steps are noisy)."""
        self.stretches, self.all_cores, self.done = list(stretches), all_cores, 0
        self.last: float | None = None
        kinds = [(fixed, cores) for fixed in (True, False) for cores in (True, False)]  # (setting up, all cores)
        self.taken = dict.fromkeys(kinds, 0.0)  # seconds taken per kind
        self.modeled = dict.fromkeys(kinds, 0.0)  # what the model gave those
        self.prior = prior * sum(s.kept for s in self.stretches[1:1 + PRIOR_STEPS])
        self.left = dict.fromkeys(["start", "loop", (False, False), (False, True), (True, False), (True, True)],
                                  0.0)  # modeled seconds to come: runs' and loops' set-up, steps by (probe, cores)
        for s in self.stretches:
            self._count(s, 1.0)

    def start(self) -> None:
        """Start counting (once: a stack's later slices find it started)."""
        if self.last is None:
            self.last = time.perf_counter()

    def record(self, all_cores: bool, keeps_all_cores: bool | None) -> float:
        """The next record, whose step ran on all cores or not, while the tuner now keeps all cores or not
        (None: it has not chosen yet); returns the seconds left."""
        self.start()
        now = time.perf_counter()
        taken, self.last = now - self.last, now
        s = self.stretches[min(self.done, len(self.stretches) - 1)]
        self.done += 1
        self._count(s, -1.0)
        kind = (s.fixed > 0, all_cores)
        self.taken[kind] += taken
        self.modeled[kind] += s.fixed + self._step(s, all_cores)
        return self.eta(keeps_all_cores)

    def eta(self, keeps_all_cores: bool | None = None) -> float:
        """Seconds left while the tuner keeps all cores or not (None: as modeled)."""
        keeps = self.all_cores if keeps_all_cores is None else keeps_all_cores
        rate = {k: (self.taken[k] + self.prior) / (self.modeled[k] + self.prior) for k in self.taken
                if self.modeled[k] > 0}

        def step(cores: bool) -> float:  # no step yet: as modeled
            return rate.get((False, cores)) or rate.get((False, not cores)) or 1.0

        def setup(cores: bool) -> float:
            return rate.get((True, cores)) or step(cores)

        left = self.left
        steps = sum(step(keeps != probe) * left[(probe, keeps != probe)] for probe in (False, True))
        return max(0.0, setup(True) * left["start"] + setup(keeps) * left["loop"] + steps)

    def _step(self, s: Stretch, all_cores: bool) -> float:
        """Modeled seconds of the stretch's step on all cores or not."""
        return s.kept if all_cores == self.all_cores else s.other

    def _count(self, s: Stretch, sign: float) -> None:
        """Add (``sign`` 1) or take off (-1) a stretch's modeled seconds to those still to come."""
        if s.fixed:
            self.left["start" if s.start else "loop"] += sign * s.seconds
            return
        for cores in (False, True):
            self.left[(s.probe, cores)] += sign * self._step(s, cores)


def calibrate(weights: str = "caffe", device: str = "auto", precision: str = "auto",
              cancel: Cancel = None) -> PassCost:
    """The cost of a pass of the default loss, in the precision a run with these settings uses; cached per
    device and precision (the weights' values do not change the time), and used by later runs' ETAs.
    :class:`.cancel.Stopped` within a layer's time once ``cancel`` is set (nothing is cached then)."""
    from .network import resolve_device, use_bf16

    dev = resolve_device(device)
    bf16 = use_bf16(precision, dev)
    key = (weights, str(dev), bf16)
    with _lock:
        if key not in _calibrated:
            _calibrated[key] = _calibrate(*key, cancel)
        cost = _calibrated[key]
    _measured[(str(dev), bf16)] = cost
    return cost


def _calibrate(weights: str, device: str, bf16: bool, cancel: Cancel) -> PassCost:
    """Each side timed once under each thread count a run may choose (:class:`.ThreadTuner`), after a pass
    there that is not counted; the fastest count, kept, twice more: the median of its three makes the cost
    (one pass is noisy beside other work; the ETA learns the other count's rate from the tuner's probes)."""
    import torch

    from .network import Extractor
    from .params import CONTENT_LAYERS, STYLE_LAYERS
    from .threads import ThreadTuner

    net = Extractor(STYLE_LAYERS + CONTENT_LAYERS, weights, device, bf16=bf16, cancel=cancel)
    tuner = ThreadTuner(enabled=torch.device(device).type == "cpu")
    times: dict[int, dict[int, list[float]]] = {}
    try:
        for threads in tuner.candidates:
            torch.set_num_threads(threads)
            times[threads] = {pixels: [one()] for pixels, one in _warm_passes(net, device).items()}
        kept = min(times, key=lambda n: times[n][SIDES[-1] ** 2][0])
        torch.set_num_threads(kept)
        for pixels, one in _warm_passes(net, device).items():
            times[kept][pixels] += [one(), one()]
    finally:
        tuner.restore()
    lines = {n: Line.fit({pixels: statistics.median(t) for pixels, t in by.items()}) for n, by in times.items()}
    other = [line for n, line in lines.items() if n != kept]
    return PassCost(lines[kept], other[0] if other else None, kept == max(lines))


def _warm_passes(net: Extractor, device: str) -> dict[int, Callable[[], float]]:
    """Pixels -> a pass timer at each side of :data:`SIDES`, each run once (the first at a shape costs more)."""
    passes = {side * side: _loss_pass(net, side, device) for side in SIDES}
    for one in passes.values():
        one()
    return passes


def _loss_pass(net: Extractor, side: int, device: str) -> Callable[[], float]:
    """A callable timing one forward and backward pass of the default loss (Gram and content terms against
    targets of a random image) at ``side``²: what an optimiser step evaluates."""
    import torch

    from .losses import gram
    from .objective import Objective, content_targets

    params = StyleParams()
    x0 = torch.rand((1, 3, side, side), device=device)
    with torch.inference_mode():
        style = {0: {k: gram(v).clone() for k, v in net(x0, params.style_layers).items()}}
    content, _ = content_targets(net, x0, params)
    objective = Objective(params, style, content)
    x = x0.clone().requires_grad_(True)

    def one() -> float:
        x.grad = None
        start = time.perf_counter()
        with torch.enable_grad():
            sum(objective(net(x), x).values()).backward()
        float(x.grad.flatten()[0])  # waits for the device
        return time.perf_counter() - start

    return one
