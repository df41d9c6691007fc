"""The command line: a real run, --help, one-line errors for bad input, 16-bit TIFF, Ctrl-C."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_neural_style import cli
from napari_neural_style.engine import transfer
from napari_neural_style.engine.params import PRESETS, StyleParams
from napari_neural_style.engine.progress import Progress

PREFIX = "napari-neural-style: error: "


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    """A smooth 48×64 content (so resizing barely changes it), a noisy style, a text file, random 'weights'."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    content = np.stack([xx * 4, yy * 5, np.full_like(xx, 128)], axis=-1).astype(np.uint8)
    paths = {name: tmp_path / name for name in ("content.png", "style.png", "notes.png", "weights.pt")}
    Image.fromarray(content).save(paths["content.png"])
    Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(paths["style.png"])
    paths["notes.png"].write_text("this is not an image\n")
    paths["weights.pt"].write_bytes(rng.bytes(4096))
    return paths


def _cli(*args: object) -> tuple[int, str, str]:
    """Run ``python -m napari_neural_style``: exit status, stdout, stderr (carriage returns kept)."""
    run = subprocess.run([sys.executable, "-m", "napari_neural_style", *map(str, args)], capture_output=True,
                         timeout=300)
    return run.returncode, run.stdout.decode(), run.stderr.decode()


def test_end_to_end(images, tmp_path):
    out = tmp_path / "out.png"
    code, _, err = _cli(images["content.png"], images["style.png"], "-o", out, "--size", 48, "--steps", 4,
                        "--optimizer", "adam", "--save-every", 2)  # Adam moves far in 4 steps, L-BFGS not yet
    assert code == 0, err
    assert "Traceback" not in err and err.count("\n") == 2  # the bar's last state, then the summary
    bar, summary = err.rstrip("\n").split("\n")
    assert re.search(r"100%\|.*\| 4/4 \[.*, ETA \d+ s style \S+ content \S+\] *$", bar), bar  # tqdm pads
    assert summary.startswith("done: 4 steps in") and summary.endswith(f"saved to {out}")
    with Image.open(out) as im:
        assert (im.size, im.mode) == ((48, 36), "RGB")
        result = np.asarray(im, dtype=float)
    with Image.open(images["content.png"]) as im:
        content = np.asarray(im.resize((48, 36), Image.BILINEAR), dtype=float)
    assert np.abs(result - content).mean() > 8.0  # resizing alone differs by about 1
    assert (tmp_path / "out_step0002.png").is_file() and not (tmp_path / "out_step0004.png").exists()


def test_help_shows_styleparams_defaults():
    code, out, err = _cli("--help")
    assert code == 0 and err == ""
    defaults = StyleParams()
    for text in ("usage: napari-neural-style", "CONTENT STYLE [STYLE ...]", "--preserve-color", "--preset",
                 f"(default: {defaults.steps}, or the preset's)", f"(default: {defaults.style_weight})",
                 "{lbfgs,adam}"):
        assert text in " ".join(out.split())  # as one line: argparse wraps to the terminal


BAD_INPUT = [  # (arguments, with {placeholders} for the fixture's paths; fragment of the error line)
    ("{content} {tmp}/nosuch.png -o {out}", "style image {tmp}/nosuch.png does not exist"),
    ("{notes} {style} -o {out}", "content image {notes} could not be read"),
    ("{content} {style} -o {out} --steps 0", "steps must be between 1"),
    ("{content} {style} -o {out} --steps many", "argument --steps: invalid int value: 'many'"),
    ("{content} {style} -o {out} --weights nosuch", "unknown weight source 'nosuch'"),
    ("{content} {style} -o {out} --optimizer sgd", "argument --optimizer: invalid choice: 'sgd'"),
    ("{content} {style} -o {out} --size 32 --weights {weights}", "could not be read as a PyTorch state dict"),
    ("{content} {style}", "the following arguments are required: -o/--output"),
    ("{content} {style} -o {tmp}/out.bmp", "must end in one of .png"),
    ("{content} {style} -o {tmp}/no/out.png", "output folder {tmp}/no does not exist"),
    ("{content} {style} -o /proc/out.png", "output /proc/out.png is not writable"),
    ("{content} {style} -o {out} --init nois", "use tones, palette, content, noise or the path of an existing image"),
    ("{content} {style} -o {out} --style-blend 1 2", "style_blend has 2 weights for 1 style images"),
    ("{content} {style} -o {out} --size 16", "raise size"),
    ("{content} {style} -o {content}", "output {content} is the content image {content}: it would be overwritten"),
    ("{content} {style} {notes} -o {style}", "output {style} is the style image {style}"),
    ("{content} {style} -o {weights}.png --labels {weights}.png", "output {weights}.png is the labels image"),
    ("{content} {style} -o {content}.tif --init {content}.tif", "output {content}.tif is the init image"),
    ("{content} {content} -o {out}", "style {content} is the content image itself"),
    ("{tmp} {style} -o {out}", "content image {tmp} is a directory, not an image file"),
    ("{content} {style} -o {out} --threads -1", "threads must be between 0 and 1024"),
]


@pytest.mark.parametrize("template, fragment", BAD_INPUT)
def test_bad_input_one_line_exit_2(template, fragment, images, tmp_path, capsys):
    paths = {"content": images["content.png"], "style": images["style.png"], "notes": images["notes.png"],
             "weights": images["weights.pt"], "out": tmp_path / "out.png", "tmp": tmp_path}
    for name in ("weights.pt.png", "content.png.tif"):  # inputs named as outputs can be
        shutil.copy(images["content.png"], tmp_path / name)
    before = {path: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    assert cli.main(template.format(**paths).split()) == 2
    err = capsys.readouterr().err
    assert err.startswith(PREFIX) and err.count("\n") == 1 and err.endswith("\n"), err
    assert fragment.format(**paths) in err and "Traceback" not in err
    assert not (tmp_path / "out.png").exists()
    assert before == {path: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}


def test_output_through_a_link_or_relative_path_is_still_the_input(images, tmp_path, capsys, monkeypatch):
    link = tmp_path / "sub" / "link.png"
    link.parent.mkdir()
    link.symlink_to(images["content.png"])
    before = images["content.png"].read_bytes()
    monkeypatch.chdir(tmp_path / "sub")
    for out in (str(link), "../content.png", "../sub/link.png"):
        assert cli.main([str(images["content.png"]), str(images["style.png"]), "-o", out, "--quiet"]) == 2
        assert f"output {out} is the content image" in capsys.readouterr().err
    assert images["content.png"].read_bytes() == before


def test_ctrl_c_before_the_run_says_so(images, tmp_path, capsys, monkeypatch):
    """Ctrl-C while files are read or torch and the network load: "interrupted" and exit status 130."""
    def interrupted(path, what):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "read_image", interrupted)
    assert cli.main([str(images["content.png"]), str(images["style.png"]), "-o", str(tmp_path / "o.png")]) == 130
    assert capsys.readouterr().err == "interrupted: nothing saved\n"


def test_warnings_are_one_line_each(tmp_path, images, capsys):
    """12-bit data in uint16: how it was mapped, and how to choose another mapping, in one line."""
    import tifffile

    yy, xx = np.mgrid[0:48, 0:64]
    tifffile.imwrite(tmp_path / "in.tif", (xx * 40 + yy * 20).astype(np.uint16))
    out = tmp_path / "out.tif"
    assert cli.main([str(tmp_path / "in.tif"), str(images["style.png"]), "-o", str(out), "--size", "32",
                     "--steps", "1", "--quiet"]) == 0
    assert capsys.readouterr().err == (
        "napari-neural-style: warning: content is uint16 holding values 0–3460, which need 12 of its 16 bits: "
        "mapped 0–4095 to black–white as 12-bit data (not the whole uint16 range, which would lose the picture); "
        "to choose, pass intensity='percentile' or contrast_limits=(low, high) (command line: --intensity "
        "percentile, --contrast-limits LOW HIGH)\n")
    assert cli.main([str(tmp_path / "in.tif"), str(images["style.png"]), "-o", str(out), "--size", "32",
                     "--steps", "1", "--quiet", "--contrast-limits", "0", "3460"]) == 0
    assert capsys.readouterr().err == ""


def test_bad_input_in_a_real_process(images, tmp_path):
    code, _, err = _cli(images["notes.png"], images["style.png"], "-o", tmp_path / "out.png")
    assert code == 2
    assert err.startswith(PREFIX) and err.count("\n") == 1 and "Traceback" not in err, err


def test_read_image_keeps_16_bit(tmp_path):
    import tifffile

    a = np.random.default_rng(1).integers(0, 4096, (24, 32)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", a)
    Image.fromarray(a).save(tmp_path / "a.png")
    for name in ("a.tif", "a.png"):
        read = cli.read_image(tmp_path / name, "content")
        assert read.dtype == np.uint16
        np.testing.assert_array_equal(read, a)


def test_16_bit_tiff_in_float_tiff_out(tmp_path, images, capsys):
    import tifffile

    yy, xx = np.mgrid[0:48, 0:64]
    tifffile.imwrite(tmp_path / "in.tif", (xx * 40 + yy * 20).astype(np.uint16))  # 12-bit data in uint16
    out = tmp_path / "out.tif"
    code = cli.main([str(tmp_path / "in.tif"), str(images["style.png"]), "-o", str(out), "--size", "32",
                     "--steps", "2", "--intensity", "percentile", "--quiet"])
    assert code == 0 and capsys.readouterr().err == ""
    result = tifffile.imread(out)
    assert result.dtype == np.float32 and result.shape == (24, 32, 3)
    assert result.min() >= 0.0 and result.max() <= 1.0 and result.std() > 0.1


def _fake_run(steps: int, previews: int, interrupt: bool = True, remove: Path | None = None):
    """A stylize_steps stand-in: ``steps`` steps whose current image is step / 10, previews on the first
    ``previews`` of them, then Ctrl-C (``interrupt``); ``remove`` deletes that folder on the way."""
    def fake(content, style, params, init_image=None, **_):
        for step in range(1, steps + 1):
            def current(step=step):
                return np.full((36, 48, 3), step / 10, np.float32)

            yield Progress(step, 10 if interrupt else steps, {"style": 1.0, "total": 1.0}, 0.1, 1.0, 0, 1,
                           (36, 48), current() if step <= previews or step == steps and not interrupt else None,
                           current=current)
            if remove is not None:
                shutil.rmtree(remove, ignore_errors=True)
        if interrupt:
            raise KeyboardInterrupt
    return fake


@pytest.mark.parametrize("previews", [0, 2])
def test_ctrl_c_saves_the_current_image(images, tmp_path, capsys, monkeypatch, previews):
    monkeypatch.setattr(transfer, "stylize_steps", _fake_run(3, previews))
    out = tmp_path / "out.png"
    assert cli.main([str(images["content.png"]), str(images["style.png"]), "-o", str(out)]) == 130
    err = capsys.readouterr().err
    assert err.endswith(f"interrupted: the image of step 3 saved to {out}\n") and "Traceback" not in err
    with Image.open(out) as im:
        assert np.asarray(im).mean() == pytest.approx(0.3 * 255, abs=1)  # step 3, not the last preview


def test_unwritable_at_the_end_saves_elsewhere(images, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "gone"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(transfer, "stylize_steps", _fake_run(2, 0, interrupt=False, remove=folder))
    code = cli.main([str(images["content.png"]), str(images["style.png"]), "-o", str(folder / "out.png")])
    err = capsys.readouterr().err
    fallback = tmp_path / "napari-neural-style-out.png"
    line = err.split("\n")[-2]  # below the progress bar
    assert code == 1 and line.startswith(PREFIX + f"could not write {folder / 'out.png'}: ")
    assert line.endswith(f"; the result is saved to {fallback} instead") and "Traceback" not in err
    with Image.open(fallback) as im:
        assert np.asarray(im).mean() == pytest.approx(0.2 * 255, abs=1)


def test_options_reach_stylize_steps(images, tmp_path, monkeypatch):
    seen = {}

    def fake(content, style, params, init_image=None, **_):
        seen.update(content=content, style=style, params=params, init=init_image)
        yield Progress(1, 1, {"style": 1.0, "total": 1.0}, 0.0, 0.0, 0, 1, (36, 48), np.zeros((36, 48, 3), np.float32))

    monkeypatch.setattr(transfer, "stylize_steps", fake)
    c, s = str(images["content.png"]), str(images["style.png"])
    argv = [c, s, s, "-o", str(tmp_path / "o.jpg"), "--init", c, "--style-blend", "1", "3", "--save-every", "5",
            "--tv-weight", "0.5", "--preserve-color", "luminance", "--seed", "7", "--style-loss", "sw", "--quiet"]
    assert cli.main(argv) == 0
    assert seen["params"] == StyleParams(init="image", style_blend=(1.0, 3.0), preview_every=5, tv_weight=0.5,
                                         preserve_color="luminance", seed=7,
                                         style_loss="sw")  # all else: StyleParams' defaults
    with Image.open(c) as im:
        np.testing.assert_array_equal(seen["init"], np.asarray(im))
        np.testing.assert_array_equal(seen["content"], np.asarray(im))
    assert len(seen["style"]) == 2 and (tmp_path / "o.jpg").is_file()


@pytest.mark.parametrize("extra, expected", [
    ([], {}),
    (["--preset", "quick"], PRESETS["quick"]),
    (["--preset", "best", "--steps", "7"], {**PRESETS["best"], "steps": 7}),  # options given win
])
def test_preset_sets_size_steps_and_scales(extra, expected):
    args = cli.build_parser().parse_args(["c.png", "s.png", "-o", "o.png", *extra])
    assert cli.params_from(args) == StyleParams(**expected)


def test_progress_bar_shows_steps_the_runs_eta_and_losses():
    stream = io.StringIO()
    bar = cli.progress_bar(300, stream)
    cli.show_progress(bar, Progress(120, 300, {"style": 1234.0, "content": 3.4, "total": 1237.4}, 12.2, 18.4, 1, 3,
                                    (9, 9)))
    bar.close()
    line = stream.getvalue().split("\r")[-1]
    assert line.startswith(" 40%|") and "120/300" in line and line.endswith("style 1.2e+03 content 3.4]\n"), line
    assert "ETA 18 s" in line and "<" not in line, line  # the run's ETA (the time model's), not tqdm's


def test_write_image_formats(tmp_path):
    rgba = np.random.default_rng(2).random((20, 30, 4)).astype(np.float32)
    cli.write_image(tmp_path / "a.jpg", rgba)
    cli.write_image(tmp_path / "a.png", rgba)
    cli.write_image(tmp_path / "a.tiff", rgba)
    with Image.open(tmp_path / "a.jpg") as im:
        assert (im.mode, im.size) == ("RGB", (30, 20))
    with Image.open(tmp_path / "a.png") as im:
        np.testing.assert_array_equal(np.asarray(im), np.round(rgba * 255).astype(np.uint8))
    np.testing.assert_array_equal(cli.read_image(tmp_path / "a.tiff", "output"), rgba)
