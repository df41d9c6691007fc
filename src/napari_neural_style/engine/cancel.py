"""Ending a run part-way: the caller's Event, checked between the network's layers (forward and backward)
and before each piece of a long stage, so that a stop takes effect within one layer's time (no torch here)."""

from __future__ import annotations

import threading

Cancel = threading.Event | None  # set by the caller (e.g. the widget's Stop) to end the run


class Stopped(Exception):
    """The run's cancel Event was set: raised where it is noticed; the run catches it and ends."""


def check(cancel: Cancel) -> None:
    """Raise :class:`Stopped` once ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Stopped
