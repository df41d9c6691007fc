"""Large images in tiles: the grid and its feathered weights, Gram matrices over tiles, no seams."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from napari_neural_style import StyleParams, stylize_steps
from napari_neural_style.engine import tiles
from napari_neural_style.engine.losses import gram
from napari_neural_style.engine.network import Extractor
from napari_neural_style.engine.objective import tiled_gram
from napari_neural_style.engine.params import STYLE_LAYERS

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def _photo(folder: str, name: str, side: int) -> np.ndarray:
    """A centred square crop of a shared test image (the test skips where ../shared is absent)."""
    if not (IMAGES / folder / name).is_file():
        pytest.skip(f"shared test image {folder}/{name} not found beside the repository")
    with Image.open(IMAGES / folder / name) as im:
        w, h = im.size
        s = min(w, h)
        return np.asarray(im.convert("RGB").crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))
                          .resize((side, side), Image.LANCZOS))


@pytest.mark.parametrize("shape, tile, overlap", [((96, 96), 48, 16), ((100, 250), 64, 8), ((40, 300), 128, 0)])
def test_grid_covers_with_weights_summing_to_one(shape, tile, overlap):
    grid = tiles.grid(shape, tile, overlap)
    total = np.zeros(shape)
    for t in grid:
        assert t.shape == (min(tile, shape[0]), min(tile, shape[1]))
        total[t.slices] += t.weight()
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    xs = sorted({(t.x0, t.x1) for t in grid})
    assert all(a1 - b0 >= overlap for (_, a1), (b0, _) in pairwise(xs))  # neighbours overlap enough


def test_no_grid_when_one_tile_fits():
    assert tiles.grid((96, 96), 96, 16) is None and tiles.grid((500, 500), 0, 0) is None


def test_tiled_gram_matches_the_whole_image():
    forward = Extractor(STYLE_LAYERS)
    image = torch.from_numpy(_photo("style", "starry_night.jpg", 160) / np.float32(255)).permute(2, 0, 1)[None]
    with torch.inference_mode():
        whole = {k: gram(v) for k, v in forward(image, STYLE_LAYERS).items()}
        pieces = tiled_gram(forward, image, STYLE_LAYERS, 64)
        labels = []
        try:
            while True:
                labels.append(next(pieces))
        except StopIteration as end:
            tiled = end.value
    assert labels == [f"tile {k} of 9" for k in range(1, 10)]  # 160² in tiles of 64: one stage record each
    for layer in STYLE_LAYERS:
        assert tiled[layer].shape == whole[layer].shape
        error = float((tiled[layer] - whole[layer]).norm() / whole[layer].norm())
        assert error < 0.1, layer


def _seamless(out: np.ndarray, edges: list[int]) -> bool:
    """Lines of pixels at tile borders change no more than elsewhere, in two ways: mean |gradient| (within
    1.5×) and the signed change averaged along the line (a brightness step along a border; no larger than
    the largest elsewhere)."""
    for axis in (1, 0):
        d = np.diff(out, axis=axis)  # line i: between pixel lines i and i + 1
        grad = np.abs(d).mean(axis=(1 - axis, 2))
        step = np.abs(d.mean(axis=1 - axis)).max(axis=-1)
        at = np.zeros(grad.size, bool)
        for e in edges:
            at[e - 2:e + 1] = True  # into, across and out of each tile edge
        if grad[at].mean() > 1.5 * grad[~at].mean() or step[at].max() > step[~at].max():
            return False
    return True


def test_tiled_run_has_no_seams():
    """A whole-image coarse pass, then 3×3 tiles of 48 px: nothing stands out along the tile borders. From the
    palette start: after the tones start's 6 coarse steps the picture still varies so much from line to line
    that the check below no longer sees a 0.05 step it must see."""
    content = _photo("content", "tubingen.jpg", 96)
    style = _photo("style", "starry_night.jpg", 96)
    params = StyleParams(size=96, steps=10, scales=2, scale_steps=(4, 1),  # 6 + 4: at 96 px the finest share ×2
                         tile_size=48, tile_overlap=16, preview_every=0, init="palette")
    seen = list(stylize_steps(content, style, params))
    assert [p.tiles for p in seen] == [0] * 6 + [9] * 36  # 6 coarse steps, then 4 per tile
    assert seen[-1].total == len(seen) and [p.tile for p in seen[6::4]] == list(range(1, 10))
    out = seen[-1].image
    edges = sorted({e for t in tiles.grid((96, 96), 48, 16) for e in (t.x0, t.x1)} - {0, 96})
    assert _seamless(out, edges)
    seam = out.copy()
    seam[:, 48:] = np.clip(seam[:, 48:] + 0.05, 0, 1)  # the check does see a faint step at a border
    assert not _seamless(seam, edges)
