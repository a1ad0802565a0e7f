"""Audio -> notes -> Melody: monophonic transcription, so a sound clip can prime the melody model.

Terms used here:

* **onset** - the moment a note starts. Struck and plucked notes start with a burst of new energy,
  found as peaks of *spectral flux* (how much the spectrum grew since the previous frame).
* **f0 / pitch** - the fundamental frequency of a note; MIDI pitch ``p`` sounds at
  ``440 * 2 ** ((p - 69) / 12)`` Hz. A pitched sound also holds *harmonics* at 2, 3, 4... times f0.
* **cents** - a hundredth of a semitone; "within 50 cents" means the nearest MIDI pitch is right.
* **salience** - how strongly a candidate pitch is present: here the weighted sum of the spectrum at the
  candidate's first harmonics (harmonic summation). The true f0 collects all its harmonics; its octave
  below collects only every other one and its octave above loses the odd ones, so the sum peaks at f0.
* **harmonicity** - the share of a note's spectral energy that lies on its harmonics: near 1 for a
  tone, small for noise. Notes below ``MIN_HARMONICITY`` are dropped as unpitched.

Methods: ``"salience"`` (the default, ``"auto"``) - STFT harmonic summation, onsets from spectral flux,
each note's pitch from the salience of its first frames; runs 50-100x faster than real time.
``"pyin"`` - librosa's probabilistic YIN f0 tracker with the same note segmentation (slow, ~4x real time).
``"basic-pitch"`` - Spotify's small neural note model run through onnxruntime, when the ``basic-pitch``
package is installed (``pip install --no-deps basic-pitch``: its TensorFlow requirement is not needed).

Detected notes are then put on a grid: the tempo comes from librosa's tempo estimate refined so that the
onsets fall on 16th-note steps (``steps_per_quarter=4``), and each note is rounded to the nearest step.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.core.errors import BadInputError
from tunesmith.music.melody import DEFAULT_STEPS_PER_QUARTER, Melody, Note
from tunesmith.music.notes import pitch_to_name

METHODS = ("auto", "salience", "pyin", "basic-pitch")
ANALYSIS_SR = 22050  # every method analyses audio at this rate
HOP = 256  # analysis frame hop: 11.6 ms at 22050 Hz
N_FFT = 4096  # pitch analysis window: 186 ms, 5.4 Hz bins
MIN_PITCH, MAX_PITCH = 36, 96  # C2 - C7: the candidate pitches
N_HARMONICS = 8
HARMONIC_WEIGHT = 0.8  # weight of harmonic h is HARMONIC_WEIGHT ** (h - 1)
MIN_HARMONICITY = 0.4
SILENCE_DB = -60.0  # frames this far below the loudest one count as silence
NOTE_DROP_DB = 40.0  # a note ends when its energy falls this far below its peak
ATTACK_FRAMES = 8  # ~90 ms after an onset whose pitch is not trusted on its own


@dataclass(frozen=True)
class NoteEvent:
    """A detected note in seconds (unquantised)."""

    onset: float
    offset: float
    pitch: int


# --- audio in ------------------------------------------------------------------------------------------
def load_audio(audio, sample_rate: int | None = None) -> tuple[np.ndarray, int, str]:
    """A path, ``(samples, sr)`` tuple or array (+ ``sample_rate``) -> (mono float32, sr, description)."""
    if isinstance(audio, str | os.PathLike):
        from tunesmith.audio.io import load_audio as read_audio_file

        samples, sr = read_audio_file(audio, None)
        name = str(audio)
    else:
        if isinstance(audio, tuple) and len(audio) == 2:
            audio, sample_rate = audio
        if sample_rate is None:
            raise BadInputError("audio given as samples needs sample_rate (or pass a (samples, sr) tuple)")
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim == 2:  # [n, channels] or [channels, n]: average the shorter axis
            samples = samples.mean(axis=int(np.argmin(samples.shape)))
        sr = int(sample_rate)
        name = "the audio"
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.size == 0:
        raise BadInputError(f"{name}: holds no audio samples")
    if not np.isfinite(samples).all():
        raise BadInputError(f"{name}: contains NaN or infinite samples; re-export it as ordinary PCM audio")
    if not 1000 <= int(sr) <= 768_000:
        raise BadInputError(f"{name}: the header claims {sr} samples per second; the file is damaged, re-export it")
    return samples, int(sr), name


# --- analysis --------------------------------------------------------------------------------------------
def _pitch_hz(pitches: np.ndarray) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(pitches, dtype=np.float64) - 69) / 12)


_CACHE: dict[str, np.ndarray] = {}


def _harmonic_tables() -> dict[str, np.ndarray]:
    """Lookup tables for harmonic summation on the N_FFT spectrum (built once).

    ``lo``/``hi``: the FFT bins within +-30 cents of harmonic h of each candidate pitch (flattened
    [harmonic, pitch]), ``weight``: HARMONIC_WEIGHT ** (h - 1) (0 above Nyquist), ``comb``/``band``:
    [pitch, bin] masks of the harmonic bins and of the band 0.5*f0 .. (N_HARMONICS + 0.5)*f0.
    """
    if not _CACHE:
        bin_hz = ANALYSIS_SR / N_FFT
        n_bins = N_FFT // 2 + 1
        f0 = _pitch_hz(np.arange(MIN_PITCH, MAX_PITCH + 1))
        h = np.arange(1, N_HARMONICS + 1)[:, None]
        centre = h * f0[None, :]
        tol = 2 ** (30 / 1200)
        lo = np.clip(np.floor(centre / tol / bin_hz), 0, n_bins - 2).astype(np.int64)
        hi = np.clip(np.ceil(centre * tol / bin_hz) + 1, lo + 1, n_bins - 1).astype(np.int64)
        _CACHE["lo"], _CACHE["hi"] = lo.ravel(), hi.ravel()
        _CACHE["weight"] = (HARMONIC_WEIGHT ** (h - 1) * (centre < ANALYSIS_SR / 2)).ravel().astype(np.float32)
        comb = np.zeros((f0.size, n_bins), np.float32)
        for k, (a, b) in enumerate(zip(lo.ravel(), hi.ravel())):
            comb[k % f0.size, a:b] = 1.0
        freqs = np.arange(n_bins) * bin_hz
        _CACHE["comb"] = comb
        _CACHE["band"] = ((freqs > 0.5 * f0[:, None]) & (freqs < (N_HARMONICS + 0.5) * f0[:, None])).astype(np.float32)
    return _CACHE


def salience(spectrum: np.ndarray) -> np.ndarray:
    """[pitches MIN_PITCH..MAX_PITCH, frames] harmonic-sum salience of a (compressed) magnitude spectrum.

    For each candidate pitch, the spectrum's peak within +-30 cents of each harmonic is weighted by
    ``HARMONIC_WEIGHT ** (h - 1)`` and summed. Taking the peak (not the sum of bins) keeps broad noise
    bands at high frequencies from outweighing a clear fundamental.
    """
    t = _harmonic_tables()
    spectrum = spectrum.reshape(spectrum.shape[0], -1)
    peaks = np.maximum.reduceat(spectrum, np.stack([t["lo"], t["hi"]], axis=1).ravel(), axis=0)[::2]
    weighted = t["weight"][:, None] * peaks
    return weighted.reshape(N_HARMONICS, -1, spectrum.shape[1]).sum(axis=0)


def _salience_pitch(magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: MIDI pitch of highest salience, harmonicity, and the compressed spectrum used.

    Salience uses the square-root magnitude (so quiet harmonics still count); harmonicity is the share
    of power inside the winning pitch's harmonic band that sits on its harmonics (noise: ~0.2, tones: ~0.9).
    """
    t = _harmonic_tables()
    compressed = np.sqrt(magnitude)
    best = np.argmax(salience(compressed), axis=0)
    power = magnitude**2
    on_harmonics = np.einsum("tf,ft->t", t["comb"][best], power)
    in_band = np.einsum("tf,ft->t", t["band"][best], power)
    harmonicity = on_harmonics / np.maximum(in_band, 1e-12)
    return (best + MIN_PITCH).astype(np.float64), harmonicity, compressed


def _segment(
    onsets: np.ndarray, pitch: np.ndarray, voiced: np.ndarray, energy_db: np.ndarray, min_frames: int, pitch_of
) -> list[tuple[int, int, int]]:
    """Onset frames + a frame pitch track -> notes (start frame, end frame, MIDI pitch).

    A note runs from its onset to the next onset, ending early when its energy falls ``NOTE_DROP_DB``
    below its peak or into silence; ``pitch_of(a, b)`` gives its pitch from frames a..b (skipping the
    attack, whose pluck or hammer noise has no clear pitch). A steady change of pitch later in a note
    that keeps most of its loudness (legato playing, no new onset) starts a new note there.
    """
    n = pitch.size
    active = voiced & (energy_db > SILENCE_DB)
    # a voiced run after silence with no onset near it starts a note too (soft entries)
    rises = np.flatnonzero(active[1:] & ~active[:-1]) + 1
    if active.size and active[0]:
        rises = np.concatenate([[0], rises])
    extra = [r for r in rises if not onsets.size or np.min(np.abs(onsets - r)) > ATTACK_FRAMES]
    starts = np.unique(np.concatenate([onsets, np.asarray(extra, dtype=int)])).astype(int)
    steady = max(min_frames, ATTACK_FRAMES)
    notes: list[tuple[int, int, int]] = []
    for i, a in enumerate(starts):
        b = starts[i + 1] if i + 1 < len(starts) else n
        peak = energy_db[a:b].max(initial=-np.inf)
        quiet = np.flatnonzero(energy_db[a + 1 : b] < max(peak - NOTE_DROP_DB, SILENCE_DB))
        end = a + 1 + quiet[0] if quiet.size else b
        if np.count_nonzero(voiced[a:end]) < min_frames:
            continue
        pieces = [[a, end, pitch_of(a, end)]]
        # legato: runs of one (rounded, median-smoothed) pitch after the attack, loud enough
        track = np.round(_median5(pitch[a:end])).astype(int)
        loud = voiced[a:end] & (energy_db[a:end] > peak - 12)
        run_start = ATTACK_FRAMES
        for k in range(ATTACK_FRAMES + 1, end - a + 1):
            if k < end - a and track[k] == track[run_start] and loud[k]:
                continue
            p = int(track[run_start])
            if k - run_start >= steady and loud[run_start] and abs(p - pieces[-1][2]) not in (0, 12, 24):
                pieces[-1][1] = a + run_start
                pieces.append([a + run_start, end, pitch_of(a + run_start, end)])
            run_start = k
        notes.extend((int(s), int(e), int(p)) for s, e, p in pieces if e - s >= min_frames or s == a)
    return notes


def _median5(x: np.ndarray) -> np.ndarray:
    if x.size < 5:
        return x
    from scipy.ndimage import median_filter

    return median_filter(x, size=5, mode="nearest")


def _onset_frames(y: np.ndarray, sr: int) -> np.ndarray:
    """Onset frames: peaks of spectral flux (the summed rise of the log mel spectrum), at least ~80 ms apart."""
    import librosa

    envelope = librosa.onset.onset_strength(y=y, sr=sr, hop_length=HOP, n_fft=1024, lag=1, max_size=3)
    onsets = librosa.onset.onset_detect(
        onset_envelope=envelope, sr=sr, hop_length=HOP, backtrack=False, delta=0.1, wait=7, units="frames"
    )
    return np.asarray(onsets, dtype=int)


def _energy_db(y: np.ndarray, n_frames: int) -> np.ndarray:
    import librosa

    rms = librosa.feature.rms(y=y, frame_length=1024, hop_length=HOP)[0][:n_frames]
    rms = np.pad(rms, (0, n_frames - rms.size))
    return 20 * np.log10(np.maximum(rms, 1e-10) / max(float(rms.max()), 1e-10))


def _note_pitch(spectrum: np.ndarray, a: int, b: int) -> int:
    """Pitch of the note starting at frame ``a``: the salience peak of what the note *added* to the spectrum.

    Frames ~35-170 ms after the onset are averaged and the spectrum from just before the onset is
    subtracted, so a previous note still ringing (music box, guitar) does not pull the estimate.
    """
    after = spectrum[:, a + 3 : min(b, a + 15)].mean(axis=1) if b - a > 5 else spectrum[:, a:b].mean(axis=1)
    if a >= 10:
        added = np.maximum(after - spectrum[:, a - 10 : a - 7].mean(axis=1), 0.0)
        if added.sum() > 0.2 * after.sum():
            after = added
    return int(np.argmax(salience(after)[:, 0])) + MIN_PITCH


def _notes_salience(y: np.ndarray, sr: int, min_frames: int) -> list[tuple[int, int, int]]:
    import librosa

    magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, window="hann")).astype(np.float32)
    pitch, harmonicity, spectrum = _salience_pitch(magnitude)
    energy_db = _energy_db(y, pitch.size)
    onsets = _onset_frames(y, sr)
    voiced = (harmonicity >= MIN_HARMONICITY) & (pitch > MIN_PITCH)  # the floor of the range is a clamp, not a pitch

    def pitch_of(a: int, b: int) -> int:
        return _note_pitch(spectrum, a, b)

    return _segment(onsets, pitch, voiced, energy_db, min_frames, pitch_of)


def _notes_pyin(y: np.ndarray, sr: int, min_frames: int) -> list[tuple[int, int, int]]:
    import librosa

    f0, voiced, _ = librosa.pyin(
        y, fmin=librosa.midi_to_hz(MIN_PITCH), fmax=librosa.midi_to_hz(MAX_PITCH), sr=sr, frame_length=2048, hop_length=HOP
    )
    pitch = np.where(voiced, librosa.hz_to_midi(np.where(voiced, f0, 440.0)), np.nan)
    voiced = voiced & (pitch >= MIN_PITCH + 0.5)  # f0 at fmin: pyin clamped a lower (or no) pitch there
    pitch = np.where(voiced, pitch, np.nan)
    energy_db = _energy_db(y, pitch.size)
    onsets = _onset_frames(y, sr)

    def pitch_of(a: int, b: int) -> int:
        values = pitch[a + 3 : b][np.isfinite(pitch[a + 3 : b])] if b - a > 5 else pitch[a:b][np.isfinite(pitch[a:b])]
        return int(np.round(np.median(values))) if values.size else int(np.round(np.nanmedian(pitch[a:b])))

    return _segment(onsets, np.nan_to_num(pitch), voiced, energy_db, min_frames, pitch_of)


def _basic_pitch_model() -> Path:
    spec = importlib.util.find_spec("basic_pitch")
    model = None
    if spec is not None and spec.submodule_search_locations:
        model = Path(next(iter(spec.submodule_search_locations))) / "saved_models" / "icassp_2022" / "nmp.onnx"
    if model is None or not model.is_file():
        raise BadInputError(
            "method basic-pitch needs the basic-pitch package and onnxruntime: "
            "pip install onnxruntime && pip install --no-deps basic-pitch==0.4.0 (TensorFlow is not needed); "
            "or use method='auto'"
        )
    return model


def _notes_basic_pitch(y: np.ndarray, sr: int, min_frames: int) -> list[tuple[int, int, int]]:
    """Spotify basic-pitch's note/onset posteriorgrams (ONNX), read monophonically."""
    import onnxruntime

    model = _basic_pitch_model()
    n_window = 2 * ANALYSIS_SR - HOP  # the model's 2 s input window
    overlap = 30 * HOP
    step = n_window - overlap
    padded = np.concatenate([np.zeros(overlap // 2, np.float32), y])
    windows = np.stack(
        [
            np.pad(padded[i : i + n_window], (0, max(0, n_window - padded[i : i + n_window].size)))
            for i in range(0, padded.size, step)
        ]
    )[..., None]
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    # outputs: StatefulPartitionedCall:0 pitch contour (264 bins), :1 note (88), :2 onset (88)
    contour_out, note_out, onset_out = session.run(
        ["StatefulPartitionedCall:0", "StatefulPartitionedCall:1", "StatefulPartitionedCall:2"],
        {session.get_inputs()[0].name: windows.astype(np.float32)},
    )
    half = 15

    def unwrap(a: np.ndarray) -> np.ndarray:
        """Drop the overlaps, join the windows, and resample onto our HOP frame grid (the model's kept
        frames span ``step`` samples per window, slightly less than 142 * HOP)."""
        joined = a[:, half:-half].reshape(-1, a.shape[-1])
        ours = np.arange(int(np.ceil(y.size / HOP)))
        index = np.minimum(np.round(ours * HOP * (a.shape[1] - 2 * half) / step).astype(int), len(joined) - 1)
        return joined[index]

    note = unwrap(note_out)  # [frames, 88 pitches from A0 = MIDI 21]
    onset = unwrap(onset_out)
    pitch = np.argmax(note, axis=1).astype(np.float64) + 21
    voiced = note.max(axis=1) > 0.3
    energy_db = _energy_db(y, pitch.size)
    strength = onset.max(axis=1)
    peaks = np.flatnonzero((strength[1:-1] > 0.5) & (strength[1:-1] >= strength[:-2]) & (strength[1:-1] > strength[2:])) + 1

    def pitch_of(a: int, b: int) -> int:
        return int(np.argmax(note[a : min(b, a + 15)].sum(axis=0))) + 21

    return _segment(peaks, pitch, voiced, energy_db, min_frames, pitch_of)


_DETECTORS = {"salience": _notes_salience, "pyin": _notes_pyin, "basic-pitch": _notes_basic_pitch}


def detect_notes(
    samples: np.ndarray, sample_rate: int, method: str = "auto", min_note_seconds: float = 0.06, name: str = "the audio"
) -> list[NoteEvent]:
    """Monophonic notes (seconds, MIDI pitch) in mono ``samples``; raises BadInputError when none are found."""
    import librosa

    if method not in METHODS:
        raise BadInputError(f"unknown transcription method {method!r}; use one of {', '.join(METHODS)}")
    method = "salience" if method == "auto" else method
    if method == "basic-pitch":
        _basic_pitch_model()
    y = np.asarray(samples, dtype=np.float32)
    if sample_rate != ANALYSIS_SR:
        y = librosa.resample(y, orig_sr=sample_rate, target_sr=ANALYSIS_SR, res_type="soxr_hq")
    peak = float(np.abs(y).max()) if y.size else 0.0
    tried = f"method {method}: onsets from spectral flux, pitch from harmonic salience"
    if method == "pyin":
        tried = "method pyin: onsets from spectral flux, f0 from probabilistic YIN"
    elif method == "basic-pitch":
        tried = "method basic-pitch: the basic-pitch note model"
    if peak < 1e-4:
        raise BadInputError(f"no pitched notes found in {name} (tried {tried}; the audio is silent, peak {peak:.1e})")
    y = y / peak
    min_frames = max(2, int(round(min_note_seconds * ANALYSIS_SR / HOP)))
    frames = _DETECTORS[method](y, ANALYSIS_SR, min_frames)
    seconds = HOP / ANALYSIS_SR
    # salience and pyin search MIN_PITCH..MAX_PITCH: a note on the floor is what a lower line (a bass under C2,
    # the low parts of polyphonic music) is clamped to, not a note that was played there
    floor = MIN_PITCH if method in ("salience", "pyin") else MIN_PITCH - 25
    notes = [NoteEvent(a * seconds, b * seconds, p) for a, b, p in frames if floor < p <= 127]
    if not notes and frames:
        raise BadInputError(
            f"no pitched notes found in {name} (tried {tried}): every note found lay at or below the lowest pitch "
            f"searched ({pitch_to_name(MIN_PITCH)}), where a lower line is clamped - is it a bass line, or noise?"
        )
    if not notes:
        raise BadInputError(
            f"no pitched notes found in {name} (tried {tried}; nothing had a harmonic spectrum "
            f"(harmonicity >= {MIN_HARMONICITY}) for {min_note_seconds:g} s) - is it noise, drums or silence?"
        )
    return notes


# --- onto the step grid ----------------------------------------------------------------------------------
def _tempo_guess(onsets: np.ndarray) -> float:
    """Beats per minute from the autocorrelation of the onset train (beat periods 0.25-1 s, prior at 120)."""
    fs = 100.0
    train = np.zeros(int(onsets.max() * fs) + 2 * int(fs))
    np.add.at(train, np.round(onsets * fs).astype(int), 1.0)
    train = np.convolve(train, np.exp(-0.5 * (np.arange(-3, 4) / 1.5) ** 2), mode="same")
    spectrum = np.fft.rfft(train, 2 * train.size)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2)[: train.size]
    lags = np.arange(int(0.25 * fs), int(1.0 * fs) + 1)
    bpm = 60.0 * fs / lags
    prior = np.exp(-0.5 * np.log2(bpm / 120.0) ** 2)
    return float(bpm[int(np.argmax(autocorr[lags] * prior))])


def estimate_grid(
    onsets: np.ndarray, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER, qpm: float | None = None
) -> tuple[float, float]:
    """Tempo (qpm) and grid phase (seconds of step 0) that put the onsets nearest to whole steps.

    The first guess comes from the autocorrelation of the onsets (folded into 70-160 qpm); it is refined
    by maximising how well the onsets line up on a grid: ``|mean(exp(2 pi i t / step))|`` is 1 when every
    onset lies on a step, and its angle gives the grid's phase. ``qpm`` fixes the tempo; only the phase is fitted.
    """
    onsets = np.asarray(onsets, dtype=np.float64)
    if qpm is None:
        guess = _tempo_guess(onsets) if onsets.size > 2 else 120.0
        while guess < 70:
            guess *= 2
        while guess > 160:
            guess /= 2
        candidates = 60.0 / (guess * np.linspace(0.94, 1.06, 481)) / steps_per_quarter
    else:
        candidates = np.array([60.0 / qpm / steps_per_quarter])
    if onsets.size == 0:
        return 60.0 / candidates[0] / steps_per_quarter, 0.0
    phases = np.exp(2j * np.pi * onsets[None, :] / candidates[:, None]).mean(axis=1)
    best = int(np.argmax(np.abs(phases))) if qpm is None else 0
    step = candidates[best]
    phase = (np.angle(phases[best]) / (2 * np.pi)) % 1.0 * step
    return 60.0 / step / steps_per_quarter, float(phase)


def quantize(
    notes: list[NoteEvent], qpm: float, phase: float = 0.0, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
) -> Melody:
    """Notes in seconds -> Melody on the grid (step = a 16th at ``qpm``); the first note lands on step 0."""
    step = 60.0 / qpm / steps_per_quarter
    starts = np.round((np.array([n.onset for n in notes]) - phase) / step).astype(int)
    ends = np.round((np.array([n.offset for n in notes]) - phase) / step).astype(int)
    first = int(starts.min())
    quantised: list[Note] = []
    order = np.argsort(starts, kind="stable")
    for i, k in enumerate(order):
        s = starts[k] - first
        if quantised and quantised[-1].start == s:  # two onsets on one step: keep the first
            continue
        nxt = starts[order[i + 1]] - first if i + 1 < len(order) else None
        e = max(ends[k] - first, s + 1)
        if nxt is not None and nxt > s:
            e = min(e, nxt)
        quantised.append(Note(int(notes[k].pitch), int(s), int(e)))
    melody = Melody.from_notes(
        quantised, steps_per_quarter=steps_per_quarter, steps_per_bar=4 * steps_per_quarter, qpm=round(float(qpm), 2)
    )
    melody.meta["start_seconds"] = float(phase + first * step)
    return melody


def transcribe(
    audio,
    *,
    sample_rate: int | None = None,
    method: str = "auto",
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    qpm: float | None = None,
    max_seconds: float = 120.0,
    min_note_seconds: float = 0.06,
) -> Melody:
    """Transcribe a monophonic recording into a Melody usable as a primer.

    ``audio`` is a file path, a ``(samples, sample_rate)`` tuple, or an array with ``sample_rate``.
    The tempo is estimated (``qpm`` overrides it) and notes are quantised to ``steps_per_quarter`` steps
    per quarter note; the returned Melody's ``qpm`` is that tempo and ``meta["start_seconds"]`` the
    audio time of its step 0. Only the first ``max_seconds`` are used (with a warning).
    """
    samples, sr, name = load_audio(audio, sample_rate)
    if samples.size > max_seconds * sr:
        warnings.warn(f"{name} lasts {samples.size / sr:.0f} s; transcribing only the first {max_seconds:g} s", stacklevel=2)
        samples = samples[: int(max_seconds * sr)]
    notes = detect_notes(samples, sr, method=method, min_note_seconds=min_note_seconds, name=name)
    onsets = np.array([n.onset for n in notes])
    tempo, phase = estimate_grid(onsets, steps_per_quarter, qpm=qpm)
    melody = quantize(notes, tempo, phase, steps_per_quarter)
    melody.name = Path(name).stem if name != "the audio" else "transcription"
    melody.meta.update(method="salience" if method == "auto" else method, notes_detected=len(notes))
    return melody


def read_primer(primer, *, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER, **kwargs) -> Melody | None:
    """Any primer ``parse_primer`` reads, or an audio file (transcribed first, then read like any melody).

    The keywords are ``parse_primer``'s (``primer_bars``, ``qpm``, ``meter``).
    """
    from tunesmith.audio.io import AUDIO_SUFFIXES
    from tunesmith.music.primer import parse_primer

    if isinstance(primer, str | os.PathLike) and Path(primer).suffix.lower() in AUDIO_SUFFIXES:
        if not Path(primer).is_file():
            raise BadInputError(f"primer file {primer} does not exist")
        primer = transcribe(primer, steps_per_quarter=steps_per_quarter)
    return parse_primer(primer, steps_per_quarter=steps_per_quarter, **kwargs)


def transcribe_to_file(audio, path: str | os.PathLike, *, force: bool = False, **kwargs) -> Melody:
    """Transcribe ``audio`` into the MIDI file ``path`` (checked and locked before any work; an existing file is
    replaced only with ``force=True``); returns the Melody."""
    from tunesmith.core.folders import output_file
    from tunesmith.music.midi import write_midi

    with output_file(path, (".mid", ".midi"), inputs=[audio], what="MIDI file", force=force):
        melody = transcribe(audio, **kwargs)
        write_midi(melody, path)
    return melody


# --- evaluation ------------------------------------------------------------------------------------------
def _intervals(notes) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(notes, Melody):
        step = notes.seconds_per_step()
        start = float(notes.meta.get("start_seconds", 0.0))
        rows = [(start + n.start * step, start + n.end * step, n.pitch) for n in notes.notes()]
    else:
        rows = [(n.onset, n.offset, n.pitch) if isinstance(n, NoteEvent) else tuple(n) for n in notes]
    if not rows:
        return np.zeros((0, 2)), np.zeros(0)
    arr = np.asarray(rows, dtype=np.float64)
    arr[:, :2] = np.maximum(arr[:, :2], 0.0)
    arr[:, 1] = np.maximum(arr[:, 1], arr[:, 0] + 1e-3)
    return arr[:, :2], 440.0 * 2.0 ** ((arr[:, 2] - 69) / 12)


def note_f1(reference, estimate, onset_tolerance: float = 0.05) -> dict[str, float]:
    """Note-level precision/recall/F1 (mir_eval): a match has its onset within ``onset_tolerance`` s
    and pitch within 50 cents; offsets are ignored. Melodies are placed in time by their qpm (and
    ``meta["start_seconds"]``); lists hold NoteEvents or ``(onset_s, offset_s, midi_pitch)`` tuples."""
    import mir_eval

    ref_i, ref_p = _intervals(reference)
    est_i, est_p = _intervals(estimate)
    if not len(ref_p) or not len(est_p):
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_i, ref_p, est_i, est_p, onset_tolerance=onset_tolerance, pitch_tolerance=50.0, offset_ratio=None
    )
    return {"precision": float(p), "recall": float(r), "f1": float(f)}
