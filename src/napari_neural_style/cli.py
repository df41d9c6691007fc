"""Command line: ``napari-neural-style CONTENT STYLE [STYLE ...] -o OUT [options]``.

Options are built from :class:`StyleParams` (names, types, defaults) and the run is the engine's own
:func:`stylize_steps` generator; this module only reads and writes files and reports progress.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np
from tqdm import tqdm

from . import __version__
from .engine.images import layout
from .engine.params import PRESET_FIELDS, PRESETS, StyleParams
from .engine.progress import LOADING
from .options import INIT_CHOICES, OPTIONS, duration

if TYPE_CHECKING:
    from .engine.progress import Progress

PROG = "napari-neural-style"
WRITABLE = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
TIFF = (".tif", ".tiff")
NOT_OPTIONS = ("preview_every",)  # --save-every sets it
LOSS_FORMATS = {"style": ".1e", "content": ".2g", "tv": ".2g"}  # losses shown on the progress line


class CliError(Exception):
    """Bad input: reported as one line and exit ``status`` (2)."""

    status = 2


class SavedElsewhere(CliError):
    """The result could not be written where asked and went to a fallback path: exit status 1."""

    status = 1


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
    parser.add_argument("--preset", choices=tuple(PRESETS), default=None,
                        help="size, steps and scales for a quick look, a balanced or the best result: "
                             + "; ".join(f"{k} " + " ".join(f"{n} {v}" for n, v in values.items())
                                         for k, values in PRESETS.items()) + " (options given win)")
    defaults = {f.name: f.default for f in fields(StyleParams)}
    for name, option in OPTIONS.items():
        if name in NOT_OPTIONS:
            continue
        default, text = defaults[name], option.help
        if name == "init":
            text += " (or from the image at IMAGE_PATH)"
        kwargs: dict = {"default": default, "help": text if default is None else f"{text} (default: {default})"}
        if default is None:  # the tuple fields
            kwargs.update(type=float, nargs="+", metavar="F")
        elif name == "init":
            kwargs.update(metavar="{content,noise,IMAGE_PATH}")
        else:
            kwargs.update(type=type(default), choices=option.choices)
            if option.choices is None:
                kwargs.update(metavar={int: "N", float: "F"}.get(type(default), name[0].upper()))
        if name in PRESET_FIELDS:  # None: not given, the preset's value or the default applies
            kwargs.update(default=None, help=f"{text} (default: {default}, or the preset's)")
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
    if path.is_dir():
        raise CliError(f"{what} image {path} is a directory, not an image file (a stack: a multi-page TIFF or a "
                       f".zarr array)")
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
        colour = image.ndim >= 3 and image.shape[-1] in (3, 4)  # RGB(A) samples, as tifffile has stored them
        _tifffile().imwrite(path, image.astype(np.float32, copy=False), photometric="rgb" if colour else "minisblack")
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


def progress_bar(total: int, stream: TextIO) -> tqdm:
    """A bar of ``total`` steps on ``stream``; tqdm handles rate, terminal width and non-TTY output. The ETA
    is the run's own (:mod:`.engine.timing`; tqdm's, steps at a constant rate, misses the scales' costs)."""
    return tqdm(total=total, file=stream, unit="step", dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]")


def show_progress(bar: tqdm, p: Progress) -> None:
    """Move ``bar`` to step ``p.step``, with the ETA and the losses as its postfix, or what the run does
    between steps."""
    if p.stage:
        bar.set_postfix_str(p.stage)
        return
    losses = " ".join(f"{k} {p.losses[k]:{fmt}}" for k, fmt in LOSS_FORMATS.items() if k in p.losses)
    bar.set_postfix_str(f"ETA {p.eta:.0f} s {losses}", refresh=False)
    bar.update(p.step - bar.n)


def params_from(args: argparse.Namespace) -> StyleParams:
    """StyleParams from the parsed options; ValueError (from StyleParams) names a bad value."""
    values = {name: getattr(args, name) for name in OPTIONS if name not in NOT_OPTIONS}
    preset = PRESETS.get(args.preset, {})
    values |= {name: preset.get(name, getattr(StyleParams, name)) for name in PRESET_FIELDS if values[name] is None}
    if values["init"] not in INIT_CHOICES:
        values["init"] = "image"
    if args.save_every:
        values["preview_every"] = args.save_every
    return StyleParams(**values)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 done, 1 saved elsewhere, 2 bad input, 130 interrupted).
    Warnings (e.g. how integer data was mapped) are printed as one line each."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            args = build_parser().parse_args(argv)
            return _run(args)
        except CliError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return exc.status
        except SystemExit as exc:  # --help, --version
            return int(exc.code or 0)
        except KeyboardInterrupt:  # before the run started (reading, importing torch): nothing to save
            print("interrupted: nothing saved", file=sys.stderr)
            return 130


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file=None,
                  line=None) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    out: Path = args.output
    if out.suffix.lower() not in WRITABLE:
        raise CliError(f"output {out} must end in one of {', '.join(WRITABLE)}")
    if not out.parent.is_dir():
        raise CliError(f"output folder {out.parent} does not exist")
    _check_writable(out)
    if args.save_every < 0:
        raise CliError(f"--save-every must be 0 or more, got {args.save_every}")
    try:
        params = params_from(args)
    except ValueError as exc:
        raise CliError(_one_line(exc)) from None
    if (args.store or args.segment) and not args.scheduler:
        raise CliError("--store and --segment need --scheduler")
    _check_paths(args, out)
    content = read_image(args.content, "content")
    if layout(content.shape)[0] and out.suffix.lower() not in TIFF:
        raise CliError(f"content {args.content} is a stack of shape {content.shape}: write the result to "
                       f".tif or .tiff, not {out.suffix}")
    labels = read_image(args.labels, "labels") if args.labels else None
    styles = [read_image(path, "style") for path in args.style]
    init = _read_init(args.init) if params.init == "image" else None
    extra = {} if labels is None else {"labels": labels}
    if args.slices:
        extra["slices"] = tuple(args.slices)
    if not args.scheduler:
        return _stylize(args, content, styles, params, init_image=init, **extra)
    client = _client(args.scheduler)
    try:
        return _stylize(args, content, styles, params, init_image=init, client=client, segment=args.segment,
                        store=None if args.store is None else str(args.store), **extra)
    finally:
        client.close()


def _stylize(args: argparse.Namespace, content: np.ndarray, styles: list[np.ndarray], params: StyleParams,
             **inputs: object) -> int:
    """The run with its progress bar; saves the result, or on Ctrl-C the current image (exit 130)."""
    from .engine.transfer import stylize_steps

    out: Path = args.output
    bar, start, p, last = None, time.perf_counter(), None, None
    try:
        try:
            for p in stylize_steps(content, styles, params, stages=True, **inputs):
                if not args.quiet and (bar is not None or p.stage != LOADING):  # a bad network: no bar above
                    bar = bar if bar is not None else progress_bar(p.total, sys.stderr)
                    show_progress(bar, p)
                if p.result is not None:
                    last = p
                if p.image is not None and args.save_every and p.step % args.save_every == 0 and not p.done:
                    _save(out.with_name(f"{out.stem}_step{p.step:04d}.png"), p.image)
        finally:  # the bar's line ends before anything else is written
            if bar is not None:
                bar.close()
    except ValueError as exc:
        raise CliError(_one_line(exc)) from None
    except KeyboardInterrupt:
        if p is not None and p.step and not p.index and p.current is not None:  # one image: as it is now
            _save_result(out, p.current())
            _report(args, f"interrupted: the image of step {p.step} saved to {out}")
        elif last is not None:  # a stack: its finished slices
            _save_result(out, last.result)
            _report(args, f"interrupted: the slices finished by step {last.step} saved to {out}")
        else:
            _report(args, "interrupted: nothing saved")
        return 130
    _save_result(out, last.result)
    _report(args, f"done: {last.total} steps in {duration(time.perf_counter() - start)}, saved to {out}")
    return 0


def _report(args: argparse.Namespace, line: str) -> None:
    """The run's last line on stderr, below the progress bar (none with --quiet)."""
    if not args.quiet:
        print(line, file=sys.stderr)


def _check_paths(args: argparse.Namespace, out: Path) -> None:
    """CliError when the output is one of the inputs (it would be overwritten), also through a link or
    another spelling of the path; or when the content is given as the style too (as the widget refuses)."""
    inputs = [("content", args.content), *(("style", p) for p in args.style), ("labels", args.labels)]
    if args.init not in INIT_CHOICES:
        inputs.append(("init", Path(args.init)))
    for what, path in inputs:
        if path is not None and _same_file(out, path):
            raise CliError(f"output {out} is the {what} image {path}: it would be overwritten; choose another "
                           f"output path")
    for path in args.style:
        if _same_file(args.content, path):
            raise CliError(f"style {path} is the content image itself: its style is its own, so the result "
                           f"would barely change; choose another style image")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (links and relative spellings included)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _read_init(value: str) -> np.ndarray:
    if not Path(value).is_file():
        raise CliError(f"--init {value}: use {', '.join(INIT_CHOICES)} or the path of an existing image")
    return read_image(Path(value), "init")


def _check_writable(path: Path) -> None:
    """CliError now, before the run, unless a file can be written at ``path``."""
    try:
        if path.exists():
            with open(path, "ab"):  # opened, not changed
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix):
                pass
    except OSError as exc:
        raise CliError(f"output {path} is not writable: {_one_line(exc)}") from None


def _save_result(path: Path, image: object) -> None:
    """Write the result (numpy, or a store's zarr array: read here) to ``path``; if that fails, to the
    temporary folder, and say where (SavedElsewhere)."""
    image = np.asarray(image)
    try:
        write_image(path, image)
    except (OSError, ValueError) as exc:
        reason = f"could not write {path}: {_one_line(exc)}"
        fallback = Path(tempfile.gettempdir()) / f"{PROG}-{path.name}"
        try:
            write_image(fallback, image)
        except (OSError, ValueError):
            raise CliError(f"{reason}; nor {fallback}") from None
        raise SavedElsewhere(f"{reason}; the result is saved to {fallback} instead") from None


def _client(address: str):
    from .engine.cluster import connect

    try:
        return connect(address)
    except ValueError as exc:
        raise CliError(f"--scheduler: {exc}") from None


def _save(path: Path, image: object) -> None:
    """Write the result (numpy, or the zarr array of a store: read here)."""
    try:
        write_image(path, np.asarray(image))
    except (OSError, ValueError) as exc:
        raise CliError(f"could not write {path}: {_one_line(exc)}") from None
