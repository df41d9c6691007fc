"""Memory estimate before a run: a clear refusal with numbers and advice instead of a crash."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from napari_neural_style import StyleParams, stylize_steps
from napari_neural_style.engine import memory
from napari_neural_style.engine.inputs import Inputs
from napari_neural_style.engine.network import bf16_supported
from napari_neural_style.engine.params import STYLE_LAYERS
from napari_neural_style.engine.plan import Plan
from napari_neural_style.engine.run import Run

GiB = 1 << 30  # the host-memory checks run on the CPU device, whatever this machine has
CONTENT = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)


def _free(monkeypatch, gib: float) -> None:
    monkeypatch.setattr(memory, "host_available_bytes", lambda: int(gib * GiB))


def _run(params: StyleParams) -> Run:
    """A run set up (memory checked, network loaded), no step taken."""
    return Run(Inputs.read(CONTENT, CONTENT, params), Plan.make(params, CONTENT.shape[:2]), params)


def test_refusal_says_how_much_and_what_to_change(monkeypatch):
    _free(monkeypatch, 1.0)
    steps = stylize_steps(CONTENT, CONTENT, StyleParams(size=2048, steps=1, scales=1, tile_size=0, device="cpu"))
    with pytest.raises(ValueError) as info:
        next(steps)
    message = str(info.value)
    need = float(re.search(r"needs about ([\d.]+) GiB but 1\.0 GiB are free", message).group(1))
    assert need > 10  # VGG19 to relu5_1 on 2048² with gradients
    assert "lower size (now 2048)" in message


def test_refusal_suggests_a_tile_size_that_fits(monkeypatch):
    _free(monkeypatch, 6.0)
    params = StyleParams(size=2048, steps=1, scales=1, tile_size=0, device="cpu")
    with pytest.raises(ValueError) as info:
        _run(params)
    tile = int(re.search(r"set tile_size=(\d+)", str(info.value)).group(1))
    _run(StyleParams(size=2048, steps=1, scales=1, tile_size=tile, device="cpu"))  # the advice works


def test_stack_output_counts(monkeypatch):
    """A stack keeps every slice's result: many slices of a size that fits once may not fit together."""
    params = StyleParams(size=1024, steps=1, scales=1, device="cpu")
    bf16 = bf16_supported(torch.device("cpu"))  # as the run's "auto" precision decides
    one = memory.estimate(Plan.make(params, CONTENT.shape[:2]), params, params.tile_size, bf16=bf16, channels=3,
                          regions=0, outputs=1)
    _free(monkeypatch, sum(one) / memory.HEADROOM / GiB + 0.5)
    _run(params)
    with pytest.raises(ValueError, match="needs about"):
        next(stylize_steps(np.stack([CONTENT] * 200), CONTENT,
                           StyleParams(size=1024, steps=1, scales=1, device="cpu")))


def test_estimate_grows_with_size_and_depth():
    small, large = (memory.activation_bytes((s, s), STYLE_LAYERS) for s in (256, 512))
    assert large == pytest.approx(4 * small, rel=0.01)
    assert memory.activation_bytes((256, 256), ("relu1_1",)) < small / 4


def test_huge_content_is_refused_before_it_becomes_float(monkeypatch):
    """The check works from the content's shape: a 30000² image is refused without its 10 GiB float copy."""
    import tracemalloc

    _free(monkeypatch, 4.0)
    huge = np.zeros((30000, 30000), np.uint8)  # untouched pages: nothing allocated until read
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"lower size \(now 8192\)"):
            next(stylize_steps(huge, CONTENT, StyleParams(size=8192, steps=1, device="cpu")))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20
