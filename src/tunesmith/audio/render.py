"""MIDI/Melody -> audio with real sampled instruments (FluidSynth + a General MIDI SoundFont).

A *SoundFont* (``.sf2``/``.sf3``) is a bank of recorded instrument samples; *General MIDI* (GM) fixes
which *program* number (0-127) holds which instrument (0 acoustic piano, 24 nylon guitar, 10 music
box...), and reserves MIDI channel 10 for drums (bank 128). We drive FluidSynth offline ourselves:
note and control events are sent at their sample time and audio is pulled as float32 in between,
so no audio driver is needed and rendering runs far faster than real time. The SoundFont is loaded
once per process (``tunesmith.audio.soundfont``) and lent to a fresh synth for each render.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tunesmith.audio.io import AUDIO_FORMATS, write_audio
from tunesmith.audio.soundfont import find_soundfont, font_copies, import_fluidsynth, load_font, preload_soundfont
from tunesmith.core.errors import RenderError, TunesmithError
from tunesmith.core.folders import check_output_dir, check_output_file, output_file
from tunesmith.music.chords import CHORD_TRACK_NAME
from tunesmith.music.instruments import INSTRUMENTS, resolve_instrument
from tunesmith.music.midi import source_name

PEAK_DBFS = -1.0
DRUM_CHANNEL = 9  # "channel 10" counted from 1
DRUM_BANK = 128
RELEASE_SECONDS = 2.0  # most the tail may ring on after the last note off
FLUID_BLOCK = 64  # FluidSynth's internal block (FLUID_BUFSIZE)
SILENCE = 1e-4  # a block quieter than this (relative to full scale at gain 0.2) counts as silent

# --- events -----------------------------------------------------------------------------
_PROGRAM, _CONTROL, _BEND, _OFF, _ON = 0, 1, 2, 3, 4  # sort order at equal times: offs before ons


def _parse_preset(preset: str | None) -> tuple[int, int] | None:
    if preset is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(preset))
    if not match or int(match[1]) > 16383 or int(match[2]) > 127:
        raise RenderError(f"preset '{preset}' must be 'BANK:PROGRAM', e.g. '0:24' (bank 0-16383, program 0-127)")
    return int(match[1]), int(match[2])


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
        linked = _among(pitch[(channel == ch) & (kind == _CONTROL)], LINKED_NOTE_CONTROLS).any()
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
        mask = _among(channel, whole[k])
        for ch, pitches in split[k].items():
            mine = channel == ch
            mask |= mine & ((kind == _CONTROL) | (kind == _BEND) | _among(pitch, pitches))
        if (mask & (kind == _ON)).any():
            used = whole[k] | set(split[k])
            parts.append((events[mask], {ch: presets[ch] for ch in presets if ch in used}))
    return parts


def _among(values: np.ndarray, wanted) -> np.ndarray:
    """``np.isin(values, wanted)`` for small non-negative ``wanted`` by a lookup table (``np.isin`` imports numpy.ma:
    12 ms of a render's start-up). Values outside the table (a pitch bend's, say) are not among them."""
    table = np.zeros(max(wanted, default=0) + 2, bool)  # the last entry stands for every value outside
    table[list(wanted)] = True
    return table[np.where((values >= 0) & (values < len(table)), values, len(table) - 1)]


def _render_workers(seconds: float) -> int:
    """Parallel parts for a piece this long: one below ``PARALLEL_MIN_SECONDS``, else one per copy of the font."""
    return 1 if seconds < PARALLEL_MIN_SECONDS else font_copies()


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


SCRATCH_FRAMES = 8192  # FluidSynth writes into this much stereo scratch, folded into the result chunk by chunk


class _Sink:
    """Where a synth's output goes: a small reused stereo scratch buffer, folded chunk by chunk into the
    result, mono (left + right) or stereo.

    Writing straight into a whole-piece stereo buffer touched twice the memory of a mono result, and memory
    touched for the first time costs a page fault and a zeroed page each: an eighth of a part's render time on a VM.
    """

    def __init__(self, synth, frames: int, channels: int):
        self.handle, self.write_float = synth.synth, _write_float()
        self.out = np.empty(frames if channels == 1 else (frames, 2), np.float32)
        self.scratch = np.empty((SCRATCH_FRAMES, 2), np.float32)
        self.base = self.scratch.ctypes.data
        self.start = 0  # the result's frame that scratch[0] becomes
        self.filled = 0  # frames in the scratch

    def write(self, frames: int) -> None:
        """Render the next ``frames`` frames."""
        while frames > 0:
            if self.filled == SCRATCH_FRAMES:
                self.flush()
            count = min(frames, SCRATCH_FRAMES - self.filled)
            at = self.base + self.filled * 8  # 8 bytes per stereo float32 frame
            self.write_float(self.handle, count, at, 0, 2, at, 1, 2)
            self.filled += count
            frames -= count

    def flush(self) -> None:
        chunk, into = self.scratch[: self.filled], slice(self.start, self.start + self.filled)
        if self.out.ndim == 1:
            np.add(chunk[:, 0], chunk[:, 1], out=self.out[into])
        else:
            self.out[into] = chunk
        self.start, self.filled = into.stop, 0


def _synthesize(
    synth,
    sfid: int,
    events: np.ndarray,
    presets: dict[int, tuple[int, int]],
    sample_rate: int,
    tail_seconds: float | None,
    strict: bool = False,
    channels: int = 2,
) -> np.ndarray:
    """Play the events into a float32 buffer, [n] (mono: left + right) or [n, 2]; the release tail is kept until silent."""
    last = int(events[:, 0].max()) if len(events) else 0
    max_tail = int(round((RELEASE_SECONDS if tail_seconds is None else tail_seconds) * sample_rate))
    # FluidSynth renders in 64-sample blocks and keeps a partial block between calls: writing a whole
    # number of blocks per render keeps every render aligned, hence identical for identical input
    frames = _round_up(last + max_tail + 1, FLUID_BLOCK)
    sink = _Sink(synth, frames, channels)
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
            sink.write(time - position)
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
    end = frames
    while position < frames:
        sink.flush()  # the block below starts at scratch[0]
        stop = min(_round_up(position + 1, FLUID_BLOCK) + block, frames)
        sink.write(stop - position)
        if tail_seconds is None and np.abs(sink.scratch[: stop - position]).max() < SILENCE:
            end = stop
            break
        position = stop
    sink.flush()
    return sink.out[:end]


def _write_float():
    return import_fluidsynth()._fl.fluid_synth_write_float


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
    (from ``tunesmith.music.harmony``) is the accompaniment: it keeps its own program, or takes ``accompaniment``,
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
        raise RenderError(f"cannot render {source_name(obj)}: {exc}") from exc
    if score.note_num() == 0:
        raise RenderError(f"{source_name(obj)} has no notes to render; give a MIDI file or melody with notes")
    duration = float(score.to("second").end())
    if duration > max_seconds:
        raise RenderError(
            f"{source_name(obj)} lasts {duration:.0f} s, more than the limit max_seconds={max_seconds:g}; "
            "cut it shorter or raise max_seconds"
        )
    font_path = find_soundfont(soundfont)
    chord_program = None if accompaniment is None else resolve_instrument(accompaniment)
    events, presets = _events(score, program, bank_program, int(sample_rate), chord_program)
    parts = _parts(events, presets, int(sample_rate), _render_workers(duration))

    def play(slot: int) -> np.ndarray:
        font = load_font(font_path, slot)
        with font.lock, font.synth(int(sample_rate)) as (synth, sfid):
            return _synthesize(synth, sfid, *parts[slot], int(sample_rate), tail_seconds, preset is not None, channels)

    if len(parts) == 1:
        audio = play(0)
    else:  # FluidSynth renders without the GIL: the parts' synths run side by side, and are summed in order
        with ThreadPoolExecutor(len(parts), thread_name_prefix="render") as pool:
            pieces = list(pool.map(play, range(len(parts))))
        pieces.sort(key=len, reverse=True)
        audio = pieces[0]
        for piece in pieces[1:]:
            audio[: len(piece)] += piece
    peak = max(float(audio.max()), -float(audio.min())) if audio.size else 0.0
    if peak <= 0:
        raise RenderError(f"{source_name(obj)} rendered silent; the SoundFont may lack the chosen preset")
    audio *= np.float32(10 ** (PEAK_DBFS / 20) / peak)  # (a mono sum's factor 1/2 cancels here)
    return audio, int(sample_rate)


def render_to_file(
    obj, path: str | os.PathLike, instrument: str | int | None = "piano", *, force: bool = False, **kwargs
) -> Path:
    """Render and write to ``path`` (WAV/FLAC/OGG by suffix); the path is checked and locked before rendering.
    An existing file there is replaced only with ``force=True`` (see ``tunesmith.core.folders``)."""
    if Path(path).suffix.lower() not in AUDIO_FORMATS:
        raise RenderError(f"{path}: unknown audio format; use a .wav, .flac or .ogg suffix")
    with output_file(path, AUDIO_FORMATS, inputs=[obj], what="audio file", force=force):
        samples, sample_rate = render(obj, instrument, **kwargs)
        return write_audio(samples, sample_rate, path)


def _instrument_name(instrument) -> str:
    """How an instrument of a several-instrument render is named: ``None`` (the file's own programs) is "original"."""
    return "original" if instrument is None else str(instrument).strip()


def _rendered_name(stem: str, instrument, suffix: str) -> str:
    """``STEM_INSTRUMENT.wav``: the file one instrument of a several-instrument render goes to."""
    return f"{stem}_{re.sub(r'[^A-Za-z0-9]+', '-', _instrument_name(instrument)).strip('-').lower()}{suffix}"


def render_many(
    obj,
    instruments: list[str | int | None],
    out_dir: str | os.PathLike,
    stem: str,
    suffix: str = ".wav",
    *,
    force: bool = False,
    **kwargs,
) -> dict[str, Path]:
    """Render one piece with several instruments (SoundFont loaded once): ``{name: OUT_DIR/STEM_NAME.wav}``.

    ``None`` in the list keeps the file's own programs (written as ``STEM_original.wav``). Every path is
    checked before anything is rendered; existing files are replaced only with ``force=True``.
    """
    from tunesmith.music.midi import as_score

    for instrument in instruments:  # fail before rendering anything
        if instrument is not None:
            resolve_instrument(instrument)
    check_output_dir(out_dir)
    paths = {instrument: Path(out_dir) / _rendered_name(stem, instrument, suffix) for instrument in instruments}
    for path in paths.values():
        check_output_file(path, AUDIO_FORMATS, inputs=[obj], force=force)
    score = as_score(obj)
    return {
        _instrument_name(instrument): render_to_file(score, path, instrument, force=force, **kwargs)
        for instrument, path in paths.items()
    }


def render_files(
    inputs: list[str | os.PathLike],
    output: str | os.PathLike,
    instruments: list[str | int | None] | None = None,
    *,
    suffix: str = ".wav",
    force: bool = False,
    **kwargs,
) -> list[Path]:
    """Render many MIDI files in one process (the SoundFont is loaded once): a CLI's start-up paid once.

    One input and one instrument: ``output`` is the audio file. Otherwise ``output`` is a folder that
    gets ``STEM.wav`` per input (``STEM_INSTRUMENT.wav`` with several instruments). A file that fails
    does not stop the others; the failures are raised together at the end, naming each file. Every output
    path is checked before anything is rendered: an existing file is replaced only with ``force=True``.
    """
    instruments = instruments or [None]
    for instrument in instruments:  # fail before rendering anything
        if instrument is not None:
            resolve_instrument(instrument)
    preload_soundfont(kwargs.get("soundfont"), font_copies())  # loads while the MIDI files are read
    if len(inputs) == 1 and len(instruments) == 1:
        return [render_to_file(inputs[0], output, instruments[0], force=force, **kwargs)]
    out_dir = Path(output)
    if out_dir.suffix.lower() in AUDIO_FORMATS:
        raise RenderError(f"{out_dir}: with several inputs or instruments, -o must be a folder (e.g. {out_dir.with_suffix('')}/)")
    if suffix.lower() not in AUDIO_FORMATS:
        raise RenderError(f"format {suffix}: use .wav, .flac or .ogg")
    stems = [Path(p).stem for p in inputs]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise RenderError(f"several inputs are named {', '.join(clash)}; their outputs in {out_dir} would overwrite each other")
    check_output_dir(out_dir)
    for stem in stems:  # every path before any work
        names = [f"{stem}{suffix}"] if len(instruments) == 1 else [_rendered_name(stem, i, suffix) for i in instruments]
        for name in names:
            check_output_file(out_dir / name, AUDIO_FORMATS, inputs=inputs, what="audio file", force=force)
    paths: list[Path] = []
    failed: list[str] = []
    for source, stem in zip(inputs, stems):
        try:
            if len(instruments) == 1:
                paths.append(render_to_file(source, out_dir / f"{stem}{suffix}", instruments[0], force=force, **kwargs))
            else:
                paths.extend(render_many(source, instruments, out_dir, stem, suffix, force=force, **kwargs).values())
        except TunesmithError as exc:
            failed.append(str(exc))
    if failed:
        raise RenderError(f"{len(failed)} of {len(inputs)} files not rendered ({len(paths)} written):\n  " + "\n  ".join(failed))
    return paths
