"""Sample data loads offline from scikit-image and comes as napari layer data tuples."""

from __future__ import annotations

import numpy as np
import pytest

from napari_neural_style import sample_data


@pytest.mark.parametrize("name, layers", [
    ("astronaut", ["astronaut"]), ("chelsea", ["chelsea"]), ("hubble", ["style: hubble"]),
    ("ihc", ["style: ihc"]), ("retina", ["style: retina"]), ("astronaut_hubble", ["astronaut", "style: hubble"]),
])
def test_samples(name, layers):
    out = getattr(sample_data, name)()
    assert [meta["name"] for _, meta, _ in out] == layers
    for array, _, kind in out:
        assert kind == "image" and array.dtype == np.uint8 and array.ndim == 3 and array.shape[-1] == 3
        assert min(array.shape[:2]) >= 256
