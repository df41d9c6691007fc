#!/usr/bin/env bash
# Fresh machine -> installed plugin and a stylised sample (scikit-image's astronaut in the style of
# the Hubble deep field) at out/astronaut_hubble.png, on the embedded Caffe VGG19 weights (no network).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/python -c "from skimage import data, io
io.imsave('out/astronaut.png', data.astronaut())
io.imsave('out/hubble_deep_field.png', data.hubble_deep_field())"
.venv/bin/napari-neural-style out/astronaut.png out/hubble_deep_field.png -o out/astronaut_hubble.png \
    --size 384 "$@"
echo "wrote out/astronaut_hubble.png"
