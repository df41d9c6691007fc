"""Colour preservation after Gatys et al. 2017 (luminance-only transfer, colour-histogram matching) and the
palette start."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# RGB -> YIQ (NTSC); its inverse brings the stylised luminance back with the content's chroma.
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_RGB = np.linalg.inv(_YIQ).astype(np.float32)
TONE_LEVELS = 16  # the tones start's colours: the painting's mean chroma in this many equal shares of its pixels
TONE_SAMPLE = 1 << 18  # pixels of a style read for them at most (evenly spaced)
TONE_BINS = 256  # the painting's histogram of luminance for the tones start's tone curve
TONE_CLIP = 4.0  # its height at most this × the mean: the content's contrast is never crushed more than 4 ×
# the content's luminance in this many steps (a 16-bit image's own): ranked by counting, not sorting (a 12-MP
# photo's start in 0.2 s instead of 2.2)
TONE_STEPS = 1 << 16


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(Y, X) luminance of an (Y, X, 3) image; pixel by pixel, so equal colours have equal luminance (a
    matrix product's vectorised rows can round differently)."""
    w = _YIQ[0]
    return rgb[..., 0] * w[0] + rgb[..., 1] * w[1] + rgb[..., 2] * w[2]


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
    if labels is None:
        if only_tones:
            return tones(content, styles, blend)
        return recolour(content, _mixture([colour_stats(s) for s in styles], blend))
    out = content.copy()
    for k in regions:
        inside = labels == k
        if inside.sum() > 1:
            style = styles[k - 1]
            out[inside] = tones(content[inside], [style], [1.0]) if only_tones else recolour(
                content[inside], colour_stats(style))
    return out


def tones(rgb: np.ndarray, styles: Sequence[np.ndarray], blend: Sequence[float]) -> np.ndarray:
    """``rgb`` (…, 3) as light and dark only, each tone in the painting's colour of it (a gradient map): a
    pixel at rank r of the content's luminance (in :data:`TONE_STEPS` steps) takes the luminance at rank r of
    the styles' pixels (pooled in the ``blend``'s proportions) and the mean chroma of the styles' pixels about
    that rank (:data:`TONE_LEVELS` equal shares, interpolated). No hue of the photo's is left, only its tones: under
    the Scream a blue sky starts in the orange of the painting's light tones, under Starry Night the darks
    start in its deep blues and the lights yellow; pixels as light as each other start in one colour. The
    painting's histogram of luminance is clipped at :data:`TONE_CLIP` × its mean height first (the excess
    spread evenly, as in contrast-limited equalisation): a painting of bright points on black (the Hubble
    deep field) would otherwise turn a face black."""
    flat = rgb.reshape(-1, 3)
    step = np.clip(np.rint(luminance(flat) * (TONE_STEPS - 1)), 0, TONE_STEPS - 1).astype(np.intp)
    counts = np.bincount(step, minlength=TONE_STEPS)
    rank = (np.cumsum(counts) - counts / 2) / len(flat)  # each step's mid-rank: equal tones, equal colours
    y, iq, cdf = _pooled(styles, blend)
    weight = np.diff(cdf, prepend=0.0)
    hist = np.histogram(y, bins=TONE_BINS, range=(0.0, 1.0), weights=weight)[0]
    limit = TONE_CLIP / TONE_BINS
    hist = np.minimum(hist, limit) + np.clip(hist - limit, 0.0, None).sum() / TONE_BINS
    tone = np.interp(rank, np.concatenate([[0.0], np.cumsum(hist)]), np.linspace(0.0, 1.0, TONE_BINS + 1))
    ends = np.concatenate([[0], np.searchsorted(cdf, np.arange(1, TONE_LEVELS) / TONE_LEVELS), [len(cdf)]])
    level = np.array([np.average(iq[a:b], axis=0, weights=weight[a:b] + 1e-12)
                      for a, b in zip(ends[:-1], ends[1:], strict=True)])
    share = (np.arange(TONE_LEVELS) + 0.5) / TONE_LEVELS
    yiq = np.stack([tone, np.interp(rank, share, level[:, 0]), np.interp(rank, share, level[:, 1])], axis=-1)
    colours = np.clip(yiq.astype(np.float32) @ _RGB.T, 0.0, 1.0)  # one per step of luminance
    return colours[step].reshape(rgb.shape)


def _pooled(styles: Sequence[np.ndarray], blend: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The styles' pixels pooled (at most :data:`TONE_SAMPLE` of each, evenly spaced; none of a style with
    no weight), each style's weighing its ``blend`` share in all, in order of luminance: the luminance (N,),
    the I and Q chroma (N, 2), and the cumulative weight up to each pixel (the last 1)."""
    w = np.asarray(blend, np.float64) / sum(blend)
    used = [(s, wk) for s, wk in zip(styles, w, strict=True) if wk > 0]
    pixels = [s.reshape(-1, 3)[:: -(-s[..., 0].size // TONE_SAMPLE)].astype(np.float32) @ _YIQ.T for s, _ in used]
    yiq = np.concatenate(pixels).astype(np.float64)
    weight = np.concatenate([np.full(len(p), wk / len(p)) for p, (_, wk) in zip(pixels, used, strict=True)])
    order = np.argsort(yiq[:, 0], kind="stable")
    return yiq[order, 0], yiq[order, 1:], np.cumsum(weight[order])


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
