"""Reusing a result's metadata without a viewer: control values, and the parameters that continue a run."""

from __future__ import annotations

import pytest

from napari_neural_style.engine.params import StyleParams
from napari_neural_style.reuse import continue_params, control_values


def _meta(**params) -> dict:
    return {"params": StyleParams(**params).to_dict(), "whole_stack": False, "steps_done": 7}


def test_control_values_round_trip_the_run():
    values = control_values(_meta(size=96, style_weight=1e3, tv_weight=0.001, init="noise", seed=4, style_loss="sw"))
    assert values["style_loss"] == "sw" and values["size"] == 96
    assert values["style_weight"] == "1000" and values["tv_weight"] == "0.001"
    assert values["init"] == "noise" and values["seed"] == 4 and values["whole_stack"] is False
    assert control_values(_meta(init="image"))["init"] == "tones"  # a continued run: the default start
    stack = control_values({**_meta(), "whole_stack": True, "slices": [1, 3], "scheduler": "tcp://h:8786"})
    assert (stack["slice_start"], stack["slice_stop"], stack["scheduler"]) == (1, 3, "tcp://h:8786")


def test_continue_params_go_on_at_full_size():
    params = continue_params(_meta(size=96, scales=3, steps=80, seed=4), steps=10, preview_every=2)
    assert params == StyleParams(size=96, seed=4, init="image", scales=1, steps=10, preview_every=2)
    with pytest.raises(ValueError, match="continue works on single-image results"):
        continue_params({**_meta(), "whole_stack": True}, steps=10, preview_every=2)
