"""Rich notebook display: HTML with an audio player that decodes to sound, and the piano roll's notes."""

import base64
import io
import re

import numpy as np
import soundfile as sf

from tunesmith.music.melody import Melody


def test_ipython_shows_a_melody_with_playable_audio_and_roll():
    """The formatter registered from outputs/notebook.py (the Melody type itself knows nothing of notebooks)."""
    from IPython.core.interactiveshell import InteractiveShell

    from tunesmith.outputs.notebook import register_formatters

    shell = InteractiveShell.instance()
    assert register_formatters(shell)
    melody = Melody.from_events([60, -2, -2, -2, 64, -2, -2, -2, 67, -2, -2, -2, -1])
    assert not hasattr(melody, "_repr_html_")
    page = shell.display_formatter.format(melody)[0]["text/html"]
    assert "<audio" in page and "Melody:" in page
    match = re.search(r'src="data:audio/wav;base64,([A-Za-z0-9+/=]+)"', page)
    assert match
    samples, sr = sf.read(io.BytesIO(base64.b64decode(match.group(1))))
    assert sr > 8000 and np.abs(samples).max() > 0.05
    assert "G4" in page and 'src="http' not in page


def test_ipython_shows_a_polyphonic_piece_with_audio_roll_and_score():
    """The notebook path of a polyphonic model: ``tunesmith.generate_polyphonic`` returns pieces that show as a player
    (both parts), a piano roll coloured by part and a score with a staff per part, all inlined."""
    import pytest
    from IPython.core.interactiveshell import InteractiveShell

    import tunesmith
    from tunesmith.core.errors import ModelError
    from tunesmith.outputs.notebook import register_formatters

    shell = InteractiveShell.instance()
    assert register_formatters(shell)
    pieces = tunesmith.generate_polyphonic("polyphonic-default", "C4 E4 G4 | F4 A4 C5", 2, bars=4, seed=1)
    assert len(pieces) == 2 and all(np.bincount(p.part, minlength=2).min() > 0 for p in pieces)
    page = shell.display_formatter.format(pieces[0])[0]["text/html"]
    assert pieces[0].summary() in page and "melody" in page and "accompaniment" in page and "4 bars of 4/4" in page
    audio = re.search(r'src="data:audio/wav;base64,([A-Za-z0-9+/=]+)"', page)
    samples, sr = sf.read(io.BytesIO(base64.b64decode(audio.group(1))))
    assert sr > 8000 and np.abs(samples).max() > 0.05 and len(samples) > 4 * sr  # 4 bars at 120 qpm: 8 s
    roll = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert base64.b64decode(roll.group(1))[:4] == b"\x89PNG"
    assert "tunesmith-notation" in page and "<svg" in page and 'src="http' not in page
    with pytest.raises(ModelError, match="generate_polyphonic"):  # the melody path says where a polyphonic model goes
        tunesmith.load_melody_model("polyphonic-default")
