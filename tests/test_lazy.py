"""Stacks read lazily: dask and zarr arrays in (only the slices in work are read), a slice range, and the
result as a dask array of one chunk per slice."""

from __future__ import annotations

import threading
import time

import dask
import dask.array as da
import numpy as np
import psutil
import pytest
import zarr

from napari_neural_style import StyleParams, stylize, stylize_lazy
from napari_neural_style.engine.slices import SAMPLE_SLICES

RNG = np.random.default_rng(7)
STYLE = (RNG.random((36, 36, 3)) * 255).astype(np.uint8)
RUN = {"size": 32, "steps": 2, "scales": 1, "preview_every": 0}
INDEPENDENT = {**RUN, "stack_init": "independent"}


def counted(stack: np.ndarray) -> tuple[da.Array, list[int]]:
    """``stack`` as a dask array of one chunk per slice that records which slices are read."""
    reads: list[int] = []

    def read(i: int) -> np.ndarray:
        reads.append(i)
        return stack[i]

    slices = [da.from_delayed(dask.delayed(read)(i), stack.shape[1:], stack.dtype) for i in range(len(stack))]
    return da.stack(slices), reads


def test_slice_range_reads_only_its_slices():
    stack = (RNG.random((8, 40, 48)) * 255).astype(np.uint8)
    content, reads = counted(stack)
    out = stylize(content, STYLE, slices=(3, 5), **INDEPENDENT)
    assert sorted(reads) == [3, 4]  # 8-bit data under the dtype rule: limits need no data
    assert out.shape == (2, 27, 32, 3)
    np.testing.assert_allclose(out, stylize(stack[3:5], STYLE, **INDEPENDENT), atol=1e-5)


def test_float_limits_come_from_a_sample_or_the_contrast_limits():
    stack = RNG.random((3 * SAMPLE_SLICES, 40, 48)).astype(np.float32) * 3
    content, reads = counted(stack)
    stylize(content, STYLE, slices=(0, 1), **INDEPENDENT)
    assert len(set(reads)) <= SAMPLE_SLICES + 1 < len(stack)
    reads.clear()
    stylize(content, STYLE, slices=(0, 1), contrast_limits=(0.0, 3.0), **INDEPENDENT)
    assert reads == [0]


def test_slices_keep_the_other_leading_axes_and_are_checked():
    stack = (RNG.random((3, 2, 40, 48)) * 255).astype(np.uint8)
    out = stylize(stack, STYLE, slices=(1, 2), **INDEPENDENT)
    assert out.shape == (1, 2, 27, 32, 3)
    np.testing.assert_allclose(out, stylize(stack[1:2], STYLE, **INDEPENDENT), atol=1e-5)
    with pytest.raises(ValueError, match=r"slices \(2, 5\) must satisfy 0 <= start < stop <= 3"):
        stylize(stack, STYLE, slices=(2, 5), **RUN)
    with pytest.raises(ValueError, match="slices and client are for stacks"):
        stylize(stack[0, 0], STYLE, slices=(0, 1), **RUN)


def test_zarr_stack_in(tmp_path):
    stack = (RNG.random((3, 40, 48)) * 4095).astype(np.uint16)
    z = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=stack.shape, chunks=(1, 40, 48),
                        dtype=stack.dtype)
    z[:] = stack
    np.testing.assert_allclose(stylize(z, STYLE, **RUN), stylize(stack, STYLE, **RUN), atol=1e-5)
    np.testing.assert_array_equal(z[:], stack)  # inputs are never modified


def test_lazy_out_computes_only_the_chunks_asked_for():
    stack = (RNG.random((5, 40, 48)) * 255).astype(np.uint8)
    content, reads = counted(stack)
    out = stylize_lazy(content, STYLE, StyleParams(**INDEPENDENT))
    assert out.shape == (5, 27, 32, 3) and out.chunks[0] == (1,) * 5 and out.dtype == np.float32
    assert reads == [0]  # the first slice, to check the inputs; nothing runs until computed
    np.testing.assert_allclose(out[3].compute(), stylize(stack[3:4], STYLE, **INDEPENDENT)[0], atol=1e-5)
    assert reads == [0, 3]


def test_lazy_chained_chunk_starts_one_slice_early():
    stack = (RNG.random((4, 40, 48)) * 255).astype(np.uint8)
    content, reads = counted(stack)
    out = stylize_lazy(content, STYLE, StyleParams(**RUN), slices=(1, 4))
    assert out.shape == (3, 27, 32, 3)
    reads.clear()
    chunk = out[2].compute()  # slice 3: slice 2 first, then 3 chained from it
    assert sorted(reads) == [2, 3]
    np.testing.assert_allclose(chunk, stylize(stack[2:4], STYLE, **RUN)[1], atol=1e-5)
    first = out[0].compute()  # the range's first slice starts it, as in an eager run of the range
    np.testing.assert_allclose(first, stylize(stack, STYLE, slices=(1, 2), **RUN)[0], atol=1e-5)


def peak_rss_growth(work) -> float:
    """Peak resident memory above the start while ``work()`` runs, in bytes (sampled every 5 ms)."""
    process = psutil.Process()
    base, peak, running = process.memory_info().rss, [0], True

    def sample() -> None:
        while running:
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        work()
    finally:
        running = False
        thread.join()
    return max(peak[0], process.memory_info().rss) - base


def test_a_stack_too_big_for_memory_stays_small():
    """1000×512×512 uint16 (500 MiB; 1 GiB as float32, 3 GiB as RGB) generated lazily: a 4-slice range,
    eager and lazy, grows the process by far less than one copy of the stack."""
    big = da.random.default_rng(0).integers(0, 65535, (1000, 512, 512), dtype=np.uint16, chunks=(1, 512, 512))
    stylize(np.zeros((40, 48), np.uint16), STYLE, **RUN)  # the network loaded before measuring
    out = {}
    growth = peak_rss_growth(lambda: out.update(eager=stylize(big, STYLE, slices=(500, 504), **RUN)))
    assert out["eager"].shape == (4, 32, 32, 3)
    print(f"eager: peak RSS growth {growth / 2**20:.0f} MiB")
    assert growth < 100 * 2**20, f"grew by {growth / 2**20:.0f} MiB"
    lazy = stylize_lazy(big, STYLE, StyleParams(**RUN))
    assert lazy.shape == (1000, 32, 32, 3)
    growth = peak_rss_growth(lambda: out.update(lazy=lazy[500:504].compute(scheduler="synchronous")))
    assert out["lazy"].shape == (4, 32, 32, 3) and out["lazy"].std() > 0.005  # not blank
    print(f"lazy: peak RSS growth {growth / 2**20:.0f} MiB")
    assert growth < 100 * 2**20, f"grew by {growth / 2**20:.0f} MiB"
    control = peak_rss_growth(lambda: np.asarray(big[:400]).sum())  # the measure sees 200 MiB read
    assert control > 180 * 2**20, f"grew by {control / 2**20:.0f} MiB"
