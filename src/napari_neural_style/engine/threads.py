"""torch's thread count chosen by timing steps: all cores when they are free, one when another process
keeps a core busy (two threads then wait on each other: measured 1.5–2.3× slower than one)."""

from __future__ import annotations

import torch

PROBE_EVERY = 25  # steps between re-tries of the other thread count (its cost: one step in this many)
MARGIN = 0.9  # switch only to a count at least 10 % faster


class ThreadTuner:
    """Times optimiser steps of one image size under each candidate thread count and keeps the faster one.

    ``before_step()`` sets the count for the next step, ``after_step(seconds)`` records it; ``reset()``
    starts over for a new size (steps of another size are not comparable): all cores kept, the other count
    probed every ``PROBE_EVERY`` steps; fewer chosen before, every count is tried again. The first step
    after a reset is a warm-up and not counted.
    ``restore()`` puts back torch's count from construction. ``threads`` > 0 pins the count instead (no
    tuning): the count changes the order of sums, so results differ slightly between counts (up to 0.03
    at a pixel measured), and a tuned run's with the machine's load.
    """

    def __init__(self, enabled: bool = True, threads: int = 0) -> None:
        self.original = torch.get_num_threads()
        if threads:
            self.candidates = [threads]
        else:
            self.candidates = sorted({1, self.original}) if enabled else [self.original]
        self.chosen, self.known = self.candidates[-1], False  # known: chosen from measurements
        self.reset()

    def reset(self) -> None:
        self.times: dict[int, float] = {}
        if self.chosen != self.candidates[-1]:  # a small image spreads badly over cores: fewer can win at
            self.chosen, self.known = self.candidates[-1], False  # 128 px and lose at 512; try all again
        self.step, self.current = 0, self.chosen

    def before_step(self) -> None:
        other = [c for c in self.candidates if c != self.chosen]
        # every count is tried at once while unknown; a later size that kept all cores probes the other count
        # every PROBE_EVERY steps only: trying 1 thread on a quiet machine costs a step 1.5-2x, ~1 pass of a
        # run at its finest scale
        untried = not self.known and other and other[0] not in self.times
        if self.step > 0 and other and (untried or self.step % PROBE_EVERY == 0):
            self.current = other[0]
        else:
            self.current = self.chosen
        if self.current != torch.get_num_threads():
            torch.set_num_threads(self.current)

    def after_step(self, seconds: float) -> None:
        if self.step > 0:  # the kept count: a running mean; a probe: its latest time (the load has changed?)
            old = self.times.get(self.current)
            keep = old is not None and self.current == self.chosen
            self.times[self.current] = 0.5 * (old + seconds) if keep else seconds
            fastest = min(self.times, key=self.times.get)
            if self.chosen not in self.times or self.times[fastest] < MARGIN * self.times[self.chosen]:
                self.chosen = fastest
            self.known = self.known or len(self.times) == len(self.candidates)
        self.step += 1

    def restore(self) -> None:
        if torch.get_num_threads() != self.original:
            torch.set_num_threads(self.original)
