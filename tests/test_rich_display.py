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
