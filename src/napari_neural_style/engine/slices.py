"""Stacks read lazily, one slice at a time: numpy, dask and zarr arrays alike (no torch here)."""

from __future__ import annotations

import math

import numpy as np

from .images import unit_limits
from .inputs import stack_labels
from .params import StyleParams

SAMPLE_SLICES = 16  # intensity limits from data look at this many evenly spaced slices at most


class Slices:
    """Some slices of a stack, nothing read until ``view[index]`` reads one as numpy.

    ``array`` is anything with ``shape``, ``dtype`` and per-slice indexing (numpy, dask, zarr); its first
    ``lead`` axes are slice axes. ``positions`` are flat C-order positions over those axes (default: all),
    seen with leading shape ``lead_shape`` (default: the stack's own when all are taken, else one axis).
    A plain class, not a dataclass, so that dask never looks inside it for collections.
    """

    def __init__(self, array: object, lead: int, positions: range | None = None,
                 lead_shape: tuple[int, ...] | None = None, *, compact: tuple[int, ...] | None = None) -> None:
        shape = tuple(np.shape(array))
        self.array, self.stack_lead, self.plane_shape = array, shape[:lead], shape[lead:]
        self._compact = compact is not None  # ``array`` holds just the view's slices, of a stack with this lead
        if compact is not None:
            self.stack_lead = compact
        self.positions = positions if positions is not None else range(math.prod(self.stack_lead))
        if lead_shape is None:
            lead_shape = self.stack_lead if len(self.positions) == math.prod(self.stack_lead) else (len(self),)
        if math.prod(lead_shape) != len(self.positions):
            raise ValueError(f"{len(self.positions)} slices cannot be seen with leading shape {lead_shape}")
        self.lead_shape = tuple(lead_shape)

    @classmethod
    def window(cls, array: object, lead: int, slices: tuple[int, int] | None) -> Slices:
        """The slices ``start:stop`` along the first leading axis (all when None), keeping the other axes."""
        stack_lead = tuple(np.shape(array))[:lead]
        if slices is None:
            return cls(array, lead)
        start, stop = (int(s) for s in slices)
        if not 0 <= start < stop <= stack_lead[0]:
            raise ValueError(f"slices ({start}, {stop}) must satisfy 0 <= start < stop <= {stack_lead[0]}, the "
                             f"length of the first leading axis of this {stack_lead} stack")
        inner = math.prod(stack_lead[1:])
        return cls(array, lead, range(start * inner, stop * inner), (stop - start,) + stack_lead[1:])

    @property
    def window_slice(self) -> slice:
        """This view's range of the first leading axis (a view made by :meth:`window`)."""
        inner = math.prod(self.stack_lead[1:])
        return slice(self.positions.start // inner, self.positions.stop // inner)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.lead_shape + self.plane_shape

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.array.dtype)

    def __len__(self) -> int:
        return len(self.positions)

    def where(self, k: int) -> tuple[int, ...]:
        """The ``k``-th slice's index in the whole stack."""
        return tuple(int(i) for i in np.unravel_index(self.positions[k], self.stack_lead))

    def read(self, k: int) -> np.ndarray:
        """The ``k``-th slice of the view, read now."""
        return np.asarray(self.array[k] if self._compact else self.array[self.where(k)])

    def __getitem__(self, index: tuple[int, ...]) -> np.ndarray:
        return self.read(int(np.ravel_multi_index(index, self.lead_shape)))

    def take(self, start: int, stop: int) -> Slices:
        """The view's slices ``start:stop`` as one flat axis; numpy data is copied down to just those slices,
        so the view pickles small (dask and zarr arrays pickle as their graph or store)."""
        positions = self.positions[start:stop]
        if isinstance(self.array, np.ndarray):
            part = np.stack([self.read(k) for k in range(start, stop)])
            return Slices(part, 1, positions, compact=self.stack_lead)
        return Slices(self.array, len(self.stack_lead), positions)

    def labels(self, labels: object | None) -> np.ndarray | None:
        """``labels`` of the whole stack, (Y, X) for every slice or one per slice, cut to this view's slices."""
        lab = stack_labels(labels, self.stack_lead, self.plane_shape[:2])
        if lab is None or np.ndim(labels) == 2:  # none, or one for every slice
            return None if lab is None else np.asarray(labels)
        index = np.unravel_index(np.asarray(self.positions), self.stack_lead)
        return np.ascontiguousarray(lab[index]).reshape(self.lead_shape + lab.shape[len(self.stack_lead):])


def stack_limits(view: Slices, params: StyleParams, rgb: bool) -> tuple[float, float]:
    """The (low, high) intensities every slice maps to 0 and 1: ``contrast_limits`` when given; for 8-bit
    integers and bool under the "dtype" rule, their range (nothing read); else from up to
    :data:`SAMPLE_SLICES` evenly spaced slices of the whole stack (not a full pass), e.g. the bits that
    wider integers use (:func:`.images.bit_depth_limits`)."""
    if params.contrast_limits is not None:
        return params.contrast_limits
    whole = view if view._compact else Slices(view.array, len(view.stack_lead))
    if params.intensity == "dtype" and (view.dtype == bool or view.dtype.itemsize == 1):
        sample = np.zeros((0,), view.dtype)
    else:
        picks = np.unique(np.linspace(0, len(whole) - 1, min(len(whole), SAMPLE_SLICES)).round().astype(int))
        sample = np.stack([whole.read(int(k)) for k in picks])
        if rgb and sample.shape[-1] == 4:
            sample = sample[..., :3]
    lo, hi = unit_limits(sample, params.intensity, params.percentiles, "content")
    return (lo, lo + 1.0) if hi <= lo else (lo, hi)  # a flat stack: every slice maps to 0
