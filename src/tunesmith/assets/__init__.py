"""Files shipped inside the package: the pretrained default models and example data."""

from __future__ import annotations

import os
from pathlib import Path

from tunesmith.core.errors import ModelError

ASSETS = Path(__file__).parent
MODELS = ASSETS / "models"
EXAMPLES = ASSETS / "examples"
BUNDLED = {
    "default": MODELS / "melody-default",  # the melody model; resolve_model_dir(kind="audio") maps it to audio-default
    "melody-default": MODELS / "melody-default",
    "audio-default": MODELS / "audio-default",
    "polyphonic-default": MODELS / "polyphonic-default",  # scripts/train_polyphonic_default.py (Bach chorales)
}


def resolve_model_dir(model: str | os.PathLike, kind: str = "melody") -> Path:
    """``'default'`` -> the shipped model of ``kind`` ('melody' or 'audio'); another bundled name -> its shipped
    folder; anything else is a path."""
    if model == "default" and kind != "melody":
        model = f"{kind}-default"
    if isinstance(model, str) and model in BUNDLED:
        path = BUNDLED[model]
        if not (path / "config.json").is_file():
            raise ModelError(f"the bundled model '{model}' is missing from this install ({path}); reinstall tunesmith")
        return path
    path = Path(model)
    if not path.is_dir():
        raise ModelError(f"{path}: no such model directory; train one (tunesmith melody train) or use --model default")
    return path


def example_midis() -> list[Path]:
    return sorted((EXAMPLES / "midi").glob("*.mid"))


def example_clip() -> Path:
    return EXAMPLES / "audio" / "example.wav"
