"""A small SoundFont player in NumPy: the synthesizer used where FluidSynth's C library is not installed.

FluidSynth is the better synth (reverb, filters, modulators, every SoundFont 2.04 detail) and stays the first
choice; but it is a system library (apt, brew) that ``pip`` cannot bring. This player needs nothing beyond
NumPy, so ``pip install tunesmith`` renders on any laptop. It reads an uncompressed ``.sf2``, finds each
note's *zones* (the samples a preset maps to that key and velocity), and plays each zone's sample
resampled to the note's pitch, looped where the font says, under the SoundFont volume envelope
(delay, attack, hold, decay, sustain, release), with the zone's tuning, attenuation and pan, the channel's
volume, expression, pan, sustain pedal and pitch bend. No reverb, chorus or filter envelope.
(The PyPI package ``tinysoundfont`` was the first candidate: every wheel of it requires ``pyaudio``, which has no
wheel for Linux or macOS and fails to build without PortAudio's headers.)
"""

from __future__ import annotations

import math
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tunesmith.audio.events import _BEND as BEND
from tunesmith.audio.events import _CONTROL as CONTROL
from tunesmith.audio.events import _OFF as OFF
from tunesmith.audio.events import _ON as ON
from tunesmith.audio.events import DRUM_BANK
from tunesmith.core.errors import RenderError

SILENCE = 1e-4  # relative to the peak: quieter than this is the end of the tail

# generator numbers (SoundFont 2.04, section 8.1.2)
G_START, G_END, G_LOOP_START, G_LOOP_END, G_START_COARSE = 0, 1, 2, 3, 4
G_FILTER_FC, G_END_COARSE, G_PAN = 8, 12, 17
G_DELAY, G_ATTACK, G_HOLD, G_DECAY, G_SUSTAIN, G_RELEASE, G_KEY_HOLD, G_KEY_DECAY = range(33, 41)
G_INSTRUMENT, G_KEY_RANGE, G_VEL_RANGE, G_LOOP_START_COARSE, G_KEYNUM, G_VELOCITY, G_ATTENUATION = 41, 43, 44, 45, 46, 47, 48
G_LOOP_END_COARSE, G_COARSE_TUNE, G_FINE_TUNE, G_SAMPLE, G_SAMPLE_MODES, G_SCALE_TUNING, G_ROOT_KEY = 50, 51, 52, 53, 54, 56, 58
DEFAULTS = {G_FILTER_FC: 13500, G_DELAY: -12000, G_ATTACK: -12000, G_HOLD: -12000, G_DECAY: -12000, G_RELEASE: -12000}
DEFAULTS |= {G_SCALE_TUNING: 100, G_ROOT_KEY: -1, G_KEYNUM: -1, G_VELOCITY: -1}
RANGES = (G_KEY_RANGE, G_VEL_RANGE)
SIGNED = {G_KEY_RANGE, G_VEL_RANGE, G_INSTRUMENT, G_SAMPLE, G_SAMPLE_MODES}  # read unsigned (ranges: two bytes)


@dataclass
class Zone:
    gens: dict[int, int]
    keys: tuple[int, int] = (0, 127)
    vels: tuple[int, int] = (0, 127)


@dataclass
class SampleHeader:
    start: int
    end: int
    loop_start: int
    loop_end: int
    rate: int
    pitch: int
    correction: int
    kind: int


@dataclass
class SoundFont:
    """An uncompressed SoundFont 2 file: its presets' and instruments' zones and its 16-bit sample data (mapped, not read)."""

    path: Path
    data: np.ndarray  # int16 samples
    samples: list[SampleHeader]
    instruments: list[list[Zone]]
    presets: dict[tuple[int, int], list[Zone]]  # (bank, program) -> zones
    _cache: dict = field(default_factory=dict)

    def voices(self, bank: int, program: int, key: int, velocity: int) -> list[tuple[dict[int, int], SampleHeader]]:
        """The zones that sound for one note: (generators, sample) for each, preset values added to the instrument's."""
        found = self._cache.get((bank, program, key, velocity))
        if found is not None:
            return found
        zones = self.presets.get((bank, program))
        if zones is None:
            return []
        found = []
        for pzone in zones:
            if not (pzone.keys[0] <= key <= pzone.keys[1] and pzone.vels[0] <= velocity <= pzone.vels[1]):
                continue
            for izone in self.instruments[pzone.gens[G_INSTRUMENT]]:
                if izone.keys[0] <= key <= izone.keys[1] and izone.vels[0] <= velocity <= izone.vels[1]:
                    gens = DEFAULTS | izone.gens
                    for gen, value in pzone.gens.items():
                        if gen >= 0 and gen not in (G_INSTRUMENT, *RANGES):
                            gens[gen] = gens.get(gen, 0) + value
                    found.append((gens, self.samples[izone.gens[G_SAMPLE]]))
        self._cache[(bank, program, key, velocity)] = found
        return found

    def has_preset(self, bank: int, program: int) -> bool:
        return (bank, program) in self.presets


def _chunks(buf: memoryview, start: int, stop: int) -> dict[str, tuple[int, int]]:
    """The RIFF chunks between two offsets, ``LIST`` chunks opened: name -> (data offset, size)."""
    found: dict[str, tuple[int, int]] = {}
    at = start
    while at + 8 <= stop:
        name, size = bytes(buf[at : at + 4]).decode("latin-1"), struct.unpack_from("<I", buf, at + 4)[0]
        if name == "LIST":
            found |= _chunks(buf, at + 12, at + 8 + size)
        else:
            found[name] = (at + 8, size)
        at += 8 + size + (size & 1)
    return found


def _zones(buf, bags: tuple[int, int], gens: tuple[int, int], first: int, last: int, link: int) -> list[Zone]:
    """The zones of bags ``first..last``; a first zone without ``link`` (instrument or sample) is the global one."""
    zones: list[Zone] = []
    global_gens: dict[int, int] = {}
    for bag in range(first, last):
        g0 = struct.unpack_from("<H", buf, bags[0] + 4 * bag)[0]
        g1 = struct.unpack_from("<H", buf, bags[0] + 4 * (bag + 1))[0]
        zone = Zone(dict(global_gens))
        zone.keys, zone.vels = global_gens.get(-G_KEY_RANGE, (0, 127)), global_gens.get(-G_VEL_RANGE, (0, 127))
        own: dict[int, int] = {}
        for g in range(g0, g1):
            oper, lo, hi = struct.unpack_from("<HBB", buf, gens[0] + 4 * g)
            if oper == G_KEY_RANGE:
                zone.keys = (lo, hi)
            elif oper == G_VEL_RANGE:
                zone.vels = (lo, hi)
            elif oper in SIGNED:
                own[oper] = lo | hi << 8
            else:
                own[oper] = struct.unpack_from("<h", buf, gens[0] + 4 * g + 2)[0]
        zone.gens |= own
        if link in own:
            zones.append(zone)
        elif bag == first:  # the global zone: its values are every other zone's defaults
            global_gens = own | {-G_KEY_RANGE: zone.keys, -G_VEL_RANGE: zone.vels}
    return zones


def read_soundfont(path: str | Path) -> SoundFont:
    """Parse ``path``'s headers; the sample data stays on disk, mapped (FluidR3_GM: 148 MB, parsed in ~0.1 s)."""
    path = Path(path)
    try:
        raw = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:
        raise RenderError(f"cannot read the SoundFont {path}: {exc}") from exc
    buf = memoryview(raw)
    if len(buf) < 12 or bytes(buf[0:4]) != b"RIFF" or bytes(buf[8:12]) != b"sfbk":
        raise RenderError(f"{path} is not a SoundFont 2 file (no RIFF sfbk header); give a valid .sf2")
    chunks = _chunks(buf, 12, len(buf))
    needed = ("smpl", "phdr", "pbag", "pgen", "inst", "ibag", "igen", "shdr")
    missing = [name for name in needed if name not in chunks]
    if missing:
        raise RenderError(f"{path}: the SoundFont lacks its {', '.join(missing)} chunk(s); is the file complete?")
    offset, size = chunks["smpl"]
    data = np.frombuffer(raw, dtype="<i2", count=size // 2, offset=offset)
    shdr_at, shdr_size = chunks["shdr"]
    samples = []
    for i in range(shdr_size // 46 - 1):
        fields = struct.unpack_from("<20sIIIIIBbHH", buf, shdr_at + 46 * i)
        samples.append(SampleHeader(*fields[1:6], fields[6], fields[7], fields[9]))
    if any(s.kind & 0x10 for s in samples):  # Ogg Vorbis samples: an .sf3
        raise RenderError(f"{path} is a compressed SoundFont (.sf3); the built-in player reads only .sf2 (FluidSynth reads both)")
    inst_at, inst_size = chunks["inst"]
    bags = (chunks["ibag"][0], 0)
    instruments = []
    for i in range(inst_size // 22 - 1):
        b0 = struct.unpack_from("<H", buf, inst_at + 22 * i + 20)[0]
        b1 = struct.unpack_from("<H", buf, inst_at + 22 * (i + 1) + 20)[0]
        instruments.append(_zones(buf, bags, chunks["igen"], b0, b1, G_SAMPLE))
    phdr_at, phdr_size = chunks["phdr"]
    presets: dict[tuple[int, int], list[Zone]] = {}
    pbags = (chunks["pbag"][0], 0)
    for i in range(phdr_size // 38 - 1):
        program, bank, b0 = struct.unpack_from("<HHH", buf, phdr_at + 38 * i + 20)
        b1 = struct.unpack_from("<H", buf, phdr_at + 38 * (i + 1) + 24)[0]
        presets.setdefault((bank, program), _zones(buf, pbags, chunks["pgen"], b0, b1, G_INSTRUMENT))
    if not presets:
        raise RenderError(f"{path}: the SoundFont has no presets")
    return SoundFont(path, data, samples, instruments, presets)


_FONTS: dict[str, SoundFont] = {}
_LOCK = threading.Lock()


def load_soundfont(path: str | Path) -> SoundFont:
    """Each font is parsed once per process."""
    key = str(Path(path).resolve())
    with _LOCK:
        if key not in _FONTS:
            _FONTS[key] = read_soundfont(path)
        return _FONTS[key]


def _seconds(timecents: float) -> float:
    return 2.0 ** (max(-12000.0, min(8000.0, timecents)) / 1200.0)


@dataclass
class Note:
    channel: int
    key: int
    velocity: int
    start: int
    end: int | None = None
    gain: float = 1.0
    pan: float = 0.0  # -1 left .. 1 right (the channel's)
    bend: float = 0.0  # semitones


@dataclass
class Channel:
    volume: int = 100
    expression: int = 127
    pan: int = 64
    sustain: bool = False
    bend: float = 0.0
    bend_range: float = 2.0
    held: list = field(default_factory=list)  # notes released while the pedal was down
    rpn: tuple[int, int] = (127, 127)


def _notes(events: np.ndarray) -> list[Note]:
    """Turn the event list into notes with start and end samples, applying the channel controls at each note's start."""
    channels: dict[int, Channel] = {}
    sounding: dict[tuple[int, int], Note] = {}
    notes: list[Note] = []
    for time, kind, ch, a, b in events.tolist():
        state = channels.setdefault(ch, Channel())
        if kind == ON:
            old = sounding.pop((ch, a), None)
            if old is not None and old.end is None:
                old.end = time
            gain = (state.volume / 127) ** 2 * (state.expression / 127) ** 2
            note = Note(ch, a, b, time, gain=gain, pan=(state.pan - 64) / 64, bend=state.bend)
            sounding[(ch, a)] = note
            notes.append(note)
        elif kind == OFF:
            note = sounding.pop((ch, a), None)
            if note is not None:
                if state.sustain:
                    state.held.append(note)
                else:
                    note.end = time
        elif kind == CONTROL:
            if a == 7:
                state.volume = b
            elif a == 11:
                state.expression = b
            elif a == 10:
                state.pan = b
            elif a == 64:
                state.sustain = b >= 64
                if not state.sustain:
                    for note in state.held:
                        note.end = time if note.end is None else note.end
                    state.held.clear()
            elif a in (101, 100):
                state.rpn = (b, state.rpn[1]) if a == 101 else (state.rpn[0], b)
            elif a == 6 and state.rpn == (0, 0):
                state.bend_range = float(b)
            elif a in (120, 123):
                for key in [k for k in sounding if k[0] == ch]:
                    sounding.pop(key).end = time
        elif kind == BEND:
            state.bend = a / 8192 * state.bend_range
    return notes


def _envelope(n_on: int, n: int, gens: dict[int, int], key: int, rate: int) -> np.ndarray:
    """The volume envelope (linear gain) over ``n`` samples, released at ``n_on``: attack linear in amplitude,
    decay and release linear in decibels (96 dB over the generator's time, as the SoundFont spec has it).
    Built segment by segment (decays as one ``exp`` each): ~3 ns a sample."""
    delay = int(_seconds(gens[G_DELAY]) * rate)
    attack = max(1, int(_seconds(gens[G_ATTACK]) * rate))
    hold = int(_seconds(gens[G_HOLD] + gens.get(G_KEY_HOLD, 0) * (60 - key)) * rate)
    decay = max(1.0, _seconds(gens[G_DECAY] + gens.get(G_KEY_DECAY, 0) * (60 - key)) * rate)
    sustain_db = min(max(gens.get(G_SUSTAIN, 0), 0), 1440) / 10
    release = max(1.0, _seconds(gens[G_RELEASE]) * rate)
    amp = np.empty(n, np.float32)
    a0, a1 = min(delay, n), min(delay + attack, n)
    amp[:a0] = 0
    amp[a0:a1] = np.arange(1, a1 - a0 + 1, dtype=np.float32) / np.float32(attack)
    h1 = min(a1 + hold, n)
    amp[a1:h1] = 1
    d1 = min(h1 + int(decay * sustain_db / 96), n)
    per_sample = np.float32(-96 / decay * LN10_20)  # ln(gain) per sample of the decay
    amp[h1:d1] = np.exp(np.arange(d1 - h1, dtype=np.float32) * per_sample)
    amp[d1:] = np.float32(10 ** (-sustain_db / 20))
    if 0 <= n_on < n:
        level = float(amp[n_on])
        amp[n_on:] = np.exp(np.arange(n - n_on, dtype=np.float32) * np.float32(-96 / release * LN10_20)) * np.float32(level)
    return amp


LN10_20 = math.log(10) / 20  # dB to natural log of gain


def _voice(font: SoundFont, gens: dict[int, int], sample: SampleHeader, note: Note, length: int, rate: int):
    """One zone of one note: (mono samples, left gain, right gain), or None when it is silent."""
    start = sample.start + gens.get(G_START, 0) + 32768 * gens.get(G_START_COARSE, 0)
    end = sample.end + gens.get(G_END, 0) + 32768 * gens.get(G_END_COARSE, 0)
    loop_start = sample.loop_start + gens.get(G_LOOP_START, 0) + 32768 * gens.get(G_LOOP_START_COARSE, 0) - start
    loop_end = sample.loop_end + gens.get(G_LOOP_END, 0) + 32768 * gens.get(G_LOOP_END_COARSE, 0) - start
    if end - start < 2 or sample.rate <= 0:
        return None
    root = gens[G_ROOT_KEY] if gens[G_ROOT_KEY] >= 0 else sample.pitch
    key = gens[G_KEYNUM] if gens[G_KEYNUM] >= 0 else note.key
    cents = (key - root) * gens[G_SCALE_TUNING] + 100 * gens.get(G_COARSE_TUNE, 0) + gens.get(G_FINE_TUNE, 0)
    cents += sample.correction + 100 * note.bend
    step = 2.0 ** (cents / 1200) * sample.rate / rate
    looped = gens.get(G_SAMPLE_MODES, 0) & 1 and 0 <= loop_start < loop_end <= end - start and loop_end - loop_start > 1
    data = font.data[start : end + 1].astype(np.float32) * np.float32(1 / 32768)
    if looped:
        data[loop_end] = data[loop_start]  # the sample after the loop's last is its first: interpolation wraps
    else:
        length = min(length, int((end - start - 1) / step))
        if length <= 0:
            return None
    n_on = (note.end if note.end is not None else note.start + length) - note.start
    envelope = _envelope(n_on, length, gens, note.key, rate)
    audible = np.flatnonzero(envelope[n_on:] > SILENCE) if 0 <= n_on < length else None
    if audible is not None:  # the release below -80 dB is not rendered
        length = n_on + (int(audible[-1]) + 1 if len(audible) else 0)
        envelope = envelope[:length]
    pos = np.arange(length, dtype=np.float64) * step
    if looped and length and pos[-1] >= loop_end:
        first = int(np.searchsorted(pos, loop_end))
        tail = pos[first:]
        tail -= loop_start
        np.fmod(tail, loop_end - loop_start, out=tail)
        tail += loop_start
    wave = np.interp(pos, np.arange(len(data), dtype=np.float64), data).astype(np.float32)
    wave *= envelope
    velocity = gens[G_VELOCITY] if gens[G_VELOCITY] >= 0 else note.velocity
    # velocity to attenuation: the default modulator's concave 96 dB curve, as a square law (FluidSynth sounds alike)
    gain = note.gain * (velocity / 127) ** 2 * 10 ** (-0.4 * max(gens.get(G_ATTENUATION, 0), 0) / 200)
    pan = max(-1.0, min(1.0, gens.get(G_PAN, 0) / 500 + note.pan))
    angle = (pan + 1) * math.pi / 4
    return wave, gain * math.cos(angle), gain * math.sin(angle)


def render_events(
    soundfont: str | Path,
    events: np.ndarray,
    presets: dict[int, tuple[int, int]],
    sample_rate: int,
    tail_seconds: float | None,
    release_seconds: float,
    strict: bool = False,
    channels: int = 1,
) -> np.ndarray:
    """Play ``events`` ([sample, kind, channel, a, b] rows, as ``tunesmith.render`` builds them) with ``presets``
    ({channel: (bank, program)}): float32 ``[n]`` (mono, left + right) or ``[n, 2]``, not normalised.

    The tail rings on after the last event until silent (at most ``release_seconds``), or exactly ``tail_seconds``.
    A preset the font lacks falls back to its piano (or standard kit), unless ``strict``.
    """
    font = load_soundfont(soundfont)
    chosen: dict[int, tuple[int, int]] = {}
    for channel, (bank, program) in presets.items():
        if font.has_preset(bank, program):
            chosen[channel] = (bank, program)
        elif strict and bank != DRUM_BANK:
            raise RenderError(f"the SoundFont has no preset {bank}:{program}; pick an existing BANK:PROGRAM")
        else:
            chosen[channel] = (bank, 0) if font.has_preset(bank, 0) else (0, 0)
    last = int(events[:, 0].max()) if len(events) else 0
    max_tail = int(round((release_seconds if tail_seconds is None else tail_seconds) * sample_rate))
    total = last + max_tail + 1
    out = np.zeros((total, 2), np.float32)
    for note in _notes(events):
        if note.channel not in chosen:
            continue
        end = last if note.end is None else note.end
        for gens, sample in font.voices(*chosen[note.channel], note.key, note.velocity):
            release = _seconds(gens[G_RELEASE]) * sample_rate
            length = min(total - note.start, end - note.start + int(release) + 1)
            note.end = end
            made = _voice(font, gens, sample, note, length, sample_rate)
            if made is None:
                continue
            wave, left, right = made
            out[note.start : note.start + len(wave), 0] += wave * np.float32(left)
            out[note.start : note.start + len(wave), 1] += wave * np.float32(right)
    if tail_seconds is None:
        loud = np.flatnonzero(np.abs(out).max(axis=1) > SILENCE * max(float(np.abs(out).max()), 1e-12))
        out = out[: max(last + 1, int(loud[-1]) + 1 if len(loud) else last + 1)]
    return out.sum(axis=1) if channels == 1 else out
