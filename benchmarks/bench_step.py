"""Per-step cost of our L-BFGS step against a bare VGG19 forward+backward and against pastiche's step.

All three at the same size, on the CPU, in one process; prints seconds per step and the ratios. Ours is timed
with L-BFGS's history full (after 100 steps), pastiche's and the bare pass after one warm-up.

    python benchmarks/bench_step.py [--size 256] [--steps 10] [--precision fp32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from napari_neural_style.engine.network import Features, load_network
from napari_neural_style.engine.params import CONTENT_LAYERS, STYLE_LAYERS, StyleParams
from napari_neural_style import stylize_steps

HISTORY = 100  # L-BFGS history pairs kept at this size


def bare(size: int, steps: int) -> float:
    """A forward+backward of VGG19 cut after relu5_1 (the deepest layer a default run uses)."""
    vgg, norm = load_network("caffe", torch.device("cpu"))
    net = Features(vgg, STYLE_LAYERS + CONTENT_LAYERS, "max")
    x = torch.rand(1, 3, size, size, requires_grad=True)

    def one() -> None:
        out = net(norm(x))
        sum(o.sum() for o in out.values()).backward()

    return _per_step(one, steps)


def ours(size: int, steps: int, precision: str) -> float:
    """Steady state: timed after HISTORY steps, when L-BFGS's history is full (the costliest step)."""
    rng = np.random.default_rng(0)
    content = rng.random((size, size, 3), np.float32)
    style = rng.random((size, size, 3), np.float32)
    params = StyleParams(size=size, steps=HISTORY + steps + 1, scales=1, preview_every=0, precision=precision)
    times = [p.elapsed for p in stylize_steps(content, style, params)]
    return (times[-2] - times[-2 - steps]) / steps  # the last step also makes the final image: left out


def pastiche_step(size: int, steps: int, tmp: str) -> float:
    from PIL import Image
    from pastiche.pastiche import PasticheArtist

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
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.size}², {args.steps} steps")
    b = bare(args.size, args.steps)
    o = ours(args.size, args.steps, args.precision)
    with tempfile.TemporaryDirectory() as tmp:
        p = pastiche_step(args.size, args.steps, tmp)
    print(f"bare VGG19 fwd+bwd : {b:.3f} s/step")
    print(f"ours ({args.precision:>4})       : {o:.3f} s/step")
    print(f"pastiche           : {p:.3f} s/step")
    print(f"ours / bare        : {o / b:.2f}x  (target <= 1.15x)")
    print(f"ours / pastiche    : {o / p:.2f}x")


if __name__ == "__main__":
    main()
