"""Per-step cost of our L-BFGS step against a bare VGG19 forward+backward and against pastiche's step.

All three at the same size, on the CPU, in one process; prints seconds per step and the ratios. Ours is timed
with L-BFGS's history full (after 100 steps). The bare pass runs exactly the engine's network (channels_last,
the same layers, gradient for the input only) and is timed *interleaved* with ours, one bare pass before each
of our steps, so that both see the same machine load; each is summarised by its fastest step (the least
disturbed by other processes) and by its median. The bare pass is a lower bound: ours >= bare.

Why interleaved: on a shared 2-core machine another process's load comes and goes within seconds and slows a
step 2-4x (measured: 0.57 s -> 2.4 s per step at 256² within one run). Measured one after the other, the bare
pass (first, 10 steps) and ours (later) saw different loads and the ratio was meaningless (bare 2.33 s vs ours
1.05 s). Pastiche is still timed on its own, after a warm-up; compare it on a quiet machine only.

    python benchmarks/bench_step.py [--size 256] [--steps 10] [--precision fp32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from napari_neural_style import stylize_steps
from napari_neural_style.engine.network import Features, load_network
from napari_neural_style.engine.params import CONTENT_LAYERS, STYLE_LAYERS, StyleParams

HISTORY = 100  # L-BFGS history pairs kept at this size


def bare_pass(size: int) -> Callable[[], None]:
    """One forward+backward of the engine's own VGG19 cut (relu5_1, the deepest layer a default run uses):
    channels_last like the engine, the gradient for the input only (the weights are frozen)."""
    vgg, norm = load_network("caffe", torch.device("cpu"))
    net = Features(vgg, STYLE_LAYERS + CONTENT_LAYERS, "max").to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, size, size, requires_grad=True)

    def one() -> None:
        out = net(norm(x).contiguous(memory_format=torch.channels_last))
        x.grad = None
        sum(o.sum() for o in out.values()).backward()

    return one


def interleaved(size: int, steps: int, precision: str) -> tuple[list[float], list[float]]:
    """(bare seconds, our seconds) per step, alternating: bare, ours, bare, ours, ... after warm-ups.

    Ours is advanced one step at a time through the generator, after HISTORY steps have filled L-BFGS's
    history (the costliest step); the final step, which also makes the output image, is not timed.
    """
    rng = np.random.default_rng(0)
    content = rng.random((size, size, 3), np.float32)
    style = rng.random((size, size, 3), np.float32)
    params = StyleParams(size=size, steps=HISTORY + steps + 1, scales=1, preview_every=0, precision=precision,
                         device="cpu")
    run = stylize_steps(content, style, params)
    for _ in range(HISTORY):
        next(run)
    one = bare_pass(size)
    one()  # warm-up: oneDNN builds its kernels for this shape on the first call
    b, o = [], []
    for _ in range(steps):
        start = time.perf_counter()
        one()
        b.append(time.perf_counter() - start)
        start = time.perf_counter()
        next(run)
        o.append(time.perf_counter() - start)
    for _ in run:  # the last step
        pass
    return b, o


def pastiche_step(size: int, steps: int, tmp: str) -> float:
    from pastiche.pastiche import PasticheArtist
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for name in ("content", "style"):
        path = f"{tmp}/{name}.png"
        Image.fromarray((rng.random((size, size, 3)) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    artist = PasticheArtist(paths[0], paths[1:], device="cpu", size=size)
    return _per_step(artist.draw, steps)


def _per_step(fn, steps: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precision", default="fp32", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--skip-pastiche", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.size}², {args.steps} steps, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    b, o = interleaved(args.size, args.steps, args.precision)
    print(f"bare VGG19 fwd+bwd : {min(b):.3f} s/step fastest, {statistics.median(b):.3f} median")
    print(f"ours ({args.precision:>4})       : {min(o):.3f} s/step fastest, {statistics.median(o):.3f} median")
    print(f"ours / bare        : {min(o) / min(b):.2f}x fastest, {statistics.median(o) / statistics.median(b):.2f}x "
          f"median  (target <= 1.15x; >= 1 by construction of a fair bare pass)")
    if not args.skip_pastiche:
        with tempfile.TemporaryDirectory() as tmp:
            p = pastiche_step(args.size, args.steps, tmp)
        print(f"pastiche           : {p:.3f} s/step (timed alone, after ours)")
        print(f"ours / pastiche    : {min(o) / p:.2f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
