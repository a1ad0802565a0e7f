#!/usr/bin/env bash
# Sets up tunesmith from scratch: system parts from Debian, then the Python package in .venv.
#   libfluidsynth3      FluidSynth, the synthesizer that plays SoundFont instruments
#   fluid-soundfont-gm  FluidR3_GM.sf2, a General MIDI SoundFont (MIT licence): piano, guitar, music box, ...
#   libcairo2           Cairo, which cairosvg uses to turn engraved SVG scores into PNG/PDF
#   chromium(-driver)   a real browser for the web page's tests
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends libfluidsynth3 fluid-soundfont-gm libcairo2 chromium chromium-driver
python3 -m venv .venv
# torch is pinned below 2.14 in pyproject.toml, which keeps pip on the CPU wheel (no 3 GB of CUDA packages)
.venv/bin/pip install --quiet -e ".[all]"
echo "tunesmith is installed. Try: .venv/bin/tunesmith demo"
