"""Reusing a result: the widget's control values from an output layer's metadata, and the parameters
that continue its run (no Qt, no torch here)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .engine.params import StyleParams
from .options import INIT_CHOICES

AS_IS = ("size", "steps", "seed", "scales", "preview_every", "tile_size", "tile_overlap", "optimizer",
         "preserve_color", "device", "weights", "style_loss")
AS_TEXT = ("style_weight", "content_weight", "tv_weight")


def control_values(meta: dict[str, Any]) -> dict[str, Any]:
    """Control name → value that set up the run recorded in ``meta`` again (layers aside). ``weights`` is a
    source name or a file's path; a continued run's ``init`` ("image") becomes the default start."""
    params = meta["params"]
    values = {name: params[name] for name in AS_IS}
    values |= {name: f"{params[name]:g}" for name in AS_TEXT}
    values["init"] = params["init"] if params["init"] in INIT_CHOICES else StyleParams().init
    values["whole_stack"] = bool(meta.get("whole_stack"))
    if meta.get("slices"):
        values["slice_start"], values["slice_stop"] = meta["slices"]
    values["scheduler"] = meta.get("scheduler", "")
    return values


def continue_params(meta: dict[str, Any], steps: int, preview_every: int) -> StyleParams:
    """The recorded run's parameters, going on from its image for ``steps`` more steps at the full size."""
    if meta.get("whole_stack"):
        raise ValueError("continue works on single-image results; a whole stack runs again with Run")
    recorded = StyleParams(**meta["params"])
    return replace(recorded, init="image", scales=1, scale_steps=None, steps=steps, preview_every=preview_every)
