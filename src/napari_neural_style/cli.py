"""Command line: ``napari-neural-style CONTENT STYLE [STYLE ...] -o OUT [options]``.

Options are built from :class:`StyleParams` (names, types, defaults) and the run is the engine's own
:func:`stylize_steps` generator; this module only reads and writes files and reports progress.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from . import __version__
from .engine.params import (INTENSITY_RULES, OPTIMIZERS, POOLINGS, PRECISIONS, PRESERVE_COLOR, STACK_INITS,
                             StyleParams)
from .engine.images import layout

if TYPE_CHECKING:
    from .engine.progress import Progress

PROG = "napari-neural-style"
INIT_CHOICES = ("content", "noise")
WRITABLE = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
TIFF = (".tif", ".tiff")

# StyleParams fields offered as options, with their help; flag = "--" + name with "-" for "_".
OPTIONS: dict[str, str] = {
    "size": "long side of the output in pixels",
    "steps": "optimiser steps over all scales",
    "seed": "random seed (noise init)",
    "weights": "VGG19 weights: caffe, torchvision or the path of a state-dict file",
    "device": "auto, cpu, cuda, cuda:N or mps",
    "style_weight": "weight of the style loss",
    "content_weight": "weight of the content loss",
    "tv_weight": "weight of the total-variation (smoothness) loss",
    "optimizer": "optimiser",
    "init": "start from the content, from noise, or from the image at IMAGE_PATH",
    "scales": "coarse-to-fine levels",
    "style_blend": "one weight per style image",
    "style_scale": "style size relative to the output",
    "preserve_color": "keep the content's colours",
    "pooling": "VGG19 pooling",
    "precision": "autocast precision",
    "intensity": "how intensities map to [0, 1]: full dtype range or percentiles",
    "stack_init": "stacks: start each slice from the previous result, or each independently",
    "stack_steps": "stacks: share of the steps for each chained slice",
    "tile_size": "optimise scales larger than this in tiles of this side (0: never)",
    "tile_overlap": "overlap of neighbouring tiles in pixels",
}
CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": OPTIMIZERS, "preserve_color": PRESERVE_COLOR, "pooling": POOLINGS, "precision": PRECISIONS,
    "intensity": INTENSITY_RULES, "stack_init": STACK_INITS,
}
LOSS_FORMATS = {"style": ".1e", "content": ".2g", "tv": ".2g"}  # losses shown on the progress line


class CliError(Exception):
    """Bad input: reported as one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block
        raise CliError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; option types and defaults come from :class:`StyleParams`."""
    parser = _Parser(prog=PROG, description="Gatys neural style transfer of CONTENT in the style of STYLE(s).")
    parser.add_argument("content", metavar="CONTENT", type=Path,
                        help="content image (PNG, JPEG, TIFF, ...) or a zarr array (read slice by slice)")
    parser.add_argument("style", metavar="STYLE", type=Path, nargs="+", help="style image(s)")
    parser.add_argument("-o", "--output", metavar="OUT", type=Path, required=True,
                        help="output image; .png/.jpg as 8-bit, .tif/.tiff as float32 (stacks: TIFF only)")
    parser.add_argument("--labels", metavar="PATH", type=Path, default=None,
                        help="label image, the content's size: label k gets STYLE number k, 0 keeps the content")
    defaults = {f.name: f.default for f in fields(StyleParams)}
    for name, text in OPTIONS.items():
        default = defaults[name]
        kwargs: dict = {"default": default, "help": text if default is None else f"{text} (default: {default})"}
        if default is None:  # the tuple fields
            kwargs.update(type=float, nargs="+", metavar="F")
        elif name == "init":
            kwargs.update(metavar="{content,noise,IMAGE_PATH}")
        else:
            kwargs.update(type=type(default), choices=CHOICES.get(name))
            if name not in CHOICES:
                kwargs.update(metavar={int: "N", float: "F"}.get(type(default), name[0].upper()))
        parser.add_argument("--" + name.replace("_", "-"), **kwargs)
    parser.add_argument("--slices", metavar=("START", "STOP"), type=int, nargs=2, default=None,
                        help="stacks: only slices START to STOP-1 of the first leading axis")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="stacks: run on the dask.distributed cluster at ADDRESS, e.g. tcp://host:8786")
    parser.add_argument("--store", metavar="PATH.zarr", type=Path, default=None,
                        help="with --scheduler: write finished slices to this zarr store; a re-run resumes it")
    parser.add_argument("--segment", metavar="N", type=int, default=None,
                        help="with --scheduler: slices per task (default: an even share per worker)")
    parser.add_argument("--save-every", metavar="N", type=int, default=0,
                        help="also write OUT-stem_stepNNNN.png every N steps")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def read_image(path: Path, what: str) -> np.ndarray:
    """An image file as a numpy array in its own dtype (tifffile for TIFF when installed, else Pillow)."""
    if path.suffix.lower() == ".zarr" and path.is_dir():
        return _zarr_array(path, what)
    if not path.is_file():
        raise CliError(f"{what} image {path} does not exist")
    try:
        if path.suffix.lower() in TIFF and _tifffile() is not None:
            return _tifffile().imread(path)
        from PIL import Image

        with Image.open(path) as im:
            if im.mode in ("P", "PA", "LA", "La", "RGBa"):
                im = im.convert("RGBA" if im.mode != "P" or "transparency" in im.info else "RGB")
            elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
                im = im.convert("RGB")
            return np.asarray(im)
    except Exception as exc:  # noqa: BLE001 - every reader failure means "not an image we can read"
        raise CliError(f"{what} image {path} could not be read: {_one_line(exc)}") from None


def _zarr_array(path: Path, what: str) -> object:
    """A zarr array on disk, opened lazily (slices are read when stylised)."""
    import zarr

    try:
        return zarr.open_array(str(path), mode="r")
    except Exception as exc:  # noqa: BLE001 - a group, or not zarr at all
        raise CliError(f"{what} {path} is not a zarr array: {_one_line(exc)}") from None


def write_image(path: Path, image: np.ndarray) -> None:
    """Write a float image in [0, 1]: TIFF keeps float32 (with tifffile), PNG/JPEG become 8-bit."""
    suffix = path.suffix.lower()
    if suffix in TIFF and _tifffile() is not None:
        _tifffile().imwrite(path, image.astype(np.float32, copy=False))
        return
    from PIL import Image

    if suffix in (".jpg", ".jpeg") and image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]  # JPEG has no alpha
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)


def _tifffile():
    try:
        import tifffile
    except ImportError:
        return None
    return tifffile


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _format_time(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m{seconds % 60:02d}s"


class ProgressBar:
    """One carriage-return-updated line on ``stream``; ``close`` ends it with the total time."""

    def __init__(self, stream: TextIO, width: int = 20):
        self.stream, self.width, self._length = stream, width, 0

    def update(self, p: Progress) -> None:
        frac = p.step / p.total
        filled = int(self.width * frac)
        bar = ("=" * filled + (">" if filled < self.width else "")).ljust(self.width)
        losses = " ".join(f"{k} {p.losses[k]:{fmt}}" for k, fmt in LOSS_FORMATS.items() if k in p.losses)
        self._write(f"step {p.step}/{p.total} [{bar}] {frac:4.0%} {losses} "
                    f"elapsed {_format_time(p.elapsed)} ETA {_format_time(p.eta)}")

    def close(self, message: str) -> None:
        self._write(message)
        self.stream.write("\n")
        self.stream.flush()

    def _write(self, line: str) -> None:
        self.stream.write("\r" + line.ljust(self._length))
        self.stream.flush()
        self._length = len(line)


def params_from(args: argparse.Namespace) -> StyleParams:
    """StyleParams from the parsed options; ValueError (from StyleParams) names a bad value."""
    values = {name: getattr(args, name) for name in OPTIONS}
    if values["init"] not in INIT_CHOICES:
        values["init"] = "image"
    if args.save_every:
        values["preview_every"] = args.save_every
    return StyleParams(**values)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 done, 2 bad input, 130 interrupted)."""
    try:
        args = build_parser().parse_args(argv)
        return _run(args)
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    except KeyboardInterrupt:  # before the run started: nothing to save
        return 130


def _run(args: argparse.Namespace) -> int:
    out: Path = args.output
    if out.suffix.lower() not in WRITABLE:
        raise CliError(f"output {out} must end in one of {', '.join(WRITABLE)}")
    if not out.parent.is_dir():
        raise CliError(f"output folder {out.parent} does not exist")
    if args.save_every < 0:
        raise CliError(f"--save-every must be 0 or more, got {args.save_every}")
    try:
        params = params_from(args)
    except ValueError as exc:
        raise CliError(_one_line(exc)) from None
    if (args.store or args.segment) and not args.scheduler:
        raise CliError("--store and --segment need --scheduler")
    content = read_image(args.content, "content")
    if layout(content.shape)[0] and out.suffix.lower() not in TIFF:
        raise CliError(f"content {args.content} is a stack of shape {content.shape}: write the result to "
                       f".tif or .tiff, not {out.suffix}")
    labels = read_image(args.labels, "labels") if args.labels else None
    styles = [read_image(path, "style") for path in args.style]
    init = _read_init(args.init) if params.init == "image" else None

    from .engine.transfer import stylize_steps

    bar = None if args.quiet else ProgressBar(sys.stderr)
    start, last, result = time.perf_counter(), None, None
    client = _client(args.scheduler) if args.scheduler else None
    try:
        extra = {} if labels is None else {"labels": labels}
        if args.slices:
            extra["slices"] = tuple(args.slices)
        if client is not None:
            extra.update(client=client, store=None if args.store is None else str(args.store), segment=args.segment)
        for p in stylize_steps(content, styles, params, init_image=init, **extra):
            if bar:
                bar.update(p)
            if p.stack is not None or (p.image is not None and not p.index):
                last, result = p, p.stack if p.stack is not None else p.image
            if p.image is not None and args.save_every and p.step % args.save_every == 0 and not p.done:
                _save(out.with_name(f"{out.stem}_step{p.step:04d}.png"), p.image)
    except ValueError as exc:
        raise CliError(_one_line(exc)) from None
    except KeyboardInterrupt:
        if last is not None:
            _save(out, result)
        if bar:
            saved = f"partial result of step {last.step} saved to {out}" if last else "nothing saved"
            bar.close(f"interrupted: {saved}")
        return 130
    finally:
        if client is not None:
            client.close()
    _save(out, result)
    if bar:
        bar.close(f"done: {last.total} steps in {_format_time(time.perf_counter() - start)}, saved to {out}")
    return 0


def _read_init(value: str) -> np.ndarray:
    if not Path(value).is_file():
        raise CliError(f"--init {value}: use content, noise or the path of an existing image")
    return read_image(Path(value), "init")


def _client(address: str):
    from distributed import Client

    try:
        return Client(address, timeout=30)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CliError(f"--scheduler {address}: no dask scheduler reached: {_one_line(exc)}") from None


def _save(path: Path, image: object) -> None:
    """Write the result (numpy, or the zarr array of a store: read here)."""
    try:
        write_image(path, np.asarray(image))
    except (OSError, ValueError) as exc:
        raise CliError(f"could not write {path}: {_one_line(exc)}") from None
