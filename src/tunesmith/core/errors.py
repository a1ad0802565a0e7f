"""The TunesmithError family: every message names the file or value at fault and the fix."""

from __future__ import annotations


class TunesmithError(Exception):
    """Base class: the CLI prints these without a traceback and exits non-zero."""


class BadInputError(TunesmithError):
    """A file or value given by the user cannot be used (corrupt MIDI, unknown note name...)."""


class CorpusError(TunesmithError):
    """A corpus yields nothing usable; the message says why for every file."""


class ModelError(TunesmithError):
    """A model directory is missing, damaged, or disagrees with its config."""


class TrainingError(TunesmithError):
    """Training cannot start or continue (too little data, bad settings)."""


class RenderError(TunesmithError):
    """Synthesis failed: missing SoundFont, unknown instrument, empty score."""


class OutputError(TunesmithError):
    """An output path cannot be used: a file where a folder is needed, read-only, another run's folder, in use."""


class DiskFullError(TunesmithError):
    """The disk filled up while writing; the previous output is kept whole."""


class Cancelled(TunesmithError):
    """The user stopped a long call (generation, the pipeline) through its ``stop_event``; nothing was kept."""


class Interrupted(TunesmithError):
    """Ctrl-C (SIGINT) stopped a long call; the message says what was kept. The CLI exits with 130, as a shell
    expects of a command stopped by Ctrl-C."""


class NoPitchedContentError(BadInputError):
    """An audio clip has no pitched notes (silence, noise, drums): no primer can be built from it."""


class UnreadableAudioError(BadInputError):
    """A file is not audio that can be decoded (a caller may know what else it could have been)."""
