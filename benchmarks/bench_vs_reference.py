"""Ours (default settings, CPU) against the reference Lua neural-style outputs: time, passes and scores.

For each pair of ``shared/reference/neural-style`` (1000 L-BFGS iterations at 512 px): our whole-run wall time
(reading the files, loading the network, targets, every step, the output image), the same expressed in *passes*
= time / one bare VGG19 forward+backward at the output's size measured in this same process around the run
(so machine load affects both alike; also as CPU time of this process, which another process's load on a
shared machine disturbs less, most so with ``--threads 1``); *process passes* add what a fresh process spends
before any of that (starting Python and importing torch and the plugin, timed once in a child process), as
the CLI does; and the style and content scores of ``score.py`` for ours and for the reference (lower is better
for both). Saves a grid, ours beside the reference, as ``benchmarks/vs_reference.png``.

    python benchmarks/bench_vs_reference.py [--size 512] [--pairs tubingen:starry_night,...] [-- KEY=VALUE ...]

Extra ``KEY=VALUE`` arguments are :class:`StyleParams` options (e.g. ``style_weight=30``), for experiments.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))
from score import load_rgb, score  # noqa: E402

from napari_neural_style import StyleParams, stylize_steps  # noqa: E402
from napari_neural_style.engine import network  # noqa: E402
from napari_neural_style.engine.params import CONTENT_LAYERS, STYLE_LAYERS  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
PAIRS = (("tubingen", "starry_night", "tubingen_starry"), ("golden_gate", "starry_night", "golden_gate_starry"),
         ("tubingen", "the_scream", "tubingen_scream"), ("tubingen", "shipwreck", "tubingen_shipwreck"))
CELL = 256  # width of one picture in the grid (keeps the PNG under 1 MB)


GATYS_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "relu4_2")  # earlier rounds' yardstick


def bare_passes(shape: tuple[int, int], n: int, bf16: bool, layers: tuple[str, ...] = STYLE_LAYERS + CONTENT_LAYERS
                ) -> tuple[list[float], float]:
    """Seconds of ``n`` bare VGG19 forward+backward passes at ``shape`` (after a warm-up), as the engine runs
    the network: channels_last, cut after the deepest of ``layers`` (default: the run's, now relu4_2), the
    gradient for the input only, in the run's precision."""
    net = network.Extractor(layers, bf16=bf16)
    x = torch.rand(1, 3, *shape, requires_grad=True)
    times, cpu = [], 0.0
    for i in range(n + 1):
        if i == 1:  # after the warm-up
            cpu = time.process_time()
        start = time.perf_counter()
        out = net(x)
        x.grad = None
        sum(o.sum() for o in out.values()).backward()
        times.append(time.perf_counter() - start)
    return times[1:], (time.process_time() - cpu) / n


def startup_seconds() -> float:
    """Wall seconds of a fresh Python process that imports torch and the plugin, as the CLI's start."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, napari_neural_style.cli"], check=True)
    return time.perf_counter() - start


def run_ours(content: Path, style: Path, params: StyleParams) -> tuple[np.ndarray, float, float]:
    """(8-bit RGB result, wall and CPU seconds of everything from reading the files to the result)."""
    network._load_cached.cache_clear()  # the network load counts too
    start, cpu = time.perf_counter(), time.process_time()
    c = np.asarray(Image.open(content).convert("RGB"))
    s = np.asarray(Image.open(style).convert("RGB"))
    last = None
    for last in stylize_steps(c, s, params):  # noqa: B007 - the last step's record is kept
        pass
    out = (np.clip(last.image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return out, time.perf_counter() - start, time.process_time() - cpu


def scores(out: np.ndarray, content: Path, style: Path) -> tuple[float, float]:
    shape = out.shape[:2]
    return score(out.astype(np.float32) / 255, load_rgb(content, shape), load_rgb(style, long_side=max(shape)))


def parse_options(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` arguments as StyleParams options (values as Python literals where they parse)."""
    options = {}
    for item in items:
        key, value = item.split("=", 1)
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    return options


def grid(rows: list[tuple[np.ndarray, np.ndarray, str, str]], path: Path) -> None:
    """One row per pair: ours | reference, each captioned."""
    cells = []
    for ours, ref, cap_ours, cap_ref in rows:
        pics = [Image.fromarray(a).resize((CELL, round(a.shape[0] * CELL / a.shape[1])), Image.LANCZOS)
                for a in (ours, ref)]
        cells.append((pics, (cap_ours, cap_ref)))
    h = sum(max(p.height for p in pics) + 16 for pics, _ in cells)
    canvas = Image.new("RGB", (2 * CELL + 6, h), "white")
    draw = ImageDraw.Draw(canvas)
    y = 0
    for pics, caps in cells:
        for i, (pic, cap) in enumerate(zip(pics, caps, strict=True)):
            x = i * (CELL + 6)
            draw.text((x + 2, y + 2), cap, fill="black")
            canvas.paste(pic, (x, y + 16))
        y += max(p.height for p in pics) + 16
    canvas.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--pairs", default=",".join(f"{c}:{s}" for c, s, _ in PAIRS),
                        help="content:style pairs, comma-separated")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("vs_reference.png"))
    parser.add_argument("options", nargs="*", help="StyleParams options as KEY=VALUE")
    args = parser.parse_args()
    options = parse_options(args.options)
    if args.threads:
        torch.set_num_threads(args.threads)
    params = StyleParams(size=args.size, device="cpu", preview_every=0, **options)
    wanted = [tuple(p.split(":")) for p in args.pairs.split(",")]
    refs = {(c, s): r for c, s, r in PAIRS}
    bf16 = network.use_bf16(params.precision, torch.device("cpu"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; params: {options or 'defaults'}; path: "
          f"{'bf16 (AVX512-BF16/AMX)' if bf16 else 'fp32'}, the bare pass too")
    startup = startup_seconds()
    print(f"a fresh process's start (Python, torch and plugin imports): {startup:.2f} s")
    print("passes: against a bare pass of the run's own network (to relu4_2); to relu5_1: against one of the "
          "network to relu5_1 (earlier rounds' yardstick); style: score.py's Gram score, i.e. the loss itself")
    print(f"{'pair':<26}{'wall s':>8}{'bare s':>8}{'passes':>8}{'relu5_1':>8}{'cpu':>6}{'process':>8}{'style':>9}"
          f"{'ref':>8}{'content':>9}{'ref':>8}  ok")
    rows, all_ok = [], True
    for content_name, style_name in wanted:
        content = SHARED / "images" / "content" / f"{content_name}.jpg"
        style = SHARED / "images" / "style" / f"{style_name}.jpg"
        ref_path = SHARED / "reference" / "neural-style" / f"{refs[(content_name, style_name)]}.png"
        ref = np.asarray(Image.open(ref_path).convert("RGB"))
        out, seconds, cpu_seconds = run_ours(content, style, params)
        shape = out.shape[:2]
        times, bare_cpu = bare_passes(shape, 5, bf16)  # right after the run, at the same size and precision
        bare = statistics.median(times)
        deep = statistics.median(bare_passes(shape, 5, bf16, GATYS_LAYERS)[0])
        s_ours, c_ours = scores(out, content, style)
        s_ref, c_ref = scores(ref, content, style)
        passes = seconds / bare
        ok = s_ours <= s_ref and c_ours <= c_ref
        all_ok &= ok
        print(f"{content_name + ' x ' + style_name:<26}{seconds:8.1f}{bare:8.2f}{passes:8.1f}{seconds / deep:8.1f}"
              f"{cpu_seconds / bare_cpu:6.1f}"
              f"{(seconds + startup) / bare:8.1f}{s_ours:9.4f}"
              f"{s_ref:8.4f}{c_ours:9.3f}{c_ref:8.3f}  {'yes' if ok else 'no'}   load {os.getloadavg()[0]:.1f}",
              flush=True)
        rows.append((out, ref, f"ours: {passes:.0f} passes, style {s_ours:.4f}, content {c_ours:.3f}",
                     f"reference: style {s_ref:.4f}, content {c_ref:.3f}"))
    grid(rows, args.out)
    print(f"no worse than the reference on both scores, every pair: {all_ok}; saved {args.out} "
          f"({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
