"""tunesmith: train small neural music models on your own material, then hear and see what comes out."""

from tunesmith.errors import TunesmithError
from tunesmith.music.melody import NO_EVENT, NOTE_OFF, Melody

__version__ = "0.1.0"

__all__ = ["Melody", "NOTE_OFF", "NO_EVENT", "TunesmithError", "__version__"]
