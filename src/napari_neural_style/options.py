"""The user-facing options of :class:`.StyleParams`: one help text and choice list each, shared by the
command line's ``--help`` and the widget's tooltips (no torch here)."""

from __future__ import annotations

from dataclasses import dataclass

from .engine.params import INTENSITY_RULES, OPTIMIZERS, POOLINGS, PRECISIONS, PRESERVE_COLOR, STACK_INITS, STYLE_LOSSES


@dataclass(frozen=True)
class Option:
    """``help``: one line for ``--help`` and tooltips; ``choices``: the values offered, if a fixed set (the
    command line's ``--init`` also takes an image path)."""

    help: str
    choices: tuple[str, ...] | None = None


INIT_CHOICES = ("tones", "palette", "content", "noise")  # plus "image" with an image given (the CLI: a path)
PRESET_LABELS = {"quick": "quick look", "balanced": "balanced", "best": "best"}

OPTIONS: dict[str, Option] = {
    "size": Option("long side of the output in pixels"),
    "steps": Option("optimiser steps over all scales (below 512 px the finest scale takes a larger share)"),
    "style_weight": Option("style loss weight: higher, more stylised"),
    "content_weight": Option("content loss weight at 512 px and more; × size/512 between 256 and 512 px, × ½ below"),
    "style_loss": Option("style loss: Gram matrices (Gatys) or sliced Wasserstein (sw: the whole distribution of "
                         "each layer's features and of the pixels' colours, Heitz et al. 2021)", STYLE_LOSSES),
    "tv_weight": Option("smoothness (total variation) loss weight, e.g. 1e-3"),
    "optimizer": Option("optimiser: L-BFGS (few sharp steps) or Adam", OPTIMIZERS),
    "init": Option("start from the content's light and dark only, in the style's colours (tones), the content "
                   "recoloured to the style's colours (palette), the content as it is, or noise", INIT_CHOICES),
    "seed": Option("random seed (noise init)"),
    "scales": Option("coarse-to-fine levels, each half the side of the next"),
    "preserve_color": Option("keep the content's colours: its luminance only, or matched histograms",
                             PRESERVE_COLOR),
    "weights": Option("VGG19 weights: caffe (the original), torchvision (downloaded once) or a state-dict file"),
    "device": Option("auto, cpu, cuda, cuda:N or mps"),
    "style_blend": Option("one weight per style image"),
    "style_scale": Option("style size relative to the output"),
    "pooling": Option("VGG19 pooling", POOLINGS),
    "precision": Option("autocast precision", PRECISIONS),
    "intensity": Option("how intensities map to [0, 1]: the dtype's range (integers wider than 8 bits: the bits "
                        "their values use, with a warning) or percentiles", INTENSITY_RULES),
    "contrast_limits": Option("the content's intensities mapped to black and white, LOW HIGH (default: by the "
                              "intensity rule)"),
    "stack_init": Option("stacks: start each slice from the previous result warped along the optical flow (with "
                         "a temporal loss), from the previous result as it is, or each independently", STACK_INITS),
    "temporal_weight": Option("stacks, flow: weight of the temporal loss keeping each slice near the previous "
                              "one warped along the flow"),
    "stack_steps": Option("stacks: share of the steps for each chained slice"),
    "tile_size": Option("optimise scales larger than this in tiles of this side (0: never)"),
    "tile_overlap": Option("overlap of neighbouring tiles in pixels"),
    "preview_every": Option("steps between previews (0: only the end)"),
    "threads": Option("CPU threads (0: chosen by timing steps, which follows the machine's load; results differ "
                      "slightly with the count: pin it, e.g. 1, for repeatable pixels)"),
}


def duration(seconds: float) -> str:
    """Seconds as "42s" or "3m05s"."""
    seconds = int(round(seconds))
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m{seconds % 60:02d}s"


def help_text(name: str) -> str:
    """The help of option ``name`` (a :class:`.StyleParams` field)."""
    return OPTIONS[name].help
