"""An independent quality scorer: Caffe VGG19 Gram and feature distances, not any optimiser's own loss.

style score = mean over relu1_1..relu5_1 of ‖G_out − G_style‖² / ‖G_style‖², G = F Fᵀ / (H·W), the style
image resized to the output's long side; content score = ‖F_out − F_content‖² / ‖F_content‖² at relu4_2,
the content resized to the output's size. Lower is better for both.

    python benchmarks/score.py OUT.png CONTENT.jpg STYLE.jpg
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from napari_neural_style.engine.network import extract

STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT = "relu4_2"


def load_rgb(path: str | Path, shape: tuple[int, int] | None = None, long_side: int | None = None,
             resample: int = Image.BILINEAR) -> np.ndarray:
    """An image file as float32 RGB in [0, 1], resized with ``resample`` to ``shape`` or to ``long_side``."""
    img = Image.open(path).convert("RGB")
    if long_side is not None:
        k = long_side / max(img.size)
        shape = (round(img.height * k), round(img.width * k))
    if shape is not None and (img.height, img.width) != tuple(shape):
        img = img.resize((shape[1], shape[0]), resample)
    return np.asarray(img, np.float32) / 255.0


def _features(rgb: np.ndarray) -> dict[str, torch.Tensor]:
    return extract(rgb, STYLE + (CONTENT,))


def _gram(f: torch.Tensor) -> torch.Tensor:
    _, c, h, w = f.shape
    f = f.reshape(c, h * w).double()
    return f @ f.T / (h * w)


def score(out: np.ndarray, content: np.ndarray, style: np.ndarray) -> tuple[float, float]:
    """(style score, content score) of ``out`` against ``content`` (same shape) and ``style``."""
    fo, fc, fs = _features(out), _features(content), _features(style)
    style_score = np.mean([float((_gram(fo[k]) - _gram(fs[k])).square().sum() / _gram(fs[k]).square().sum())
                           for k in STYLE])
    content_score = float((fo[CONTENT] - fc[CONTENT]).double().square().sum()
                          / fc[CONTENT].double().square().sum())
    return float(style_score), content_score


def score_files(out_path: str | Path, content_path: str | Path, style_path: str | Path) -> tuple[float, float]:
    out = load_rgb(out_path)
    shape = out.shape[:2]
    return score(out, load_rgb(content_path, shape), load_rgb(style_path, long_side=max(shape)))


if __name__ == "__main__":
    s, c = score_files(*sys.argv[1:4])
    print(f"style {s:.4f}  content {c:.4f}")
