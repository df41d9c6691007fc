"""Ours against pastiche, side by side in one run: same content, style, output area and machine, CPU.

pastiche: ``--size-pixels 65536 --num-steps 300 --seed 0``; ours: default settings at the same output size.
Both are timed as whole processes (start-up included) and scored by ``score.py`` (Caffe VGG19, independent
of either loss). Also prints the peak memory of a 1024×1024 run. Writes ``benchmarks/vs_pastiche.png``.

    python benchmarks/bench_vs_pastiche.py [--content C] [--style S] [--skip-1024]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))
from score import score_files  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
PIXELS = 65536
STEPS_1024 = 150


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, largest peak RSS in GiB of the children so far) of a child process; raises if it fails."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20


def pastiche_shape(content: Path) -> tuple[int, int]:
    """The (H, W) pastiche picks for ``--size-pixels``; ours asks for the same long side."""
    w, h = Image.open(content).size
    h_ = round(math.sqrt(PIXELS * h / w))
    return h_, round(w / h * h_)


def side_by_side(paths: list[Path], labels: list[str], out: Path) -> None:
    images = [Image.open(p).convert("RGB") for p in paths]
    height = max(i.height for i in images)
    canvas = Image.new("RGB", (sum(i.width for i in images) + 8 * (len(images) - 1), height + 22), "white")
    x = 0
    draw = ImageDraw.Draw(canvas)
    for image, label in zip(images, labels, strict=True):
        canvas.paste(image, (x, 22))
        draw.text((x + 4, 4), label, fill="black")
        x += image.width + 8
    canvas.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=SHARED / "content" / "tubingen.jpg")
    parser.add_argument("--style", type=Path, default=SHARED / "style" / "starry_night.jpg")
    parser.add_argument("--skip-1024", action="store_true", help="skip the 1024×1024 memory run")
    args = parser.parse_args()
    py = sys.executable
    if not args.skip_1024:  # first, so that the children's peak RSS is this run's own
        with tempfile.TemporaryDirectory() as tmp:
            square = Path(tmp) / "square.png"
            Image.open(args.content).convert("RGB").resize((1024, 1024)).save(square)
            seconds, peak = run([py, "-m", "napari_neural_style", str(square), str(args.style), "-o",
                                 str(Path(tmp) / "o.png"), "--size", "1024", "--device", "cpu", "--quiet",
                                 "--steps", str(STEPS_1024)])
        print(f"1024x1024, {STEPS_1024} steps (L-BFGS history full at the last scale): {seconds:.0f} s, "
              f"peak memory {peak:.2f} GiB (target <= 4 GiB)", flush=True)
    h, w = pastiche_shape(args.content)
    with tempfile.TemporaryDirectory() as tmp:
        theirs, ours = Path(tmp) / "pastiche.png", Path(tmp) / "ours.png"
        t_theirs, _ = run([py, "-m", "pastiche", "--content", str(args.content), "--styles", str(args.style),
                           "--output", str(theirs), "--size-pixels", str(PIXELS), "--num-steps", "300",
                           "--seed", "0", "--device", "cpu", "--no-verbose"])
        t_ours, _ = run([py, "-m", "napari_neural_style", str(args.content), str(args.style), "-o", str(ours),
                         "--size", str(max(h, w)), "--device", "cpu", "--quiet"])
        s_theirs, c_theirs = score_files(theirs, args.content, args.style)
        s_ours, c_ours = score_files(ours, args.content, args.style)
        out = Path(__file__).with_name("vs_pastiche.png")
        side_by_side([theirs, ours], [(f"pastiche 300 steps: {t_theirs:.0f} s, style {s_theirs:.4f}, "
                                       f"content {c_theirs:.3f}"),
                                      (f"napari-neural-style: {t_ours:.0f} s, style {s_ours:.4f}, "
                                       f"content {c_ours:.3f}")], out)
    print(f"content {args.content.name}, style {args.style.name}, output {w}x{h} ({w * h} px), CPU, "
          f"{os.cpu_count()} cores")
    print(f"{'':<22}{'wall s':>8}{'style':>9}{'content':>9}   (scores: lower is better)")
    print(f"{'pastiche 300 steps':<22}{t_theirs:8.1f}{s_theirs:9.4f}{c_theirs:9.3f}")
    print(f"{'ours (defaults)':<22}{t_ours:8.1f}{s_ours:9.4f}{c_ours:9.3f}")
    print(f"time ratio ours/pastiche: {t_ours / t_theirs:.3f}  (target <= 0.07)")
    print(f"no worse on both scores : {s_ours <= s_theirs and c_ours <= c_theirs}")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
