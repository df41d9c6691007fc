#!/usr/bin/env bash
# Fresh machine -> all tests: system libraries for a virtual display (apt, as root), .venv, pytest under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES="xvfb xauth libgl1 libegl1 libopengl0 libdbus-1-3 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
    libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xinerama0
    libxcb-xinput0 libfontconfig1"
if command -v apt-get >/dev/null && ! dpkg -s $APT_PACKAGES >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $APT_PACKAGES >/dev/null
fi
bash scripts/setup.sh
xvfb-run -a -s "-screen 0 1280x1024x24" .venv/bin/python -m pytest -q "$@"
