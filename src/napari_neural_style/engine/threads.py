"""torch's thread count chosen by timing steps: all cores when they are free, one when another process
keeps a core busy (two threads then wait on each other: measured 1.5–2.3× slower than one)."""

from __future__ import annotations

import torch

PROBE_EVERY = 25  # steps between re-tries of the other thread count (its cost: one step in this many)
MARGIN = 0.9  # switch only to a count at least 10 % faster


class ThreadTuner:
    """Times optimiser steps of one image size under each candidate thread count and keeps the faster one.

    ``before_step()`` sets the count for the next step, ``after_step(seconds)`` records it; ``reset()``
    starts over for a new size (steps of another size are not comparable). The first step after a reset is
    a warm-up and not counted. ``restore()`` puts back torch's count from construction.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.original = torch.get_num_threads()
        self.candidates = sorted({1, self.original}) if enabled else [self.original]
        self.reset()

    def reset(self) -> None:
        self.times: dict[int, float] = {}
        self.step, self.chosen = 0, self.candidates[-1]
        self.current = self.chosen

    def before_step(self) -> None:
        untried = [c for c in self.candidates if c not in self.times]
        if self.step > 0 and untried:
            self.current = untried[0]
        elif self.step > 0 and self.step % PROBE_EVERY == 0 and len(self.candidates) > 1:  # the load may have
            # changed: try the other count once
            self.current = next(c for c in self.candidates if c != self.chosen)
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
        self.step += 1

    def restore(self) -> None:
        if torch.get_num_threads() != self.original:
            torch.set_num_threads(self.original)
