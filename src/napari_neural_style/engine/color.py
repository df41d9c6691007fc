"""Colour preservation after Gatys et al. 2017: luminance-only transfer and colour-histogram matching."""

from __future__ import annotations

import numpy as np

# RGB -> YIQ (NTSC); its inverse brings the stylised luminance back with the content's chroma.
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_RGB = np.linalg.inv(_YIQ).astype(np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(Y, X) luminance of an (Y, X, 3) image."""
    return rgb @ _YIQ[0]


def match_luminance(style_y: np.ndarray, content_y: np.ndarray) -> np.ndarray:
    """Shift and scale the style's luminance to the content's mean and standard deviation."""
    s_std = float(style_y.std())
    scale = float(content_y.std()) / s_std if s_std > 1e-6 else 1.0
    return np.clip((style_y - style_y.mean()) * scale + content_y.mean(), 0.0, 1.0).astype(np.float32)


def gray3(y: np.ndarray) -> np.ndarray:
    """A luminance image as three equal channels, for the network."""
    return np.repeat(y[..., None], 3, axis=-1).astype(np.float32)


def with_chroma(y: np.ndarray, rgb_source: np.ndarray) -> np.ndarray:
    """Luminance ``y`` (Y, X) combined with the I and Q chroma of ``rgb_source`` (same Y, X)."""
    yiq = rgb_source @ _YIQ.T
    yiq[..., 0] = y
    return np.clip(yiq @ _RGB.T, 0.0, 1.0).astype(np.float32)


def match_histogram(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Recolour ``style`` so its pixels have the mean and covariance of ``content``'s (both (Y, X, 3)).

    x' = Σc^½ Σs^-½ (x − μs) + μc, with symmetric matrix square roots (eigendecomposition).
    """
    s = style.reshape(-1, 3).astype(np.float64)
    c = content.reshape(-1, 3).astype(np.float64)
    mu_s, mu_c = s.mean(0), c.mean(0)
    eps = np.eye(3) * 1e-5
    a = _sqrtm(np.cov(c, rowvar=False) + eps) @ np.linalg.inv(_sqrtm(np.cov(s, rowvar=False) + eps))
    out = (s - mu_s) @ a.T + mu_c
    return np.clip(out, 0.0, 1.0).reshape(style.shape).astype(np.float32)


def _sqrtm(m: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(m)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
