"""The npe2 manifest: valid, importable, and cheap (no torch) to read and to import the widget module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import npe2

PLUGIN = "napari-neural-style"


def test_npe2_validate_with_imports():
    npe2_cli = Path(sys.executable).with_name("npe2")
    result = subprocess.run([str(npe2_cli), "validate", PLUGIN, "--imports"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_contributions():
    manifest = npe2.PluginManifest.from_distribution(PLUGIN)
    contributions = manifest.contributions
    assert [w.display_name for w in contributions.widgets] == ["Neural style transfer"]
    widget_command = contributions.widgets[0].command
    assert [item.command for item in contributions.menus["napari/layers/filter"]] == [widget_command]
    assert {s.key for s in contributions.sample_data} >= {"astronaut_hubble", "astronaut", "hubble", "ihc"}


def test_reading_manifest_and_importing_widget_skip_torch():
    code = ("import sys, npe2; npe2.PluginManifest.from_distribution('napari-neural-style'); "
            "import napari_neural_style.widget, napari_neural_style.sample_data; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
