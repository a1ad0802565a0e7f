"""The SoundFont, loaded once per process: found, loaded into FluidSynth, and lent to each render's synth.

Kept apart from ``render`` (and free of NumPy) so a command can start loading the font first thing, while
the rest of the program is still being imported: the load then costs a render no wall time.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from tunesmith.core.errors import RenderError, TunesmithError

SOUNDFONT_ENV = "TUNESMITH_SOUNDFONT"
SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/local/share/soundfonts/default.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
    "C:/soundfonts/default.sf2",
)


def find_soundfont(soundfont: str | os.PathLike | None = None) -> Path:
    """The SoundFont to use: the argument, else $TUNESMITH_SOUNDFONT, else a standard system path."""
    if soundfont is not None:
        path = Path(soundfont).expanduser()
        if not path.is_file():
            raise RenderError(f"SoundFont {path} not found; give the path of an .sf2/.sf3 file")
        if path.suffix.lower() not in (".sf2", ".sf3"):
            raise RenderError(f"{path} is not a SoundFont (.sf2/.sf3)")
        return path
    env = os.environ.get(SOUNDFONT_ENV)
    if env:
        return find_soundfont(env)
    for candidate in SOUNDFONT_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise RenderError(
        "no General MIDI SoundFont found; install one (Debian/Ubuntu: apt install fluid-soundfont-gm, "
        f"macOS: brew install fluid-synth and a .sf2) or set {SOUNDFONT_ENV}=/path/to/font.sf2"
    )


# --- the cached SoundFont ---------------------------------------------------------------
@dataclass
class LoadedFont:
    """A SoundFont loaded once (into a holder synth) and lent to a fresh synth for each render.

    A fresh synth per render (~2 ms) makes renders identical for identical input: a reused synth
    carries reverb delay-line state and LFO phases from one render into the next.
    """

    module: object  # the fluidsynth module
    holder: object  # the synth that owns the loaded font
    sfont: int  # fluid_sfont_t* shared by every render synth
    lock: threading.Lock

    @contextlib.contextmanager
    def synth(self, sample_rate: int):
        synth = self.module.Synth(gain=0.2, samplerate=float(sample_rate), channels=MIDI_CHANNELS, **SYNTH_SETTINGS)
        lib = self.module._fl
        # Adding a font selects a preset on every channel (the piano, the standard kit), which reads its samples:
        # 20-50 ms at the start of every part, for instruments it may never play. Channels start unset instead;
        # a render selects what it plays.
        for channel in range(MIDI_CHANNELS):
            lib.fluid_synth_unset_program(synth.synth, channel)
        sfid = lib.fluid_synth_add_sfont(synth.synth, self.sfont)
        try:
            if sfid < 0:
                raise RenderError("FluidSynth could not attach the SoundFont to a new synth")
            yield synth, sfid
        finally:
            # stop every voice (releasing its samples), not system_reset: that selects the piano on every channel again
            lib.fluid_synth_all_sounds_off(synth.synth, -1)
            if sfid >= 0:  # detach first: deleting a synth frees the fonts it holds
                lib.fluid_synth_remove_sfont(synth.synth, self.sfont)
            synth.delete()


# chorus off: it costs ~20% of render time and smears a solo line; reverb stays (a room, not a dry booth).
# FluidSynth's own multi-threaded rendering (synth.cpu-cores=2) halves the wall time but is not
# deterministic: 1 render in 6 of the same 3-track file differed (peak 0.15 of full scale), so it stays off;
# a long piece is instead split into parts rendered by separate synths in parallel (see ``render._parts``).
# Samples are read when a preset is first chosen (dynamic loading), not all 148 MB at start-up: loading the
# font drops from ~0.26 s to ~0.04 s, and a render's memory to the instruments it plays.
SYNTH_SETTINGS = {"synth.chorus.active": 0, "synth.dynamic-sample-loading": 1}
MIDI_CHANNELS = 256  # a render spreads tracks over up to 16 ports of 16 channels
MAX_COPIES = 4  # each part rendered at once holds its own copy of the font in memory
_FONTS: dict[tuple[str, int], LoadedFont] = {}
_FONT_LOCKS: dict[tuple[str, int], threading.Lock] = {}
_FONTS_LOCK = threading.Lock()


def load_font(soundfont: Path, slot: int = 0) -> LoadedFont:
    """Each SoundFont file is loaded once per process and slot, whatever the sample rate (~30 ms for the 148 MB
    FluidR3: its headers; each preset's samples are read when a render first plays it).

    Parts rendered at the same time each use their own slot, a copy of the font: FluidSynth does not promise
    that synths running at once may share one (its per-sample voice counts are plain integers).
    """
    key, lock = _font_key(soundfont, slot)
    with lock:  # one loader per key; other slots load at the same time
        cached = _FONTS.get(key)
        if cached is not None:
            return cached
        try:
            fluidsynth = import_fluidsynth()
        except ImportError as exc:  # the C library is missing
            raise RenderError(
                f"FluidSynth is not available ({exc}); install it (Debian/Ubuntu: apt install libfluidsynth3, "
                "macOS: brew install fluid-synth) and pip install pyfluidsynth"
            ) from exc
        holder = fluidsynth.Synth(gain=0.2, **SYNTH_SETTINGS)
        sfid = holder.sfload(str(soundfont))
        sfont = fluidsynth._fl.fluid_synth_get_sfont_by_id(holder.synth, sfid) if sfid >= 0 else None
        if not sfont:
            holder.delete()
            raise RenderError(f"FluidSynth could not load the SoundFont {soundfont}; is it a valid .sf2/.sf3?")
        cached = LoadedFont(fluidsynth, holder, sfont, threading.Lock())
        _FONTS[key] = cached
        return cached


def _font_key(soundfont: Path, slot: int) -> tuple[tuple[str, int], threading.Lock]:
    """The cache key of one copy of a font, and the lock its loader holds."""
    key = (str(soundfont.resolve()), slot)
    with _FONTS_LOCK:
        return key, _FONT_LOCKS.setdefault(key, threading.Lock())


def font_copies() -> int:
    """Copies of the font a long piece renders with: one per part played at once, a part per CPU allowed."""
    from tunesmith.core.device import thread_limit

    return max(1, min(MAX_COPIES, thread_limit()))


def preload_soundfont(soundfont: str | os.PathLike | None = None, copies: int = 1) -> None:
    """Start loading the SoundFont (``copies`` of it, each in its own thread) in the background.

    FluidSynth's loader runs without the GIL, so a command's remaining imports and MIDI parsing overlap
    it; a render waits for the copy it needs through that copy's lock. A font that cannot be found or
    loaded is left for the render to report.
    """
    try:
        path = find_soundfont(soundfont)
    except TunesmithError:
        return

    def load(slot: int) -> None:
        with contextlib.suppress(TunesmithError):
            load_font(path, slot)

    for slot in range(copies):
        key, lock = _font_key(path, slot)
        if key in _FONTS or lock.locked():  # loaded, or loading: a second preload (render_files after the CLI's) adds nothing
            continue
        threading.Thread(target=load, args=(slot,), name=f"soundfont-preload-{slot}", daemon=True).start()


def _declare(lib) -> None:
    """ctypes prototypes for the calls pyfluidsynth does not wrap (pointers must not be truncated to int)."""
    p, i = ctypes.c_void_p, ctypes.c_int
    for name, restype, argtypes in (
        ("fluid_synth_write_float", i, [p, i, p, i, i, p, i, i]),
        ("fluid_synth_get_sfont_by_id", p, [p, i]),
        ("fluid_synth_add_sfont", i, [p, p]),
        ("fluid_synth_remove_sfont", i, [p, p]),
        ("fluid_synth_unset_program", i, [p, i]),
        ("fluid_synth_all_sounds_off", i, [p, i]),
    ):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes


_LOG_CALLBACK = None


def _quiet_fluidsynth_log(fluidsynth) -> None:
    """FluidSynth prints warnings (e.g. 'no preset on channel') to stderr; route them nowhere."""
    global _LOG_CALLBACK
    fn = getattr(fluidsynth._fl, "fluid_set_log_function", None)
    if fn is None or _LOG_CALLBACK is not None:
        return
    proto = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
    _LOG_CALLBACK = proto(lambda level, message, data: None)
    fn.argtypes = [ctypes.c_int, proto, ctypes.c_void_p]
    for level in (1, 2, 3, 4):  # error, warning, info, debug; FLUID_PANIC (0) stays on
        fn(level, _LOG_CALLBACK, None)


_FLUIDSYNTH = None
_IMPORT_LOCK = threading.Lock()


def import_fluidsynth():
    """The pyfluidsynth module, set up once (prototypes, quiet log). It prints where it found the library to
    stdout when $CI is set; keep our stdout clean (JSON). Locked: redirect_stdout swaps the process's stdout."""
    global _FLUIDSYNTH
    with _IMPORT_LOCK:
        if _FLUIDSYNTH is None:
            with contextlib.redirect_stdout(io.StringIO()):
                import fluidsynth
            _declare(fluidsynth._fl)
            _quiet_fluidsynth_log(fluidsynth)
            _FLUIDSYNTH = fluidsynth
    return _FLUIDSYNTH
