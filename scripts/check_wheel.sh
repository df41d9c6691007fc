#!/usr/bin/env bash
# Build the sdist and the wheel (from the sdist, as `python -m build` does), install the wheel into a fresh virtual
# environment (its declared dependencies resolved by pip, nothing from this checkout or .venv) and run it there:
# `npe2 validate` (the manifest and every module it names import) and the CLI on a tiny image.
# The fresh environment gets a CPU-only torch first, as the README's CPU-only instructions do: WHEEL_TORCH (default
# torch==2.13.0, whose CPU build these machines hold; elsewhere pip takes PyPI's build of that release). WHEEL_TORCH=""
# installs the plain default (PyPI's CUDA build on Linux, about 5.5 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WHEEL_TORCH=${WHEEL_TORCH-torch==2.13.0}
[ -x .venv/bin/python ] || bash scripts/setup.sh  # `build` comes with the testing extra

rm -rf dist
.venv/bin/python -m build --outdir dist . >/dev/null
wheel=$(ls dist/napari_neural_style-*.whl)
ls dist/napari_neural_style-*.tar.gz >/dev/null
echo "built $(cd dist && ls | tr '\n' ' ')"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$PYTHON" -m venv "$scratch/env"
pip() {  # quiet, less the notes about local index folders that hold no copy of a package
    "$scratch/env/bin/python" -m pip install -q "$@" 2> >(grep -v "^WARNING: Location 'file:" >&2)
}
pip --upgrade pip
[ -z "$WHEEL_TORCH" ] || pip "$WHEEL_TORCH"
pip "$wheel" "napari[pyqt6]" npe2
echo "fresh environment: $(du -sh "$scratch/env" | cut -f1), torch $("$scratch/env/bin/python" -c 'import torch; print(torch.__version__)')"

cd "$scratch"  # away from the checkout: only the installed wheel can be imported
where=$("$scratch/env/bin/python" -c "import napari_neural_style as m; print(m.__file__)")
[[ $where == "$scratch/env/"* ]] || { echo "imported from $where, not the fresh environment" >&2; exit 1; }
QT_QPA_PLATFORM=offscreen "$scratch/env/bin/npe2" validate napari-neural-style --imports
"$scratch/env/bin/python" -c "import numpy as np; from PIL import Image
rng = np.random.default_rng(0)
Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save('content.png')
Image.fromarray((rng.random((20, 20, 3)) * 255).astype(np.uint8)).save('style.png')"
"$scratch/env/bin/napari-neural-style" content.png style.png -o out.png --size 32 --steps 3 --device cpu --quiet
"$scratch/env/bin/python" -c "from PIL import Image; im = Image.open('out.png'); assert im.size == (32, 24), im.size
print('CLI from the wheel wrote out.png', im.size, im.mode)"
