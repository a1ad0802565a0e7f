#!/bin/bash
# Magenta 2.1.4 on Python 3.11 in its own venv (outside the repo; never tunesmith's). `pip install magenta` itself
# fails (it pins numpy 1.21.6, which has no Python 3.11 build), so its dependencies are chosen by hand.
set -ex
VENV=${VENV:-/work/magenta-venv}
python3 -m venv $VENV
$VENV/bin/pip install --upgrade pip
$VENV/bin/pip install "tensorflow-cpu==2.15.1" note-seq==0.0.5 tf-slim==1.1.0 "tensorflow-probability==0.23.0"
$VENV/bin/pip install --no-deps magenta==2.1.4
VENV=$VENV "$(dirname "$0")"/patch_tf_slim.sh
