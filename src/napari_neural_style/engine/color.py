"""Colour preservation after Gatys et al. 2017 (luminance-only transfer, colour-histogram matching) and the
palette start."""

from __future__ import annotations

from collections.abc import Sequence

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
    """Recolour ``style`` so its pixels have the mean and covariance of ``content``'s (both (Y, X, 3))."""
    return recolour(style, colour_stats(content))


def palette(content: np.ndarray, styles: Sequence[np.ndarray], blend: Sequence[float],
            labels: np.ndarray | None = None, regions: Sequence[int] = (), only_tones: bool = False) -> np.ndarray:
    """``content`` (Y, X, 3) recoloured to the styles' colours: to the blend of their pixel distributions'
    means and covariances, or with ``labels`` each region k to style k's (label 0 keeps its colours). With
    ``only_tones``, only its light and dark in those colours (:func:`tones`)."""
    move = tones if only_tones else recolour
    if labels is None:
        return move(content, _mixture([colour_stats(s) for s in styles], blend))
    out = content.copy()
    for k in regions:
        inside = labels == k
        if inside.sum() > 1:
            out[inside] = move(content[inside], colour_stats(styles[k - 1]))
    return out


def tones(rgb: np.ndarray, target: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``rgb`` (…, 3) as light and dark only, in the ``target`` (mean, covariance) colours: the luminance of
    ``rgb`` recoloured to the target, with the chroma of the target's mean everywhere. No hue of the photo's
    is left, only its tones (a blue sky under the Scream, recoloured, starts teal and stays so; from its
    tones the run paints it orange), but the run needs more steps to settle."""
    y = luminance(recolour(rgb, target))
    return with_chroma(y, np.broadcast_to(target[0].astype(np.float32), rgb.shape))


def colour_stats(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of an image's (…, 3) pixels, float64."""
    pixels = rgb.reshape(-1, 3).astype(np.float64)
    return pixels.mean(0), np.cov(pixels, rowvar=False)


def recolour(rgb: np.ndarray, target: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``rgb`` (…, 3) with its pixels moved to the ``target`` mean and covariance:
    x' = Σt^½ Σs^-½ (x − μs) + μt, with symmetric matrix square roots (eigendecomposition)."""
    (mu_s, cov_s), (mu_t, cov_t) = colour_stats(rgb), target
    eps = np.eye(3) * 1e-5
    a = _sqrtm(cov_t + eps) @ np.linalg.inv(_sqrtm(cov_s + eps))
    out = (rgb.reshape(-1, 3).astype(np.float64) - mu_s) @ a.T + mu_t
    return np.clip(out, 0.0, 1.0).reshape(rgb.shape).astype(np.float32)


def _mixture(stats: Sequence[tuple[np.ndarray, np.ndarray]], weights: Sequence[float]
             ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a mixture of distributions with these moments, in proportions ``weights``."""
    w = np.asarray(weights, np.float64) / sum(weights)
    mu = sum(wi * m for wi, (m, _) in zip(w, stats, strict=True))
    second = sum(wi * (c + np.outer(m, m)) for wi, (m, c) in zip(w, stats, strict=True))
    return mu, second - np.outer(mu, mu)


def _sqrtm(m: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(m)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
