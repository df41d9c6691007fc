"""Quality on ten content × style pairs, by scores that no term of the run minimises, and blind sheets.

The pairs: the four of ``shared/reference/neural-style``, brad_pitt × Picasso's self-portrait (the reference's
content-weight-5 output), and five chosen to cover a portrait style on a face and on a landscape, a dark
painting, a night photo and a grayscale scientific image (scikit-image's ``cell``). For each, one run of
ours (``StyleParams`` defaults plus ``KEY=VALUE`` options) is saved under ``OUT/LABEL/`` and scored:

- ``colour``: sliced Wasserstein distance (×1000) between the output's and the style's pixel colours (64
  fixed directions in RGB, quantiles compared): does the picture use the painting's palette?
- ``feat``: the same between VGG19 feature vectors at relu1_1…relu5_1 (64 fixed directions per layer, each
  layer's distance relative to the style's projected variance, mean over layers): the painting's textures.
- ``content``: relative relu4_2 error against the content (what the content loss weighs; kept as the
  reference's yardstick of content), and ``edges``: 1 − the correlation of the output's and the content's
  luminance gradient magnitudes (fine structure kept; nothing optimises it).
- ``gram (loss)``: the mean relative Gram error per layer, i.e. the style loss the run itself minimises:
  shown, never a judge.
Each of colour, feat and gram is computed twice, with the style resized bilinear (as the run) and Lanczos:
a conclusion that flips between the two is not one. ``passes`` = wall time of the run / one bare
forward+backward at the output's size (as ``bench_vs_reference.py``). A grid PNG shows content, style, ours
(and the reference where it exists). ``--sheets X Y`` writes a pair list for ``shared/tools/blind_sheets.py``
(label ``reference`` = the Lua outputs, on the five pairs that have one).

    python benchmarks/bench_quality.py --label new [--size 512] [--pairs 1,2,5] [-- KEY=VALUE ...]
    python benchmarks/bench_quality.py --label reference          # score the Lua outputs (five pairs)
    python benchmarks/bench_quality.py --sheets new old > pairs.txt
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))
from bench_vs_reference import SHARED, bare_passes, parse_options, run_ours  # noqa: E402
from score import load_rgb  # noqa: E402

from napari_neural_style import StyleParams  # noqa: E402
from napari_neural_style.engine import network  # noqa: E402

CONTENT_LAYER = "relu4_2"
SCORE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # Gatys' five, whatever the run uses
# (content, style, reference output or None); contents from scikit-image are named skimage:NAME
PAIRS = (
    ("tubingen", "starry_night", "tubingen_starry"),
    ("golden_gate", "starry_night", "golden_gate_starry"),
    ("tubingen", "the_scream", "tubingen_scream"),
    ("tubingen", "shipwreck", "tubingen_shipwreck"),
    ("brad_pitt", "picasso_selfport1907", "brad_pitt_picasso_content_5_style_10"),
    ("hoovertowernight", "woman-with-hat-matisse", None),   # night photo, bright flat portrait style
    ("skimage:astronaut", "woman-with-hat-matisse", None),  # a face under a portrait style
    ("golden_gate", "picasso_selfport1907", None),          # a landscape under a portrait style
    ("skimage:chelsea", "shipwreck", None),                 # a dark painting
    ("skimage:cell", "starry_night", None),                 # a grayscale scientific image
)
DIRECTIONS = 64
QUANTILES = 1024
SAMPLES = 16384
FILTERS = {"bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS}
CELL = 200  # grid picture width


def content_path(name: str, out: Path) -> Path:
    """The content image's file (scikit-image's are written once under ``out/inputs``)."""
    if not name.startswith("skimage:"):
        return SHARED / "images" / "content" / f"{name}.jpg"
    from skimage import data

    path = out / "inputs" / f"{name[8:]}.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(getattr(data, name[8:])()).save(path)
    return path


def style_path(name: str) -> Path:
    return SHARED / "images" / "style" / f"{name}.jpg"


def pair_name(content: str, style: str) -> str:
    return f"{content.removeprefix('skimage:')}_{style}"


def sliced(a: torch.Tensor, b: torch.Tensor, seed: int) -> tuple[float, float]:
    """(mean squared quantile difference, mean variance of b) of (N, C) and (M, C) samples projected on
    ``DIRECTIONS`` fixed random unit directions; unequal N and M compare at ``QUANTILES`` quantiles."""
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(a.shape[1], DIRECTIONS, generator=g, dtype=torch.float64)
    d /= d.norm(dim=0, keepdim=True)
    q = torch.linspace(0, 1, QUANTILES, dtype=torch.float64)

    def sample(x: torch.Tensor) -> torch.Tensor:  # a fixed subset of at most SAMPLES rows (1 % quantile error)
        return x if x.shape[0] <= SAMPLES else x[torch.randperm(x.shape[0], generator=g)[:SAMPLES]]

    pa, pb = sample(a).double() @ d, sample(b).double() @ d

    def quantiles(p: torch.Tensor) -> torch.Tensor:
        s = p.sort(dim=0).values
        pos = q * (s.shape[0] - 1)
        lo = pos.floor().long()
        hi = (lo + 1).clamp_max(s.shape[0] - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)[:, None]

    return float((quantiles(pa) - quantiles(pb)).square().mean()), float(pb.var(dim=0).mean())


def rows(f: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) features as (H·W, C)."""
    return f[0].reshape(f.shape[1], -1).T


def gram(f: torch.Tensor) -> torch.Tensor:
    x = rows(f).double()
    return x.T @ x / x.shape[0]


def scores(out: np.ndarray, content: Path, style: Path) -> dict[str, float]:
    """Every score of one output (Y, X, 3) in [0, 1]; lower is better for all."""
    shape = out.shape[:2]
    c = load_rgb(content, shape, resample=Image.LANCZOS)
    layers = SCORE_LAYERS + (CONTENT_LAYER,)
    fo, fc = network.extract(out, layers), network.extract(c, (CONTENT_LAYER,))
    result = {"content": float((fo[CONTENT_LAYER] - fc[CONTENT_LAYER]).double().square().sum()
                               / fc[CONTENT_LAYER].double().square().sum())}
    result["edges"] = 1.0 - edge_correlation(out, c)
    for name, resample in FILTERS.items():
        s = load_rgb(style, long_side=max(shape), resample=resample)
        fs = network.extract(s, SCORE_LAYERS)
        result[f"colour {name}"] = 1000 * sliced(torch.from_numpy(out.reshape(-1, 3)),
                                                 torch.from_numpy(s.reshape(-1, 3)), 0)[0]
        rel = []
        for i, layer in enumerate(SCORE_LAYERS):
            sw, var = sliced(rows(fo[layer]), rows(fs[layer]), 1 + i)
            rel.append(sw / max(var, 1e-12))
        result[f"feat {name}"] = float(np.mean(rel))
        result[f"gram {name}"] = float(np.mean([
            float((gram(fo[k]) - gram(fs[k])).square().sum() / gram(fs[k]).square().sum()) for k in SCORE_LAYERS]))
    return result


def edge_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the luminance gradient magnitudes of two same-size RGB images."""
    def magnitude(rgb: np.ndarray) -> np.ndarray:
        y = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
        gy, gx = np.gradient(y)
        return np.hypot(gx, gy).ravel()

    return float(np.corrcoef(magnitude(a), magnitude(b))[0, 1])


def grid(cells: list[list[tuple[np.ndarray, str]]], path: Path) -> None:
    """One row per pair of captioned pictures."""
    ncol = max(len(r) for r in cells)
    pics = [[(Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)).resize(
        (CELL, round(a.shape[0] * CELL / a.shape[1])), Image.LANCZOS), cap) for a, cap in r] for r in cells]
    heights = [max(p.height for p, _ in r) + 14 for r in pics]
    canvas = Image.new("RGB", (ncol * (CELL + 4), sum(heights)), "white")
    draw, y = ImageDraw.Draw(canvas), 0
    for r, h in zip(pics, heights, strict=True):
        for i, (pic, cap) in enumerate(r):
            draw.text((i * (CELL + 4) + 2, y + 1), cap, fill="black")
            canvas.paste(pic, (i * (CELL + 4), y + 14))
        y += h
    canvas.save(path, optimize=True)


def sheets(out: Path, x: str, y: str) -> None:
    """Lines ``X Y CONTENT STYLE`` for blind_sheets.py, for the pairs that both labels have."""
    for content, style, ref in PAIRS:
        name = pair_name(content, style)
        paths = []
        for label in (x, y):
            p = (SHARED / "reference" / "neural-style" / f"{ref}.png" if label == "reference" and ref
                 else out / label / f"{name}.png")
            paths.append(p)
        if all(p.exists() for p in paths):
            print(*paths, content_path(content, out), style_path(style))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", help="name of this configuration (its outputs go to OUT/LABEL)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--pairs", default="", help="1-based pair numbers, comma-separated (default: all)")
    parser.add_argument("--out", type=Path, default=Path("out/quality"))
    parser.add_argument("--sheets", nargs=2, metavar=("X", "Y"), help="print a blind_sheets.py pair list")
    parser.add_argument("options", nargs="*", help="StyleParams options as KEY=VALUE")
    args = parser.parse_args()
    if args.sheets:
        sheets(args.out, *args.sheets)
        return
    if not args.label:
        parser.error("--label is required")
    chosen = [PAIRS[int(i) - 1] for i in args.pairs.split(",")] if args.pairs else list(PAIRS)
    options = parse_options(args.options)
    folder = args.out / args.label
    folder.mkdir(parents=True, exist_ok=True)
    params = StyleParams(size=args.size, device="cpu", preview_every=0, **options)
    bf16 = network.use_bf16(params.precision, torch.device("cpu"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; {args.label}: {options or 'defaults'}; path {'bf16' if bf16 else 'fp32'}")
    keys = ("colour bilinear", "colour lanczos", "feat bilinear", "feat lanczos", "content", "edges",
            "gram bilinear", "gram lanczos")
    print(f"{'pair':<36}{'passes':>7}" + "".join(f"{k:>16}" for k in keys), flush=True)
    table, cells = [], []
    for content, style, ref in chosen:
        name = pair_name(content, style)
        cpath, spath = content_path(content, args.out), style_path(style)
        passes = float("nan")
        if args.label == "reference":
            if not ref:
                continue
            rgb = load_rgb(SHARED / "reference" / "neural-style" / f"{ref}.png")
            Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)).save(folder / f"{name}.png")
        else:
            out, seconds, _ = run_ours(cpath, spath, params)
            Image.fromarray(out).save(folder / f"{name}.png")
            rgb = out.astype(np.float32) / 255
            times, _ = bare_passes(rgb.shape[:2], 3, bf16)
            passes = seconds / statistics.median(times)
        s = scores(rgb, cpath, spath)
        table.append([passes] + [s[k] for k in keys])
        print(f"{name:<36}{passes:7.1f}" + "".join(f"{s[k]:16.4f}" for k in keys), flush=True)
        cells.append([(load_rgb(cpath), "content"), (load_rgb(spath), "style"),
                      (rgb, f"{args.label}: colour {s['colour lanczos']:.1f} feat {s['feat lanczos']:.3f}")])
    if table:
        mean = np.array(table).mean(axis=0)
        print(f"{'mean':<36}{mean[0]:7.1f}" + "".join(f"{v:16.4f}" for v in mean[1:]))
        grid(cells, folder / "grid.png")
        print(f"outputs and grid.png in {folder}")


if __name__ == "__main__":
    main()
