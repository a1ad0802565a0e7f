"""MAGNet-style audio model: STFT magnitude frames -> SpectralLSTM -> new frames -> Griffin-Lim audio.

``train_audio_model(clips, model_dir, ...)`` trains; ``load_audio_model(model_dir).generate(seed_clip, ...)``
makes audio as arrays (``tunesmith.generate_audio`` writes them to a folder). Names load on first use, so
that importing one module of this package (the NumPy frame step) does not import torch.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "AudioModel": "tunesmith.audio_model.generate",
    "load_audio_model": "tunesmith.audio_model.generate",
    "MAGNET_ALIASES": "tunesmith.audio_model.model",
    "AudioConfig": "tunesmith.audio_model.model",
    "SpectralLSTM": "tunesmith.audio_model.model",
    "audio_config_from_file": "tunesmith.audio_model.model",
    "griffin_lim": "tunesmith.audio_model.spectra",
    "magnitudes": "tunesmith.audio_model.spectra",
    "train_audio_model": "tunesmith.audio_model.train",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tunesmith.audio_model' has no attribute {name!r}")
