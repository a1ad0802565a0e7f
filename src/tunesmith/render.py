"""MIDI/Melody -> audio with real sampled instruments (FluidSynth + a General MIDI SoundFont).

A *SoundFont* (``.sf2``/``.sf3``) is a bank of recorded instrument samples; *General MIDI* (GM) fixes
which *program* number (0-127) holds which instrument (0 acoustic piano, 24 nylon guitar, 10 music
box...), and reserves MIDI channel 10 for drums (bank 128). We drive FluidSynth offline ourselves:
note and control events are sent at their sample time and audio is pulled as float32 in between,
so no audio driver is needed and rendering runs far faster than real time. The synth (and the
148 MB SoundFont it loaded) is cached per process and reset between renders.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.errors import RenderError, TunesmithError
from tunesmith.files import write_bytes
from tunesmith.outputs import check_output_dir, check_output_file

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
PEAK_DBFS = -1.0
DRUM_CHANNEL = 9  # "channel 10" counted from 1
DRUM_BANK = 128
RELEASE_SECONDS = 2.0  # most the tail may ring on after the last note off
FLUID_BLOCK = 64  # FluidSynth's internal block (FLUID_BUFSIZE)
SILENCE = 1e-4  # a block quieter than this (relative to full scale at gain 0.2) counts as silent

INSTRUMENTS: dict[str, int] = {
    "piano": 0,
    "bright-piano": 1,
    "electric-piano": 4,
    "harpsichord": 6,
    "celesta": 8,
    "glockenspiel": 9,
    "music-box": 10,
    "vibraphone": 11,
    "marimba": 12,
    "xylophone": 13,
    "organ": 19,
    "accordion": 21,
    "harmonica": 22,
    "guitar": 24,
    "steel-guitar": 25,
    "jazz-guitar": 26,
    "electric-guitar": 27,
    "bass": 32,
    "violin": 40,
    "viola": 41,
    "cello": 42,
    "strings": 48,
    "choir": 52,
    "trumpet": 56,
    "trombone": 57,
    "horn": 60,
    "sax": 65,
    "oboe": 68,
    "clarinet": 71,
    "flute": 73,
    "recorder": 74,
    "pan-flute": 75,
    "ocarina": 79,
    "synth-lead": 80,
    "pad": 88,
    "sitar": 104,
    "banjo": 105,
    "kalimba": 108,
    "steel-drums": 114,
}

GM_PROGRAM_NAMES: tuple[str, ...] = (
    "Acoustic Grand Piano",
    "Bright Acoustic Piano",
    "Electric Grand Piano",
    "Honky-tonk Piano",
    "Electric Piano 1",
    "Electric Piano 2",
    "Harpsichord",
    "Clavinet",
    "Celesta",
    "Glockenspiel",
    "Music Box",
    "Vibraphone",
    "Marimba",
    "Xylophone",
    "Tubular Bells",
    "Dulcimer",
    "Drawbar Organ",
    "Percussive Organ",
    "Rock Organ",
    "Church Organ",
    "Reed Organ",
    "Accordion",
    "Harmonica",
    "Tango Accordion",
    "Acoustic Guitar (nylon)",
    "Acoustic Guitar (steel)",
    "Electric Guitar (jazz)",
    "Electric Guitar (clean)",
    "Electric Guitar (muted)",
    "Overdriven Guitar",
    "Distortion Guitar",
    "Guitar Harmonics",
    "Acoustic Bass",
    "Electric Bass (finger)",
    "Electric Bass (pick)",
    "Fretless Bass",
    "Slap Bass 1",
    "Slap Bass 2",
    "Synth Bass 1",
    "Synth Bass 2",
    "Violin",
    "Viola",
    "Cello",
    "Contrabass",
    "Tremolo Strings",
    "Pizzicato Strings",
    "Orchestral Harp",
    "Timpani",
    "String Ensemble 1",
    "String Ensemble 2",
    "Synth Strings 1",
    "Synth Strings 2",
    "Choir Aahs",
    "Voice Oohs",
    "Synth Voice",
    "Orchestra Hit",
    "Trumpet",
    "Trombone",
    "Tuba",
    "Muted Trumpet",
    "French Horn",
    "Brass Section",
    "Synth Brass 1",
    "Synth Brass 2",
    "Soprano Sax",
    "Alto Sax",
    "Tenor Sax",
    "Baritone Sax",
    "Oboe",
    "English Horn",
    "Bassoon",
    "Clarinet",
    "Piccolo",
    "Flute",
    "Recorder",
    "Pan Flute",
    "Blown Bottle",
    "Shakuhachi",
    "Whistle",
    "Ocarina",
    "Lead 1 (square)",
    "Lead 2 (sawtooth)",
    "Lead 3 (calliope)",
    "Lead 4 (chiff)",
    "Lead 5 (charang)",
    "Lead 6 (voice)",
    "Lead 7 (fifths)",
    "Lead 8 (bass + lead)",
    "Pad 1 (new age)",
    "Pad 2 (warm)",
    "Pad 3 (polysynth)",
    "Pad 4 (choir)",
    "Pad 5 (bowed)",
    "Pad 6 (metallic)",
    "Pad 7 (halo)",
    "Pad 8 (sweep)",
    "FX 1 (rain)",
    "FX 2 (soundtrack)",
    "FX 3 (crystal)",
    "FX 4 (atmosphere)",
    "FX 5 (brightness)",
    "FX 6 (goblins)",
    "FX 7 (echoes)",
    "FX 8 (sci-fi)",
    "Sitar",
    "Banjo",
    "Shamisen",
    "Koto",
    "Kalimba",
    "Bagpipe",
    "Fiddle",
    "Shanai",
    "Tinkle Bell",
    "Agogo",
    "Steel Drums",
    "Woodblock",
    "Taiko Drum",
    "Melodic Tom",
    "Synth Drum",
    "Reverse Cymbal",
    "Guitar Fret Noise",
    "Breath Noise",
    "Seashore",
    "Bird Tweet",
    "Telephone Ring",
    "Helicopter",
    "Applause",
    "Gunshot",
)


def _key(name: str) -> str:
    """Case/space/dash/punctuation-insensitive lookup key: 'Music Box' == 'music-box' == 'musicbox'."""
    return re.sub(r"[^a-z0-9+]", "", name.lower())


_LOOKUP: dict[str, int] = {_key(n): p for p, n in enumerate(GM_PROGRAM_NAMES)}
_LOOKUP.update({_key(n): p for n, p in INSTRUMENTS.items()})


def resolve_instrument(name_or_program: str | int) -> int:
    """An instrument name ('guitar'), a GM program name ('Acoustic Guitar (nylon)') or number 0-127 -> program."""
    if isinstance(name_or_program, int | np.integer) and not isinstance(name_or_program, bool):
        if 0 <= int(name_or_program) <= 127:
            return int(name_or_program)
        raise RenderError(f"GM program {name_or_program} is outside 0-127")
    text = str(name_or_program).strip()
    if re.fullmatch(r"\d+", text):
        return resolve_instrument(int(text))
    program = _LOOKUP.get(_key(text))
    if program is None:
        raise RenderError(
            f"unknown instrument '{name_or_program}'; use one of: {', '.join(INSTRUMENTS)}, "
            "a General MIDI program name (e.g. 'Acoustic Guitar (steel)') or a program number 0-127"
        )
    return program


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
class _Font:
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
        synth = self.module.Synth(gain=0.2, samplerate=float(sample_rate), **SYNTH_SETTINGS)
        lib = self.module._fl
        sfid = lib.fluid_synth_add_sfont(synth.synth, self.sfont)
        try:
            if sfid < 0:
                raise RenderError("FluidSynth could not attach the SoundFont to a new synth")
            yield synth, sfid
        finally:
            synth.system_reset()
            if sfid >= 0:  # detach first: deleting a synth frees the fonts it holds
                lib.fluid_synth_remove_sfont(synth.synth, self.sfont)
            synth.delete()


# chorus off: it costs ~20% of render time and smears a solo line; reverb stays (a room, not a dry booth).
# FluidSynth's own multi-threaded rendering (synth.cpu-cores=2) halves the wall time but is not
# deterministic: 1 render in 6 of the same 3-track file differed (peak 0.15 of full scale), so it stays off;
# a long piece is instead split into parts rendered by separate synths in parallel (see ``_parts``).
# Samples are read when a preset is first chosen (dynamic loading), not all 148 MB at start-up: loading the
# font drops from ~0.26 s to ~0.04 s, and a render's memory to the instruments it plays.
SYNTH_SETTINGS = {"synth.chorus.active": 0, "synth.dynamic-sample-loading": 1}
_FONTS: dict[tuple[str, int], _Font] = {}
_FONT_LOCKS: dict[tuple[str, int], threading.Lock] = {}
_FONTS_LOCK = threading.Lock()


def _get_font(soundfont: Path, slot: int = 0) -> _Font:
    """Each SoundFont file is loaded once per process and slot (a 148 MB font takes ~0.2 s), whatever the sample rate.

    Parts rendered at the same time each use their own slot, a copy of the font: FluidSynth does not promise
    that synths running at once may share one (its per-sample voice counts are plain integers).
    """
    key = (str(soundfont.resolve()), slot)
    with _FONTS_LOCK:
        lock = _FONT_LOCKS.setdefault(key, threading.Lock())
    with lock:  # one loader per key; other slots load at the same time
        cached = _FONTS.get(key)
        if cached is not None:
            return cached
        try:
            fluidsynth = _import_fluidsynth()
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
        cached = _Font(fluidsynth, holder, sfont, threading.Lock())
        _FONTS[key] = cached
        return cached


def preload_soundfont(soundfont: str | os.PathLike | None = None) -> None:
    """Start loading the SoundFont in the background (FluidSynth's loader runs without the GIL), so a
    command's remaining imports and MIDI parsing overlap it; ``render`` waits for it through the font's lock."""
    try:
        path = find_soundfont(soundfont)
    except TunesmithError:
        return  # render() will say why

    def load() -> None:
        with contextlib.suppress(TunesmithError):
            _get_font(path)

    threading.Thread(target=load, name="soundfont-preload", daemon=True).start()


def _declare(lib) -> None:
    """ctypes prototypes for the calls pyfluidsynth does not wrap (pointers must not be truncated to int)."""
    p, i = ctypes.c_void_p, ctypes.c_int
    for name, restype, argtypes in (
        ("fluid_synth_write_float", i, [p, i, p, i, i, p, i, i]),
        ("fluid_synth_get_sfont_by_id", p, [p, i]),
        ("fluid_synth_add_sfont", i, [p, p]),
        ("fluid_synth_remove_sfont", i, [p, p]),
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


# --- events -----------------------------------------------------------------------------
_PROGRAM, _CONTROL, _BEND, _OFF, _ON = 0, 1, 2, 3, 4  # sort order at equal times: offs before ons


def _parse_preset(preset: str | None) -> tuple[int, int] | None:
    if preset is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(preset))
    if not match or int(match[1]) > 16383 or int(match[2]) > 127:
        raise RenderError(f"preset '{preset}' must be 'BANK:PROGRAM', e.g. '0:24' (bank 0-16383, program 0-127)")
    return int(match[1]), int(match[2])


CHORD_TRACK_NAME = "chords"  # the accompaniment track tunesmith.harmony writes


def _chord_program(track_program: int, program: int | None, accompaniment: int | None) -> int:
    """The chord track keeps its own instrument (or ``accompaniment``), and never doubles the melody's."""
    chosen = track_program if accompaniment is None else accompaniment
    if program is not None and chosen == program and accompaniment is None:
        chosen = INSTRUMENTS["guitar"] if program != INSTRUMENTS["guitar"] else INSTRUMENTS["piano"]
    return chosen


def _events(score, program: int | None, bank_program: tuple[int, int] | None, sample_rate: int, accompaniment: int | None = None):
    """All note/control events as an (n, 5) int64 array [sample, kind, channel, a, b] plus per-channel presets."""
    seconds = score.to("second")
    rows: list[np.ndarray] = []
    presets: dict[int, tuple[int, int]] = {}
    melodic_channels = [c for c in range(256) if c % 16 != DRUM_CHANNEL]
    drum_channels = [c for c in range(256) if c % 16 == DRUM_CHANNEL]
    for index, track in enumerate(seconds.tracks):
        if len(track.notes) == 0:
            continue
        if track.is_drum:
            channel = drum_channels[index % len(drum_channels)]
            presets[channel] = (DRUM_BANK, int(track.program))
        else:
            channel = melodic_channels[index % len(melodic_channels)]
            if track.name == CHORD_TRACK_NAME:
                presets[channel] = (0, _chord_program(int(track.program), program, accompaniment))
            elif bank_program is not None:
                presets[channel] = bank_program
            else:
                presets[channel] = (0, int(track.program) if program is None else program)
        notes = track.notes.numpy()
        start = np.round(notes["time"] * sample_rate).astype(np.int64)
        end = np.maximum(np.round((notes["time"] + notes["duration"]) * sample_rate).astype(np.int64), start + 1)
        pitch = notes["pitch"].astype(np.int64)
        velocity = np.clip(notes["velocity"].astype(np.int64), 1, 127)
        n = len(start)
        rows.append(np.stack([start, np.full(n, _ON), np.full(n, channel), pitch, velocity], 1))
        rows.append(np.stack([end, np.full(n, _OFF), np.full(n, channel), pitch, np.zeros(n, np.int64)], 1))
        if len(track.controls):
            c = track.controls.numpy()
            keep = (c["number"] != 0) & (c["number"] != 32)  # bank select is ours to decide
            t = np.round(c["time"][keep] * sample_rate).astype(np.int64)
            rows.append(
                np.stack(
                    [
                        t,
                        np.full(len(t), _CONTROL),
                        np.full(len(t), channel),
                        c["number"][keep].astype(np.int64),
                        c["value"][keep].astype(np.int64),
                    ],
                    1,
                )
            )
        if len(track.pitch_bends):
            b = track.pitch_bends.numpy()
            t = np.round(b["time"] * sample_rate).astype(np.int64)
            rows.append(
                np.stack(
                    [
                        t,
                        np.full(len(t), _BEND),
                        np.full(len(t), channel),
                        b["value"].astype(np.int64),
                        np.zeros(len(t), np.int64),
                    ],
                    1,
                )
            )
    if not rows:
        return np.zeros((0, 5), np.int64), presets
    events = np.concatenate(rows)
    events = events[np.lexsort((events[:, 1], events[:, 0]))]
    return events, presets


PARALLEL_MIN_SECONDS = 20.0  # shorter pieces render in ~0.1 s: a second synth (and font copy) would cost more than it saves
MAX_PARTS = 4  # each part holds its own copy of the SoundFont in memory
RELEASE_WEIGHT_SECONDS = 0.5  # a note's release and reverb tail, as work, in the split estimate
# portamento, legato, portamento control, mono/poly mode: the notes of such a channel depend on each other
LINKED_NOTE_CONTROLS = (5, 65, 68, 84, 126, 127)


def _parts(events: np.ndarray, presets: dict, sample_rate: int, workers: int) -> list[tuple[np.ndarray, dict]]:
    """Split the events into at most ``workers`` parts of about equal work, one synth each (rendered in parallel).

    Work is a note's sounding time plus a release. Whole channels go, heaviest first, to the lightest part;
    a melodic channel heavier than a fair share is dealt out by pitch (each pitch wholly in one part, so a
    repeated note still cuts its predecessor off; the channel's controls and bends go to every part). Drum
    kits and channels whose notes are linked (mono, legato, portamento) stay whole.
    """
    if workers <= 1:
        return [(events, presets)]
    channel, kind, pitch = events[:, 2], events[:, 1], events[:, 3]
    ons, offs = kind == _ON, kind == _OFF
    key = channel * 128 + np.clip(pitch, 0, 127)  # one slot per (channel, pitch)
    size = 256 * 128
    time = events[:, 0].astype(np.float64)
    count = np.bincount(key[ons], minlength=size)
    sounding = np.bincount(key[offs], time[offs], size) - np.bincount(key[ons], time[ons], size)
    slot_work = sounding + RELEASE_WEIGHT_SECONDS * sample_rate * count
    work: dict[int, dict[int, float]] = {}  # channel -> pitch -> work
    splittable: set[int] = set()
    for ch in presets:
        played = np.flatnonzero(count[ch * 128 : (ch + 1) * 128])
        work[ch] = {int(p): float(slot_work[ch * 128 + p]) for p in played}
        linked = np.isin(pitch[(channel == ch) & (kind == _CONTROL)], LINKED_NOTE_CONTROLS).any()
        if presets[ch][0] != DRUM_BANK and not linked:
            splittable.add(ch)
    fair = sum(sum(w.values()) for w in work.values()) / workers
    units: list[tuple[float, int, int | None]] = []  # (work, channel, pitch; None: the whole channel)
    for ch, per_pitch in work.items():
        if ch in splittable and sum(per_pitch.values()) > fair:  # splitting every channel measured slower
            units.extend((w, ch, p) for p, w in per_pitch.items())
        else:
            units.append((sum(per_pitch.values()), ch, None))
    loads = [0.0] * workers
    whole: list[set[int]] = [set() for _ in range(workers)]
    split: list[dict[int, set[int]]] = [{} for _ in range(workers)]
    for w, ch, p in sorted(units, key=lambda u: (-u[0], u[1], -1 if u[2] is None else u[2])):
        k = loads.index(min(loads))
        loads[k] += w
        if p is None:
            whole[k].add(ch)
        else:
            split[k].setdefault(ch, set()).add(p)
    parts = []
    for k in range(workers):
        mask = np.isin(channel, list(whole[k]))
        for ch, pitches in split[k].items():
            mine = channel == ch
            mask |= mine & ((kind == _CONTROL) | (kind == _BEND) | np.isin(pitch, list(pitches)))
        if (mask & (kind == _ON)).any():
            used = whole[k] | set(split[k])
            parts.append((events[mask], {ch: presets[ch] for ch in presets if ch in used}))
    return parts


def _render_workers(seconds: float) -> int:
    """Parallel parts for a piece this long: one below ``PARALLEL_MIN_SECONDS``, else the CPUs allowed (at most 4)."""
    from tunesmith.device import thread_limit

    return 1 if seconds < PARALLEL_MIN_SECONDS else max(1, min(MAX_PARTS, thread_limit()))


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _synthesize(
    synth,
    sfid: int,
    events: np.ndarray,
    presets: dict[int, tuple[int, int]],
    sample_rate: int,
    tail_seconds: float | None,
    strict: bool = False,
) -> np.ndarray:
    """Play the events into a stereo float32 buffer [n, 2]; the release tail is kept until silent."""
    handle, write_float = synth.synth, _write_float()
    last = int(events[:, 0].max()) if len(events) else 0
    max_tail = int(round((RELEASE_SECONDS if tail_seconds is None else tail_seconds) * sample_rate))
    # FluidSynth renders in 64-sample blocks and keeps a partial block between calls: writing a whole
    # number of blocks per render keeps every render aligned, hence identical for identical input
    out = np.zeros((_round_up(last + max_tail + 1, FLUID_BLOCK), 2), np.float32)
    base = out.ctypes.data
    frame = 8  # bytes per stereo float32 frame

    def write(start: int, stop: int) -> None:
        if stop > start:
            write_float(handle, stop - start, base + start * frame, 0, 2, base + start * frame, 1, 2)

    for channel, (bank, prog) in presets.items():
        if synth.program_select(channel, sfid, bank, prog) != 0:
            if strict and bank != DRUM_BANK:
                raise RenderError(
                    f"the SoundFont has no preset {bank}:{prog}; list its presets with a SoundFont "
                    "editor (e.g. Polyphone) and pick an existing BANK:PROGRAM"
                )
            # a preset this font lacks falls back to its piano / standard kit rather than silence
            synth.program_select(channel, sfid, bank if bank == DRUM_BANK else 0, 0)
    position = 0
    for time, kind, channel, a, b in events.tolist():
        if time > position:
            write(position, time)
            position = time
        if kind == _ON:
            synth.noteon(channel, a, b)
        elif kind == _OFF:
            synth.noteoff(channel, a)
        elif kind == _CONTROL:
            synth.cc(channel, a, b)
        elif kind == _BEND:
            synth.pitch_bend(channel, a)
    # release tail: pull blocks until they fall silent (or the tail limit)
    block = _round_up(sample_rate // 20, FLUID_BLOCK)
    end = len(out)
    while position < len(out):
        stop = min(_round_up(position + 1, FLUID_BLOCK) + block, len(out))
        write(position, stop)
        if tail_seconds is None and np.abs(out[position:stop]).max() < SILENCE:
            end = stop
            break
        position = stop
    return out[:end]


def _write_float():
    return _import_fluidsynth()._fl.fluid_synth_write_float


_FLUIDSYNTH = None
_IMPORT_LOCK = threading.Lock()


def _import_fluidsynth():
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


def render(
    obj,
    instrument: str | int | None = "piano",
    *,
    sample_rate: int = 44100,
    soundfont: str | os.PathLike | None = None,
    preset: str | None = None,
    channels: int = 1,
    tail_seconds: float | None = None,
    max_seconds: float = 3600,
    accompaniment: str | int | None = None,
) -> tuple[np.ndarray, int]:
    """Render a Melody, symusic Score, MIDI bytes or path with a GM instrument; returns (samples, sample_rate).

    ``instrument`` replaces every non-drum track's program (``None`` keeps each track's own);
    ``preset='BANK:PROG'`` picks a preset of your own ``soundfont`` instead. Samples are float32,
    shape ``[n]`` (mono) or ``[n, 2]`` (stereo), peak-normalised to -1 dBFS. The release tail rings
    on after the last note until silent (at most 2 s), or exactly ``tail_seconds``. A track named ``chords``
    (from ``tunesmith.harmony``) is the accompaniment: it keeps its own program, or takes ``accompaniment``,
    and switches to guitar (or piano) rather than double the melody's instrument.
    """
    from tunesmith.music.midi import as_score

    if channels not in (1, 2):
        raise RenderError(f"channels={channels}: use 1 (mono) or 2 (stereo)")
    if not 8000 <= int(sample_rate) <= 192000:
        raise RenderError(f"sample_rate={sample_rate} is outside 8000-192000 Hz")
    program = None if instrument is None else resolve_instrument(instrument)
    bank_program = _parse_preset(preset)
    try:
        score = as_score(obj)
    except TunesmithError:
        raise
    except Exception as exc:
        raise RenderError(f"cannot render {_describe(obj)}: {exc}") from exc
    if score.note_num() == 0:
        raise RenderError(f"{_describe(obj)} has no notes to render; give a MIDI file or melody with notes")
    duration = float(score.to("second").end())
    if duration > max_seconds:
        raise RenderError(
            f"{_describe(obj)} lasts {duration:.0f} s, more than the limit max_seconds={max_seconds:g}; "
            "cut it shorter or raise max_seconds"
        )
    font_path = find_soundfont(soundfont)
    chord_program = None if accompaniment is None else resolve_instrument(accompaniment)
    events, presets = _events(score, program, bank_program, int(sample_rate), chord_program)
    parts = _parts(events, presets, int(sample_rate), _render_workers(duration))

    def play(slot: int) -> np.ndarray:
        font = _get_font(font_path, slot)
        with font.lock, font.synth(int(sample_rate)) as (synth, sfid):
            return _synthesize(synth, sfid, *parts[slot], int(sample_rate), tail_seconds, strict=preset is not None)

    if len(parts) == 1:
        stereo = play(0)
    else:  # FluidSynth renders without the GIL: the parts' synths run side by side, and are summed in order
        with ThreadPoolExecutor(len(parts), thread_name_prefix="render") as pool:
            pieces = list(pool.map(play, range(len(parts))))
        pieces.sort(key=len, reverse=True)
        stereo = pieces[0]
        for piece in pieces[1:]:
            stereo[: len(piece)] += piece
    # mono by hand: stereo.mean(axis=1) is ~10x slower on an [n, 2] array
    if channels == 1:
        audio = stereo[:, 0] + stereo[:, 1]
    else:
        audio = stereo
    peak = max(float(audio.max()), -float(audio.min())) if audio.size else 0.0
    if peak <= 0:
        raise RenderError(f"{_describe(obj)} rendered silent; the SoundFont may lack the chosen preset")
    audio *= np.float32(10 ** (PEAK_DBFS / 20) / peak)  # (the mono sum's factor 1/2 cancels here)
    return audio, int(sample_rate)


def _describe(obj) -> str:
    if isinstance(obj, str | os.PathLike):
        return str(obj)
    if isinstance(obj, bytes | bytearray):
        return "the MIDI data"
    if type(obj).__name__.startswith("Score"):
        return "the score"
    name = getattr(obj, "name", "")
    return f"{type(obj).__name__} '{name}'" if name else type(obj).__name__


AUDIO_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}


def write_audio(samples: np.ndarray, sample_rate: int, path: str | os.PathLike) -> Path:
    """Write samples as WAV/FLAC/OGG (chosen by the suffix), atomically."""
    import soundfile

    path = Path(path)
    fmt = AUDIO_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RenderError(f"{path}: unknown audio format; use a .wav, .flac or .ogg suffix")
    # encoded in memory, written by Python: a full disk is then an OSError that write_bytes reports as
    # "disk full" (libsndfile says only "System error." and may leave a short file)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, int(sample_rate), format=fmt[0], subtype=fmt[1])
    return write_bytes(path, buffer.getbuffer())


def render_to_file(obj, path: str | os.PathLike, instrument: str | int | None = "piano", **kwargs) -> Path:
    """Render and write to ``path`` (WAV/FLAC/OGG by suffix); the path is checked before rendering."""
    if Path(path).suffix.lower() not in AUDIO_FORMATS:
        raise RenderError(f"{path}: unknown audio format; use a .wav, .flac or .ogg suffix")
    check_output_file(path, AUDIO_FORMATS, inputs=[obj], what="audio file")
    samples, sample_rate = render(obj, instrument, **kwargs)
    return write_audio(samples, sample_rate, path)


def render_many(
    obj, instruments: list[str | int | None], out_dir: str | os.PathLike, stem: str, suffix: str = ".wav", **kwargs
) -> dict[str, Path]:
    """Render one piece with several instruments (SoundFont loaded once): ``{name: OUT_DIR/STEM_NAME.wav}``.

    ``None`` in the list keeps the file's own programs (written as ``STEM_original.wav``).
    """
    from tunesmith.music.midi import as_score

    for instrument in instruments:  # fail before rendering anything
        if instrument is not None:
            resolve_instrument(instrument)
    check_output_dir(out_dir)
    score = as_score(obj)
    out: dict[str, Path] = {}
    for instrument in instruments:
        name = "original" if instrument is None else str(instrument).strip()
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
        out[name] = render_to_file(score, Path(out_dir) / f"{stem}_{slug}{suffix}", instrument, **kwargs)
    return out


def render_files(
    inputs: list[str | os.PathLike],
    output: str | os.PathLike,
    instruments: list[str | int | None] | None = None,
    *,
    suffix: str = ".wav",
    **kwargs,
) -> list[Path]:
    """Render many MIDI files in one process (the SoundFont is loaded once): a CLI's start-up paid once.

    One input and one instrument: ``output`` is the audio file. Otherwise ``output`` is a folder that
    gets ``STEM.wav`` per input (``STEM_INSTRUMENT.wav`` with several instruments). A file that fails
    does not stop the others; the failures are raised together at the end, naming each file.
    """
    instruments = instruments or [None]
    for instrument in instruments:  # fail before rendering anything
        if instrument is not None:
            resolve_instrument(instrument)
    preload_soundfont(kwargs.get("soundfont"))  # loads while the MIDI reader is imported and the files parsed
    if len(inputs) == 1 and len(instruments) == 1:
        return [render_to_file(inputs[0], output, instruments[0], **kwargs)]
    out_dir = Path(output)
    if out_dir.suffix.lower() in AUDIO_FORMATS:
        raise RenderError(f"{out_dir}: with several inputs or instruments, -o must be a folder (e.g. {out_dir.with_suffix('')}/)")
    if suffix.lower() not in AUDIO_FORMATS:
        raise RenderError(f"format {suffix}: use .wav, .flac or .ogg")
    stems = [Path(p).stem for p in inputs]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise RenderError(f"several inputs are named {', '.join(clash)}; their outputs in {out_dir} would overwrite each other")
    paths: list[Path] = []
    failed: list[str] = []
    for source, stem in zip(inputs, stems):
        try:
            if len(instruments) == 1:
                paths.append(render_to_file(source, out_dir / f"{stem}{suffix}", instruments[0], **kwargs))
            else:
                paths.extend(render_many(source, instruments, out_dir, stem, suffix, **kwargs).values())
        except TunesmithError as exc:
            failed.append(str(exc))
    if failed:
        raise RenderError(f"{len(failed)} of {len(inputs)} files not rendered ({len(paths)} written):\n  " + "\n  ".join(failed))
    return paths
