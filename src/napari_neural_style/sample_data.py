"""Sample images (File > Open Sample): content photos and style images that scikit-image ships offline."""

from __future__ import annotations

from typing import Any

import numpy as np

GAP = 32  # pixels between the sample pair's images
LayerData = list[tuple[np.ndarray, dict[str, Any], str]]


def _image(name: str, loader: str) -> tuple[np.ndarray, dict[str, Any], str]:
    from skimage import data

    return getattr(data, loader)(), {"name": name}, "image"


def astronaut() -> LayerData:
    """Content: Eileen Collins, NASA portrait (512×512 RGB)."""
    return [_image("astronaut", "astronaut")]


def chelsea() -> LayerData:
    """Content: Chelsea the cat (300×451 RGB)."""
    return [_image("chelsea", "chelsea")]


def hubble() -> LayerData:
    """Style: Hubble eXtreme Deep Field (872×1000 RGB)."""
    return [_image("style: hubble", "hubble_deep_field")]


def ihc() -> LayerData:
    """Style: immunohistochemistry (IHC) stained tissue (512×512 RGB)."""
    return [_image("style: ihc", "immunohistochemistry")]


def retina() -> LayerData:
    """Style: human retina fundus photograph (1411×1411 RGB)."""
    return [_image("style: retina", "retina")]


def astronaut_hubble() -> LayerData:
    """A ready pair: the astronaut as content and the Hubble deep field as style, side by side (the style
    to the right, a gap of ``GAP`` pixels between them) so that neither hides the other."""
    (content, content_meta, kind), (style, style_meta, _) = astronaut() + hubble()
    return [(content, content_meta, kind), (style, {**style_meta, "translate": (0, content.shape[1] + GAP)}, kind)]
