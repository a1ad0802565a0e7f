"""Reading and writing audio files: the one reader and writer of tunesmith (audio-model training, transcription, primers, the
pipeline, spectrograms, web uploads) and the one list of audio suffixes, so every part accepts the same files
and refuses damaged ones with the same message."""

from __future__ import annotations

import io
import os
import warnings
import wave
from pathlib import Path

import numpy as np

from tunesmith.core.errors import BadInputError, RenderError, UnreadableAudioError
from tunesmith.core.files import atomic_path, write_bytes

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".m4a", ".opus")
MIN_FILE_RATE, MAX_FILE_RATE = 1000, 768_000  # a header outside this is damaged (a 1 Hz header would resample 16,000x)


def find_audio_files(clips: str | os.PathLike | list | tuple) -> list[Path]:
    """One file, a folder (searched recursively for audio suffixes), or a list of either, as sorted paths."""
    items = [clips] if isinstance(clips, (str, os.PathLike)) else list(clips)
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise BadInputError(f"{path}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        else:
            raise BadInputError(f"{path}: no such audio file or folder")
    if not paths:
        raise BadInputError("no audio clips given")
    return paths


def load_audio(path: str | os.PathLike, sample_rate: int | None, min_samples: int = 1) -> tuple[np.ndarray, int]:
    """Read any soundfile/librosa format as mono float32 at ``sample_rate`` (None: the file's own rate);
    returns (audio, original rate). The one audio reader of tunesmith (training, transcription, pipeline).

    Refuses unreadable, empty, non-finite and too-short audio with a message naming the file; a WAV cut
    short and a silent clip are used with a warning.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: audio file not found")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: the file is empty (0 bytes); re-export the audio")
    check_wav_header(path)
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
    except Exception as first:  # formats libsndfile lacks (m4a...): librosa's audioread fallback
        try:
            import librosa

            with warnings.catch_warnings():  # its deprecation notices are not news to the user
                warnings.simplefilter("ignore")
                audio, rate = librosa.load(str(path), sr=None, mono=True)
        except Exception:
            reason = getattr(first, "error_string", "") or "the format is not recognised"
            raise UnreadableAudioError(
                f"{path}: not readable audio ({reason.rstrip('.').lower()}); convert it to WAV, FLAC, OGG or MP3"
            ) from None
    else:
        short = wav_shortfall(path)
        if short and audio.size:
            warnings.warn(
                f"{path}: the file is cut short ({short[0]:,} of the {short[1]:,} bytes of audio its header announces); "
                f"using the {audio.size / rate:.2f} s that are there",
                stacklevel=2,
            )
    if audio.size == 0:
        raise BadInputError(f"{path}: contains no samples")
    if not np.isfinite(audio).all():
        raise BadInputError(f"{path}: contains NaN or infinite samples; re-export it as ordinary PCM audio")
    if not MIN_FILE_RATE <= rate <= MAX_FILE_RATE:
        raise BadInputError(
            f"{path}: the header claims {rate} samples per second (expected {MIN_FILE_RATE}-"
            f"{MAX_FILE_RATE}); the file is damaged, re-export it"
        )
    sample_rate = sample_rate or rate
    if rate != sample_rate:
        import librosa

        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate)
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if audio.size < min_samples:
        raise BadInputError(
            f"{path}: only {audio.size / sample_rate:.3f} s of audio; need at least "
            f"{min_samples / sample_rate:.3f} s ({min_samples} samples at {sample_rate} Hz)"
        )
    if not np.any(audio):
        warnings.warn(f"{path}: the clip is silent (every sample is 0)", stacklevel=2)
    return audio, int(rate)


def wav_shortfall(path: Path) -> tuple[int, int] | None:
    """``(bytes present, bytes announced)`` of a RIFF WAV whose data chunk is cut short; None when whole."""
    import struct

    if path.suffix.lower() not in (".wav", ".wave"):
        return None
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
        size = os.fstat(handle.fileno()).st_size
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        chunk, length = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk == b"data":
            present = size - pos - 8
            if length in (0, 0xFFFFFFFF) or present >= length:  # 0 / -1: written by a stream, size unknown
                return None
            return present, length
        pos += 8 + length + (length & 1)
    return None


def check_wav_header(path: Path) -> None:
    """Refuse a RIFF WAV whose format chunk contradicts itself (UnreadableAudioError), which libsndfile would read
    as noise: a header saying 7 bits per sample over 2-byte samples is read as 8-bit audio of twice the length."""
    import struct

    if path.suffix.lower() not in (".wav", ".wave"):
        return
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(head):
        chunk, length = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk == b"fmt ":
            if length < 16 or pos + 24 > len(head):
                raise UnreadableAudioError(
                    f"{path}: damaged WAV header (its format chunk is {length} bytes, under 16); re-export the audio"
                )
            tag, channels, rate, byte_rate, block, bits = struct.unpack("<HHIIHH", head[pos + 8 : pos + 24])
            if tag == 0xFFFE and length >= 40 and pos + 34 <= len(head):
                tag = struct.unpack("<H", head[pos + 32 : pos + 34])[0]  # the sub-format's tag
            if tag not in (1, 3):  # PCM and float are checked; other codecs (ADPCM, mu-law...) have rules of their own
                return
            width = -(-bits // 8)
            sane = channels >= 1 and 1 <= bits <= 64 and block == channels * width
            if tag == 3:
                sane = sane and bits in (32, 64)
            elif tag == 1:
                sane = sane and bits >= 8
            if not sane:
                raise UnreadableAudioError(
                    f"{path}: damaged WAV header: it says {bits} bit{'s' if bits != 1 else ''} per sample, "
                    f"{channels} channel{'s' if channels != 1 else ''} and {block} byte{'s' if block != 1 else ''} per "
                    "sample frame, which do not agree; re-export the audio"
                )
            return
        pos += 8 + length + (length & 1)


# --- writing ---------------------------------------------------------------------------------------------
AUDIO_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}


def write_audio(samples: np.ndarray, sample_rate: int, path: str | os.PathLike) -> Path:
    """Write samples as WAV/FLAC/OGG (chosen by the suffix), atomically."""
    path = Path(path)
    fmt = AUDIO_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RenderError(f"{path}: unknown audio format; use a .wav, .flac or .ogg suffix")
    if fmt[0] == "WAV":
        return _write_wav16(samples, int(sample_rate), path)
    import soundfile

    # encoded in memory, written by Python: a full disk is then an OSError that write_bytes reports as
    # "disk full" (libsndfile says only "System error." and may leave a short file)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, int(sample_rate), format=fmt[0], subtype=fmt[1])
    return write_bytes(path, buffer.getbuffer())


WAV_CHUNK = 1 << 18  # samples converted to 16-bit at a time


def _write_wav16(samples: np.ndarray, sample_rate: int, path: Path) -> Path:
    """16-bit PCM WAV by NumPy and the standard library's ``wave``, a chunk at a time, straight into the file.

    Four times faster than libsndfile into memory (a 2-minute render: 8 vs 35 ms) and no whole-file copy;
    values beyond full scale are clipped rather than wrapped around.
    """
    data = np.asarray(samples, np.float32)
    flat = data.reshape(-1)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle, wave.open(handle, "wb") as wav:
        wav.setnchannels(1 if data.ndim == 1 else data.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        for start in range(0, len(flat), WAV_CHUNK):
            chunk = flat[start : start + WAV_CHUNK] * np.float32(32767)
            np.rint(chunk, out=chunk)
            np.clip(chunk, -32768, 32767, out=chunk)
            wav.writeframesraw(chunk.astype("<i2"))
    return path
