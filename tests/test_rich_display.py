"""Rich notebook display: HTML with an audio player that decodes to sound, and the piano roll's notes."""

import base64
import io
import re

import numpy as np
import soundfile as sf

from tunesmith.music.melody import Melody


def test_melody_repr_html_has_playable_audio_and_roll():
    melody = Melody.from_events([60, -2, -2, -2, 64, -2, -2, -2, 67, -2, -2, -2, -1])
    page = melody._repr_html_()
    assert "<audio" in page and "Melody:" in page
    match = re.search(r'src="data:audio/wav;base64,([A-Za-z0-9+/=]+)"', page)
    assert match
    samples, sr = sf.read(io.BytesIO(base64.b64decode(match.group(1))))
    assert sr > 8000 and np.abs(samples).max() > 0.05
    assert "G4" in page and 'src="http' not in page
