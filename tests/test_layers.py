"""napari adapters without a viewer: the plane at a world point, a whole stack, the output's placement."""

from __future__ import annotations

import numpy as np
from napari.layers import Image

from napari_neural_style.layers import placement, plane_at, stack_data

STACK = np.arange(4 * 40 * 48, dtype=np.float32).reshape(4, 40, 48)


def test_plane_at_follows_the_world_point():
    layer = Image(STACK, scale=(2.0, 1.0, 1.0), translate=(10.0, 0.0, 0.0))
    plane, index = plane_at(layer, (14.2, 0.0, 0.0), size=48)  # data z = (14.2 - 10) / 2 = 2.1
    assert index == [2]
    np.testing.assert_array_equal(plane, STACK[2])
    assert plane_at(layer, (100.0, 0.0, 0.0), size=48)[1] == [3]  # beyond the stack: its last slice
    rgb = Image(np.zeros((20, 30, 3), np.uint8), rgb=True)
    plane, index = plane_at(rgb, (0.0, 0.0), size=30)
    assert index == [] and plane.shape == (20, 30, 3)


def test_multiscale_reads_the_coarsest_level_still_large_enough():
    levels = [np.zeros((4, 64, 64), np.float32), np.ones((2, 32, 32), np.float32), np.full((1, 16, 16), 2.0)]
    layer = Image(levels, multiscale=True)
    plane, index = plane_at(layer, (3.0, 0.0, 0.0), size=30)  # z 3 of 4 → 1 of 2 on the 32² level
    assert plane.shape == (32, 32) and plane.max() == 1.0 and index == [3]  # the index of level 0
    assert stack_data(layer, size=30).shape == (2, 32, 32)
    assert stack_data(layer, size=100).shape == (4, 64, 64)  # none is large enough: level 0
    np.testing.assert_array_equal(stack_data(Image(STACK), size=8), STACK)


def test_placement_covers_the_content():
    content = Image(np.zeros((40, 48)), scale=(0.5, 2.0), translate=(1.0, 2.0))
    where = placement(content, (20, 24, 3))
    out = Image(np.zeros((20, 24, 3)), rgb=True, scale=where.scale, translate=where.translate)
    for corner in ((-0.5, -0.5), (19.5, 23.5)):
        far = (corner[0] * 2 + 0.5, corner[1] * 2 + 0.5)  # the same pixel edge in content pixels
        np.testing.assert_allclose(out.data_to_world(corner), content.data_to_world(far))


def test_placement_of_a_stack_keeps_the_leading_axes():
    content = Image(STACK, scale=(3.0, 1.0, 1.0), translate=(5.0, 0.0, 0.0))
    where = placement(content, (4, 27, 32, 3), lead=1)
    np.testing.assert_allclose(where.scale, (3.0, 40 / 27, 48 / 32))
    assert where.translate[0] == 5.0
    one = placement(content, (1, 27, 32, 3), lead=1, index=[2])  # one slice's result, at that slice
    assert one.scale == where.scale and one.translate == (5.0 + 2 * 3.0, *where.translate[1:])
