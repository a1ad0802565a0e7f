"""Transcription: render known melodies with real GM instruments, transcribe them back, score with mir_eval."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tunesmith.audio.render import render
from tunesmith.audio.transcribe import NoteEvent, note_f1, read_primer, transcribe
from tunesmith.core.errors import BadInputError
from tunesmith.music.melody import NO_EVENT, NOTE_OFF, Melody, Note

SR = 22050
# 24 notes, 8ths to a whole note, C2-octave range around middle C, at 110 qpm (~9 s)
PITCHES = [60, 62, 64, 67, 65, 64, 62, 60, 72, 71, 69, 67, 65, 64, 62, 59, 60, 64, 67, 72, 55, 57, 59, 60]
LENGTHS = [2, 2, 4, 2, 2, 2, 2, 4, 2, 2, 4, 2, 2, 2, 2, 4, 1, 1, 2, 4, 2, 2, 2, 8]
# what the default method achieves on this tune (measured: piano 1.0, guitar 1.0, music box 0.98)
MIN_F1 = {"piano": 0.95, "guitar": 0.9, "music-box": 0.85}


def tune(qpm: float = 110.0, pitches=PITCHES, lengths=LENGTHS) -> Melody:
    notes, t = [], 0
    for pitch, length in zip(pitches, lengths):
        notes.append(Note(pitch, t, t + length))
        t += length
    return Melody.from_notes(notes, qpm=qpm)


@pytest.fixture(scope="module")
def piano_take() -> tuple[Melody, np.ndarray]:
    melody = tune()
    samples, _ = render(melody, "piano", sample_rate=SR)
    return melody, samples


@pytest.mark.parametrize("instrument", ["piano", "guitar", "music-box"])
def test_rendered_tune_transcribes_back(instrument):
    melody = tune()
    samples, sr = render(melody, instrument, sample_rate=SR)
    estimate = transcribe((samples, sr))
    score = note_f1(melody, estimate)
    assert score["f1"] >= MIN_F1[instrument], score
    assert abs(estimate.qpm / melody.qpm - 1) < 0.02  # the tempo estimate lands on 110 qpm
    if instrument == "piano":  # every note on its step: the primer is the melody itself
        assert [(n.pitch, n.start) for n in estimate.notes()] == [(n.pitch, n.start) for n in melody.notes()]


def test_result_is_a_valid_primer(piano_take, tmp_path):
    melody, samples = piano_take
    path = tmp_path / "take.wav"
    soundfile.write(path, samples, SR)
    estimate = transcribe(path)
    assert estimate.name == "take" and estimate.steps_per_quarter == 4 and estimate.steps_per_bar == 16
    events = estimate.events
    assert events[0] >= 0  # starts on a note
    assert ((events >= 0) & (events <= 127) | (events == NOTE_OFF) | (events == NO_EVENT)).all()
    assert 100 < estimate.qpm < 120 and estimate.meta["method"] == "salience"
    primer = read_primer(str(path))  # what generate uses: audio files are transcribed
    assert isinstance(primer, Melody) and list(primer.pitches) == list(estimate.pitches)
    assert transcribe(samples, sample_rate=SR).events.tolist() == events.tolist()  # array + sample_rate form


def test_qpm_override_and_steps_per_quarter(piano_take):
    melody, samples = piano_take
    estimate = transcribe((samples, SR), qpm=110, steps_per_quarter=2)
    assert estimate.qpm == 110 and estimate.steps_per_quarter == 2
    assert note_f1(melody, estimate)["f1"] >= 0.9  # 8th-note grid still holds these notes but the two 16ths


def test_pyin_method_on_a_short_phrase():
    melody = tune(pitches=PITCHES[:8], lengths=LENGTHS[:8])
    samples, sr = render(melody, "piano", sample_rate=SR)
    estimate = transcribe((samples, sr), method="pyin")
    assert note_f1(melody, estimate)["f1"] >= 0.9 and estimate.meta["method"] == "pyin"


def test_silence_and_noise_are_not_notes():
    with pytest.raises(BadInputError, match="no pitched notes found in the audio.*silent"):
        transcribe((np.zeros(SR * 2, np.float32), SR))
    noise = np.random.default_rng(0).standard_normal(SR * 3).astype(np.float32) * 0.3
    with pytest.raises(BadInputError, match=r"no pitched notes.*tried method salience.*harmonic"):
        transcribe((noise, SR))


def test_unreadable_files_name_the_file(tmp_path):
    fake = tmp_path / "notes.wav"
    fake.write_text("this is not audio\n")
    with pytest.raises(BadInputError, match="notes.wav: not readable audio"):
        transcribe(fake)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(BadInputError, match="empty.wav: the file is empty"):
        transcribe(empty)
    with pytest.raises(BadInputError, match="missing.wav: audio file not found"):
        transcribe(tmp_path / "missing.wav")
    with pytest.raises(BadInputError, match="needs sample_rate"):
        transcribe(np.zeros(100, np.float32))
    with pytest.raises(BadInputError, match="unknown transcription method 'crepe'"):
        transcribe((np.zeros(100, np.float32), SR), method="crepe")


def test_long_audio_warns_and_is_cut(piano_take):
    melody, samples = piano_take
    with pytest.warns(UserWarning, match="transcribing only the first 4 s"):
        estimate = transcribe((samples, SR), max_seconds=4.0)
    assert 0 < estimate.duration_seconds() <= 4.2
    assert list(estimate.pitches) == [n.pitch for n in melody.notes()][: len(estimate.pitches)]


@pytest.mark.skipif(importlib.util.find_spec("basic_pitch") is not None, reason="basic-pitch is installed")
def test_basic_pitch_says_what_it_needs():
    with pytest.raises(BadInputError, match="method basic-pitch needs the basic-pitch package"):
        transcribe((np.zeros(SR, np.float32), SR), method="basic-pitch")


def test_note_f1_counts_onsets_and_pitches():
    ref = [NoteEvent(0.0, 0.5, 60), NoteEvent(0.5, 1.0, 62), NoteEvent(1.0, 1.5, 64), NoteEvent(1.5, 2.0, 65)]
    assert note_f1(ref, ref)["f1"] == 1.0
    est = [(0.03, 0.4, 60), (0.5, 1.0, 74), (1.2, 1.5, 64), (1.5, 2.0, 65)]  # ok, wrong octave, late, ok
    assert note_f1(ref, est) == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    melody = Melody.from_notes([Note(60, 0, 4), Note(62, 4, 8), Note(64, 8, 12), Note(65, 12, 16)], qpm=120)
    assert note_f1(melody, ref)["f1"] == 1.0  # 4 steps at 120 qpm = 0.5 s
    assert note_f1(melody, [])["f1"] == 0.0


def test_benchmark_quick_prints_one_json_object():
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "bench_transcribe.py"), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["quick"] and result["machine"]["cpu_count"] >= 1 and result["machine"]["device"] in ("cpu", "cuda")
    for instrument in ("piano", "guitar", "music-box"):
        for method in ("auto", "pyin"):
            figures = result["figures"][f"{instrument}/{method}"]
            assert set(figures) >= {"f1", "precision", "recall", "realtime_factor"}
            assert 0 <= figures["f1"] <= 1 and figures["realtime_factor"] > 0


def test_legato_pitch_changes_split_notes():
    """A tone gliding from note to note with no new attack (voice, flute, a generated clip)."""
    pitches, seconds = [60, 64, 67, 72, 67, 64], 0.5
    freqs = np.repeat(440 * 2 ** ((np.array(pitches) - 69) / 12), int(SR * seconds))
    phase = 2 * np.pi * np.cumsum(freqs) / SR
    tone = (0.5 * np.sin(phase) + 0.25 * np.sin(2 * phase) + 0.12 * np.sin(3 * phase)).astype(np.float32)
    tone[-2000:] *= np.linspace(1, 0, 2000, dtype=np.float32)
    samples = np.concatenate([np.zeros(SR // 2, np.float32), tone, np.zeros(SR // 2, np.float32)])
    reference = [(0.5 + i * seconds, 0.5 + (i + 1) * seconds, p) for i, p in enumerate(pitches)]
    estimate = transcribe((samples, SR), qpm=120)
    assert list(estimate.pitches) == pitches and estimate.meta["start_seconds"] == pytest.approx(0.5, abs=0.03)
    assert note_f1(reference, estimate)["f1"] == 1.0
