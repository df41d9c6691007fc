"""Arrays as napari holds them ⇄ float RGB in [0, 1]: validation, intensity mapping, channels."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

MIN_SIDE = 16


@dataclass(frozen=True)
class Plane:
    """One 2D image ready for the network: RGB float32 in [0, 1], plus what it takes to give it back."""

    rgb: np.ndarray  # (Y, X, 3) float32 in [0, 1]
    alpha: np.ndarray | None  # (Y, X) float32 in [0, 1], carried through unchanged
    gray: bool  # the input had a single channel


def as_array(array: object, what: str, lazy: bool = False) -> np.ndarray:
    """``array`` as numpy, in napari's layout (channels last); ValueError for nested lists of unequal lengths
    and for torch tensors that look channels-first, (C, Y, X) or (N, C, Y, X), rather than a stack. With
    ``lazy``, an array-like that reads on indexing (dask, zarr) is returned as it is, not read."""
    if type(array).__module__.split(".")[0] == "torch":
        shape = tuple(array.shape)
        if len(shape) >= 3 and shape[-3] in (1, 3, 4) and shape[-1] not in (1, 3, 4):
            raise ValueError(f"{what} image is a torch tensor of shape {shape}: channels first (C, Y, X), as "
                             f"torch keeps images? Pass it channels last, e.g. tensor.permute(1, 2, 0); a "
                             f"stack of {shape[-3]} slices must be a numpy array")
        array = array.detach().cpu()
    elif lazy and not isinstance(array, (list, tuple)) and hasattr(array, "shape") and hasattr(array, "dtype"):
        return array
    try:
        return np.asarray(array)
    except ValueError as exc:
        raise ValueError(f"{what} image is not a regular array (nested lists of unequal lengths?): "
                         f"{str(exc).splitlines()[0]}") from None


def check_array(array: object, what: str) -> np.ndarray:
    """A numeric (Y, X), (Y, X, 1|3|4) array, at least MIN_SIDE pixels a side, finite; else a ValueError."""
    if array is None:
        raise ValueError(f"{what} image is missing")
    a = as_array(array, what)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{what} image must hold numbers, got dtype {a.dtype}")
    if np.iscomplexobj(a):
        raise ValueError(f"{what} image is complex-valued; pass its magnitude or real part")
    if a.size == 0:
        raise ValueError(f"{what} image is empty (shape {a.shape})")
    if a.ndim == 3 and a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"{what} image has shape {a.shape}: a 3D array must be (Y, X, 3) RGB or (Y, X, 4) "
                         f"RGBA; for a z-stack or time series pass one 2D slice")
    if a.ndim not in (2, 3):
        raise ValueError(f"{what} image has {a.ndim} dimensions (shape {a.shape}); expected (Y, X) gray, "
                         f"(Y, X, 3) RGB or (Y, X, 4) RGBA")
    if too_small(a.shape[:2]):
        raise ValueError(f"{what} image is {a.shape[0]}×{a.shape[1]} pixels; each side needs at least "
                         f"{MIN_SIDE}")
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ValueError(f"{what} image has {bad} NaN or infinite values; replace them first")
    return a


def too_small(hw: tuple[int, ...]) -> bool:
    """A (Y, X) shape whose short side is under :data:`MIN_SIDE` (VGG19 needs that much)."""
    return min(hw[:2]) < MIN_SIDE


def layout(shape: tuple[int, ...], rgb: bool | None = None) -> tuple[int, bool]:
    """(number of leading z/t axes, whether the last axis holds colour channels) of an array of ``shape``.

    As napari guesses: a last axis of 3 or 4 is RGB(A) unless ``rgb=False``; (Y, X, 1) is one gray image.
    Everything before the last two spatial axes is a leading axis, iterated in C order.
    """
    ndim = len(shape)
    if rgb is None:
        rgb = ndim >= 3 and shape[-1] in (3, 4) or ndim == 3 and shape[-1] == 1
    elif rgb and (ndim < 3 or shape[-1] not in (3, 4)):
        raise ValueError(f"rgb=True needs a last axis of 3 (RGB) or 4 (RGBA) channels, got shape {shape}")
    return max(0, ndim - 2 - int(rgb)), rgb


def check_stack(shape: tuple[int, ...], lead: int, rgb: bool) -> None:
    """ValueError for a stack of ``shape`` (``lead`` leading axes) with no slices or too-small slices."""
    lead_shape, plane = shape[:lead], shape[lead:]
    if math.prod(lead_shape) == 0:
        raise ValueError(f"content stack of shape {shape} has no slices")
    if too_small(plane):
        raise ValueError(f"content of shape {shape} is read as {math.prod(lead_shape)} slice(s) of {plane} "
                         f"(leading axes {lead_shape}{', last axis RGB(A)' if rgb else ''}); each needs at "
                         f"least {MIN_SIDE} pixels a side. Pass rgb=True/False if the channels were misread")


def to_unit(a: np.ndarray, rule: str = "dtype", percentiles: tuple[float, float] = (0.5, 99.5),
            limits: tuple[float, float] | None = None, what: str = "image") -> np.ndarray:
    """Intensities to float32 in [0, 1].

    ``limits`` (e.g. a napari layer's contrast limits) win when given. Otherwise ``rule="dtype"``: bool as
    0/1, integers over their dtype's full range, floats as they are when already within [0, 1] and else
    stretched from their minimum to maximum; integers wider than 8 bits whose values need fewer bits than
    their type has (12-bit camera data in uint16, 0-255 in int64) over the range of those bits (at least 8),
    with a warning (:func:`bit_depth_limits`); ``rule="percentile"``: the given low/high percentiles of the
    data map to 0 and 1 (robust to hot pixels in 12-bit data stored as uint16).
    """
    lo, hi = limits if limits is not None else unit_limits(a, rule, percentiles, what)
    out = a.astype(np.float32)
    if hi <= lo:  # a flat image (all values equal): nothing to stretch
        return np.zeros(a.shape, np.float32)
    out -= np.float32(lo)
    out *= np.float32(1.0 / (hi - lo))
    return np.clip(out, 0.0, 1.0, out=out)


def unit_limits(a: np.ndarray, rule: str = "dtype", percentiles: tuple[float, float] = (0.5, 99.5),
                what: str = "image") -> tuple[float, float]:
    """The (low, high) intensities that :func:`to_unit` maps to 0 and 1 under ``rule`` (see there)."""
    if rule == "percentile" and a.dtype != bool:  # np.percentile cannot subtract booleans
        lo, hi = np.percentile(a, percentiles)
        return float(lo), float(hi)
    if a.dtype == bool:
        return 0.0, 1.0
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        return bit_depth_limits(a, what) or (float(info.min), float(info.max))
    lo, hi = float(a.min()), float(a.max())
    return (0.0, 1.0) if lo >= 0 and hi <= 1 else (lo, hi)


def bit_depth_limits(a: np.ndarray, what: str) -> tuple[float, float] | None:
    """For integers wider than 8 bits whose values need fewer bits than their type has: the range of the
    bits they need, at least 8 (0 to 2^k − 1, or −2^k to 2^k − 1 with negative values), and a warning that
    says so and how to choose another mapping; None when the values fill their type (or it is 8-bit)."""
    info = np.iinfo(a.dtype)
    if info.bits <= 8 or a.size == 0:
        return None
    low, high = int(a.min()), int(a.max())
    bits = max(8, max(high, -low - 1, 0).bit_length())
    if bits >= info.bits - (info.min < 0):
        return None
    lo, hi = (-(1 << bits) if low < 0 else 0), (1 << bits) - 1
    warnings.warn(f"{what} is {a.dtype} holding values {low}–{high}, which need {bits} of its {info.bits} bits: "
                  f"mapped {lo}–{hi} to black–white as {bits}-bit data (not the whole {a.dtype} range, which "
                  f"would lose the picture); to choose, pass intensity='percentile' or contrast_limits=(low, "
                  f"high) (command line: --intensity percentile, --contrast-limits LOW HIGH)", UserWarning,
                  stacklevel=2)
    return float(lo), float(hi)


def to_plane(array: object, what: str, rule: str = "dtype", percentiles: tuple[float, float] = (0.5, 99.5),
             limits: tuple[float, float] | None = None) -> Plane:
    """Validate one napari-style image and turn it into a :class:`Plane` (the input is never modified)."""
    a = check_array(array, what)
    alpha = None
    if a.ndim == 3 and a.shape[-1] == 4:
        alpha = to_unit(a[..., 3], "dtype", what=f"{what}'s alpha")
        a = a[..., :3]
    gray = a.ndim == 2 or a.shape[-1] == 1
    unit = to_unit(a.reshape(a.shape[:2]) if gray else a, rule, percentiles, limits, what)
    rgb = np.repeat(unit[..., None], 3, axis=-1) if gray else unit
    return Plane(np.ascontiguousarray(rgb, dtype=np.float32), alpha, gray)


def from_plane(rgb: np.ndarray, like: Plane, gray_out: bool = False) -> np.ndarray:
    """The result as napari will show it: (Y, X) gray when asked, RGBA when the input had alpha, else RGB."""
    rgb = np.clip(rgb, 0.0, 1.0).astype(np.float32, copy=False)
    if gray_out and like.gray:
        return np.ascontiguousarray(rgb.mean(axis=-1))
    if like.alpha is not None:
        return np.concatenate([rgb, like.alpha[..., None]], axis=-1)
    return rgb
