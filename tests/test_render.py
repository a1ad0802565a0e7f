"""Real synthesis with FluidSynth and the General MIDI SoundFont: pitch, length, timbre, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import soundfile
import symusic

from conftest import make_score, scale_tune
from tunesmith.audio.render import find_soundfont, render, render_many, render_to_file
from tunesmith.core.errors import RenderError
from tunesmith.music.instruments import GM_PROGRAM_NAMES, INSTRUMENTS, resolve_instrument
from tunesmith.music.melody import Melody, Note

try:
    find_soundfont()
except RenderError as exc:  # CI installs fluid-soundfont-gm; a bare machine says why
    pytest.skip(f"no General MIDI SoundFont: {exc}", allow_module_level=True)

PEAK = 10 ** (-1 / 20)


def band_profile(audio: np.ndarray, sr: int) -> np.ndarray:
    """Log energy in 48 log-spaced bands 100 Hz-10 kHz, mean removed: a loudness-free timbre fingerprint."""
    spectrum = np.abs(np.fft.rfft(audio[: 4 * sr], n=4 * sr))
    freqs = np.fft.rfftfreq(4 * sr, 1 / sr)
    edges = np.geomspace(100, 10000, 49)
    bands = np.array([spectrum[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
    log = np.log(bands + 1e-9)
    return log - log.mean()


def test_sustained_a4_on_piano_is_440_hz():
    melody = Melody.from_notes([Note(69, 0, 16)])  # 16 sixteenths at 120 qpm = 2 s
    audio, sr = render(melody, "piano")
    segment = audio[int(0.1 * sr) : int(1.9 * sr)]
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment))))
    peak_hz = np.fft.rfftfreq(len(segment), 1 / sr)[np.argmax(spectrum)]
    assert abs(peak_hz - 440.0) < 3.0


def test_duration_level_and_determinism():
    melody = Melody.from_notes([Note(60 + i % 7, 4 * i, 4 * i + 3) for i in range(16)])  # 64 steps = 8 s
    last_off = 63 * melody.seconds_per_step()
    audio, sr = render(melody, "piano")
    assert sr == 44100 and audio.dtype == np.float32 and audio.ndim == 1
    assert last_off <= len(audio) / sr <= last_off + 2.1  # release tail kept, at most ~2 s
    assert np.sqrt(np.mean(audio**2)) > 0.02  # not silent
    assert np.abs(audio).max() == pytest.approx(PEAK, abs=1e-4)  # -1 dBFS
    again, _ = render(melody, "guitar")
    again, _ = render(melody, "piano")
    np.testing.assert_array_equal(audio, again)  # a reused SoundFont leaves no state behind


def test_stereo_and_fixed_tail():
    melody = Melody.from_notes([Note(60, 0, 8)])  # 1 s
    audio, sr = render(melody, "music-box", channels=2, tail_seconds=0.5, sample_rate=22050)
    assert audio.shape[1] == 2 and sr == 22050
    assert abs(len(audio) / sr - 1.5) < 0.01


def test_guitar_music_box_and_piano_sound_different():
    score = make_score([(60, 0, 2), (64, 2, 2), (67, 4, 2), (72, 6, 2)])
    profiles = {name: band_profile(render(score, name)[0], 44100) for name in ("guitar", "music-box", "piano")}
    for a, b in itertools.combinations(profiles, 2):
        distance = np.sqrt(np.mean((profiles[a] - profiles[b]) ** 2))
        assert distance > 0.4, f"{a} and {b} sound alike (distance {distance:.2f})"


def test_resolve_instrument_names_programs_and_gm_names():
    assert resolve_instrument("piano") == 0
    assert resolve_instrument("Music Box") == 10 == resolve_instrument("music_box") == resolve_instrument(10)
    assert resolve_instrument("Acoustic Guitar (nylon)") == 24 == resolve_instrument("guitar")
    assert resolve_instrument("acoustic-grand-piano") == 0
    assert resolve_instrument("73") == 73
    assert len(GM_PROGRAM_NAMES) == 128 and all(0 <= p < 128 for p in INSTRUMENTS.values())
    for name, program in INSTRUMENTS.items():
        assert resolve_instrument(name) == program


def test_unknown_instrument_lists_the_names():
    with pytest.raises(RenderError) as info:
        render(Melody.from_notes([Note(60, 0, 4)]), "kazoo-deluxe")
    assert "kazoo-deluxe" in str(info.value) and "music-box" in str(info.value) and "guitar" in str(info.value)
    with pytest.raises(RenderError, match="0-127"):
        resolve_instrument(128)


def test_empty_midi_is_an_error(tmp_path):
    path = tmp_path / "empty.mid"
    make_score([]).dump_midi(str(path))
    with pytest.raises(RenderError, match="no notes"):
        render(path)
    with pytest.raises(RenderError, match="no notes"):
        render(symusic.Score(480))


def test_too_long_is_refused_before_rendering():
    melody = Melody.from_notes([Note(60, 0, 4), Note(62, 40_000, 40_004)])  # ~83 minutes
    with pytest.raises(RenderError, match="max_seconds=3600"):
        render(melody)


def test_missing_soundfont_and_bad_preset(tmp_path):
    melody = Melody.from_notes([Note(60, 0, 4)])
    with pytest.raises(RenderError, match="not found"):
        render(melody, soundfont=tmp_path / "nope.sf2")
    with pytest.raises(RenderError, match="BANK:PROGRAM"):
        render(melody, preset="guitar")
    audio, _ = render(melody, soundfont=find_soundfont(), preset="0:24")
    assert np.abs(audio).max() > 0.5


def test_multitrack_keeps_programs_and_drums(tmp_path):
    flute_and_drums = make_score(
        scale_tune(bars=2, base=72),
        program=73,
        extra_tracks=[([(36, i, 0.5) for i in range(8)] + [(42, i + 0.5, 0.25) for i in range(8)], 0, True)],
    )
    path = tmp_path / "band.mid"
    flute_and_drums.dump_midi(str(path))
    own, sr = render(path, None)
    as_piano, _ = render(path, "piano")
    assert np.sqrt(np.mean(own**2)) > 0.02
    assert np.sqrt(np.mean((band_profile(own, sr) - band_profile(as_piano, sr)) ** 2)) > 0.2


def test_render_to_file_and_many(tmp_path):
    melody = Melody.from_notes([Note(67, 0, 4), Note(64, 4, 8)])
    for suffix in (".wav", ".flac", ".ogg"):
        path = render_to_file(melody, tmp_path / f"tune{suffix}", "harpsichord")
        audio, sr = soundfile.read(str(path))
        assert sr == 44100 and len(audio) > sr and np.abs(audio).max() > 0.5
    with pytest.raises(RenderError, match="suffix"):
        render_to_file(melody, tmp_path / "tune.mp3")
    paths = render_many(melody, ["guitar", "music-box", "piano"], tmp_path / "out", "tune")
    assert sorted(paths) == ["guitar", "music-box", "piano"]
    assert all(p.is_file() and p.name.startswith("tune_") for p in paths.values())
    assert not list((tmp_path / "out").glob(".*tmp*"))  # atomic writes leave no temp files


def test_missing_preset_is_named():
    with pytest.raises(RenderError, match="no preset 77:5"):
        render(Melody.from_notes([Note(60, 0, 4)]), preset="77:5")


def test_sustain_pedal_and_pitch_bend_are_played():
    def score(pedal: bool) -> symusic.Score:
        s = make_score([(60, 0, 0.25), (64, 0.5, 0.25)])  # two short notes in the first second
        if pedal:
            s.tracks[0].controls.append(symusic.ControlChange(0, 64, 127))  # sustain down ...
            s.tracks[0].controls.append(symusic.ControlChange(4 * 480, 64, 0))  # ... until 2 s
            s.tracks[0].pitch_bends.append(symusic.PitchBend(480, 4096))
        return s

    dry, sr = render(score(False), "piano", tail_seconds=1.5)
    held, _ = render(score(True), "piano", tail_seconds=1.5)
    window = slice(int(1.4 * sr), int(1.6 * sr))  # after both notes ended, before the pedal lifts
    assert np.sqrt(np.mean(held[window] ** 2)) > 5 * np.sqrt(np.mean(dry[window] ** 2))


def _long_band() -> symusic.Score:
    """30 s (15 bars at 120 qpm): a piano line with chords, a bass and drums; long enough to render in parts."""
    piano = [(60 + (i * 5) % 12, i / 2, 0.5) for i in range(120)] + [(48 + d, 2 * i, 2) for i in range(30) for d in (0, 4, 7)]
    bass = [(36 + (i % 3) * 2, i, 1) for i in range(60)]
    drums = [(36, i, 0.25) for i in range(60)] + [(42, i + 0.5, 0.25) for i in range(60)]
    score = make_score(piano, extra_tracks=[(bass, 33, False), (drums, 0, True)])
    score.tracks[0].controls.append(symusic.ControlChange(0, 64, 127))  # the pedal goes to every part
    score.tracks[0].controls.append(symusic.ControlChange(20 * 480, 64, 0))
    return score


def test_long_pieces_render_in_parts_that_cover_every_note_once():
    from tunesmith.audio.render import _CONTROL, _OFF, _ON, _events, _parts

    events, presets = _events(_long_band(), None, None, 44100)
    notes = events[np.isin(events[:, 1], [_ON, _OFF])]
    for workers in (2, 3):
        parts = _parts(events, presets, 44100, workers)
        assert 2 <= len(parts) <= workers
        played = np.concatenate([p[np.isin(p[:, 1], [_ON, _OFF])] for p, _ in parts])
        assert sorted(map(tuple, played.tolist())) == sorted(map(tuple, notes.tolist()))  # each note exactly once
        drums = [ch for ch, (bank, _) in presets.items() if bank == 128]
        assert sum(any(p[:, 2] == drums[0]) for p, _ in parts) == 1  # a kit stays whole
        for ch in presets:  # a pitch never sounds in two parts (a repeated note still cuts its predecessor)
            owners = [{int(x) for x in p[(p[:, 2] == ch) & (p[:, 1] == _ON), 3]} for p, _ in parts]
            assert sum(len(o) for o in owners) == len(set().union(*owners))
        for p, own in parts:  # each part carries the controls (pedal) and presets of the channels it plays
            assert set(np.unique(p[:, 2]).tolist()) <= set(own)
    # one dominant track on two workers: split by pitch, the pedal in both halves
    piano = make_score([(48 + i % 24, i / 4, 1) for i in range(400)])
    piano.tracks[0].controls.append(symusic.ControlChange(0, 64, 127))
    solo, presets = _events(piano, None, None, 44100)
    halves = _parts(solo, presets, 44100, 2)
    pedal = solo[:, 1] == _CONTROL
    assert pedal.sum() == 1 and len(halves) == 2 and all((p[:, 1] == _CONTROL).sum() == 1 for p, _ in halves)
    piano.tracks[0].controls.append(symusic.ControlChange(0, 65, 127))  # portamento: notes linked, kept whole
    assert len(_parts(*_events(piano, None, None, 44100), 44100, 2)) == 1


def test_parallel_render_is_deterministic_and_sounds_like_one_synth(monkeypatch):
    import tunesmith.audio.render as render_module

    score = _long_band()
    together, sr = render(score, None)
    again, _ = render(score, None)
    assert np.array_equal(together, again)
    monkeypatch.setattr(render_module, "PARALLEL_MIN_SECONDS", 1e9)  # one synth for everything
    single, _ = render(score, None)
    n = min(len(single), len(together))
    assert abs(len(single) - len(together)) < sr // 10
    # the same music: a missing or doubled part would differ by far more than this
    assert np.abs(single[:n] - together[:n]).max() < 0.05
    assert np.sqrt(np.mean((single[:n] - together[:n]) ** 2)) < 0.01 * np.sqrt(np.mean(single**2))
