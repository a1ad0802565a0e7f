"""tunesmith: train small neural music models on your own material, then hear and see what comes out.

The public API is importable from here; heavy parts load on first use::

    import tunesmith
    model = tunesmith.load_melody_model("default")
    out = model.generate("C#4", n=4)
"""

from __future__ import annotations

import importlib
import os
import sys

if sys.version_info < (3, 10):  # noqa: UP036 - pip refuses such a Python; a source checkout on PYTHONPATH gets this instead
    raise ImportError(f"tunesmith needs Python 3.10 or newer, not {sys.version.split()[0]}: make a venv with a newer Python")

# Idle OpenMP threads sleep instead of spinning (read when torch loads libgomp). With spinning threads, a
# small model trained on a busy machine (other jobs, or two trainings at once) ran 10-50x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from tunesmith.core.errors import TunesmithError

__version__ = "0.1.0"

# loaded on first use, so that `import tunesmith` (and the command line's start-up) costs no NumPy import
_LAZY = {
    "Melody": "tunesmith.music.melody",
    "NO_EVENT": "tunesmith.music.melody",
    "NOTE_OFF": "tunesmith.music.melody",
    "load_melody_model": "tunesmith.melody.generate",
    "generate_to_dir": "tunesmith.outputs.compose",
    "MelodyModel": "tunesmith.melody.generate",
    "train_melody_model": "tunesmith.melody.train",
    "generate_polyphonic": "tunesmith.melody.polyphonic",
    "MelodyConfig": "tunesmith.melody.model",
    "prepare_corpus": "tunesmith.data.corpus",
    "parse_primer": "tunesmith.music.primer",
    "read_primer": "tunesmith.audio.transcribe",
    "read_score": "tunesmith.music.midi",
    "write_midi": "tunesmith.music.midi",
    "melody_from_score": "tunesmith.music.midi",
    "render_to_file": "tunesmith.audio.render",
    "render_many": "tunesmith.audio.render",
    "plot_piano_roll": "tunesmith.outputs.plots",
    "save_spectrogram": "tunesmith.outputs.plots",
    "save_loss_curve": "tunesmith.core.figures",
    "make_video": "tunesmith.outputs.video",
    "train_audio_model": "tunesmith.audio_model.train",
    "load_audio_model": "tunesmith.audio_model.generate",
    "generate_audio": "tunesmith.outputs.audio_generation",
    "run_pipeline": "tunesmith.pipeline",
    "evaluate_model": "tunesmith.evaluate",
    "compare_models": "tunesmith.evaluate",
    "run_demo": "tunesmith.demo",
    "save_score": "tunesmith.outputs.score",
    "score_svg": "tunesmith.outputs.score",
    "export_melody": "tunesmith.music.export",
    "to_abc": "tunesmith.music.export",
    "to_musicxml": "tunesmith.music.export",
    "harmonize": "tunesmith.music.harmony",
    "harmonize_file": "tunesmith.music.harmony",
}

__all__ = ["TunesmithError", "__version__", *_LAZY]

if "IPython" in sys.modules:  # in a notebook, melodies and models show as players and tables (outputs/notebook.py)
    from tunesmith.outputs.notebook import register_formatters

    register_formatters()


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tunesmith' has no attribute {name!r}")
