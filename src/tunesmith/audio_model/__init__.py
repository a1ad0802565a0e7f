"""MAGNet-style audio model: STFT magnitude frames -> SpectralLSTM -> new frames -> Griffin-Lim audio.

``train_audio_model(clips, model_dir, ...)`` trains; ``load_audio_model(model_dir).generate(seed_clip, ...)``
and ``generate_audio(model_dir, seed_clip, out_dir, ...)`` make audio.
"""

from tunesmith.audio_model.generate import AudioModel, generate_audio, load_audio_model
from tunesmith.audio_model.model import MAGNET_ALIASES, AudioConfig, SpectralLSTM, audio_config_from_file
from tunesmith.audio_model.spectra import griffin_lim, load_audio, magnitudes
from tunesmith.audio_model.train import train_audio_model

__all__ = [
    "MAGNET_ALIASES",
    "AudioConfig",
    "AudioModel",
    "SpectralLSTM",
    "audio_config_from_file",
    "generate_audio",
    "griffin_lim",
    "load_audio",
    "load_audio_model",
    "magnitudes",
    "train_audio_model",
]
