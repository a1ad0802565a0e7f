"""Deterministic mutation of real MIDI and audio files, for the reliability tests and benchmark.

Every generator takes a ``seed`` and yields ``(name, kind, data)``: the same seed gives the same
bytes on every machine. MIDI mutants start from the real folk tunes in ``tests/data/folk``; audio
mutants from WAV files made here with soundfile from a short synthesized tone.

A Standard MIDI File is a ``MThd`` chunk (length 6: format, number of tracks, ticks per quarter) and
then ``MTrk`` chunks, each a 4-byte big-endian length and events. Every event starts with a
*delta time*, a variable-length quantity (7 bits per byte, high bit = "more bytes follow", at most
4 bytes, so at most 0x0FFFFFFF ticks). *Running status* lets a channel event leave out its status
byte when it repeats the previous one. A RIFF WAV file is ``RIFF <size> WAVE`` and then chunks
(``fmt `` with the sample format, ``data`` with the samples), each ``<id> <little-endian size>``.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tunesmith.music.smf import write_vlq

FOLK = Path(__file__).parent / "data" / "folk"

MIDI_KINDS = (
    "bitflip",
    "truncate",
    "zero_length",
    "mthd_length",
    "mtrk_length",
    "huge_delta",
    "many_tracks_header",
    "many_tiny_tracks",
    "running_status",
    "random_mthd",
    "bad_division",
)
AUDIO_KINDS = (
    "bitflip",
    "truncate_header",
    "truncate_data",
    "riff_size",
    "data_size",
    "nan_inf",
    "zero_length",
    "no_samples",
    "bad_fmt",
    "odd_rate",
    "long_sparse",
)
END_OF_TRACK = b"\x00\xff\x2f\x00"


# ----------------------------------------------------------------------------- MIDI


vlq = write_vlq  # ``value`` as a MIDI variable-length quantity


def chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """``(offset, id, declared length)`` of every chunk header that follows the declared lengths."""
    found, pos = [], 0
    while pos + 8 <= len(data):
        cid, length = data[pos : pos + 4], struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        found.append((pos, cid, length))
        pos += 8 + length
    return found


def mtrk(events: bytes, end: bool = True) -> bytes:
    body = events + (END_OF_TRACK if end else b"")
    return b"MTrk" + struct.pack(">I", len(body)) + body


def _first_track(data: bytes) -> tuple[int, int]:
    """(offset of the first MTrk's events, their length)."""
    for pos, cid, length in chunks(data):
        if cid == b"MTrk":
            return pos + 8, length
    return len(data), 0


def _insert_in_first_track(data: bytes, events: bytes) -> bytes:
    """Put ``events`` at the start of the first track and fix that track's length field."""
    start, length = _first_track(data)
    if start >= len(data):
        return data + mtrk(events)
    head = data[: start - 4] + struct.pack(">I", length + len(events))
    return head + events + data[start:]


def mutate_midi(data: bytes, kind: str, rng: random.Random) -> bytes:
    """One mutant of the MIDI file ``data``."""
    if kind == "bitflip":
        out = bytearray(data)
        for _ in range(rng.choice((1, 2, 4, 16, 64))):
            pos = rng.randrange(len(out))
            out[pos] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == "truncate":
        return data[: rng.randrange(1, len(data))]
    if kind == "zero_length":
        return b""
    if kind == "mthd_length":
        value = rng.choice((0, 1, 5, 7, 100, 0x7FFFFFFF, 0xFFFFFFFF))
        return data[:4] + struct.pack(">I", value) + data[8:]
    if kind == "mtrk_length":
        tracks = [(p, n) for p, cid, n in chunks(data) if cid == b"MTrk"]
        out = bytearray(data)
        pos, length = rng.choice(tracks)
        value = rng.choice((0, 1, max(0, length - 1), length + 1, length + 1000, 0x7FFFFFFF, 0xFFFFFFFF))
        out[pos + 4 : pos + 8] = struct.pack(">I", value)
        return bytes(out)
    if kind == "huge_delta":
        note = b"\x90\x3c\x40"
        count = rng.choice((1, 2, 20, 200))  # 20 x 0x0FFFFFFF ticks overflows 32-bit tick counters
        events = (vlq(0x0FFFFFFF) + note) * count + vlq(0x0FFFFFFF) + b"\x80\x3c\x00"
        if rng.random() < 0.5:  # or a delta time that never ends (5+ continuation bytes)
            events = b"\xff" * rng.choice((5, 64)) + b"\x7f" + note
        return _insert_in_first_track(data, events)
    if kind == "many_tracks_header":
        return data[:10] + struct.pack(">H", 65535) + data[12:]
    if kind == "many_tiny_tracks":
        count = rng.choice((1000, 5000, 20000))
        note = b"\x00\x90\x3c\x40\x60\x80\x3c\x00"
        tiny = mtrk(note if rng.random() < 0.5 else b"")
        return data[:10] + struct.pack(">H", min(count + 1, 65535)) + data[12:] + tiny * count
    if kind == "running_status":
        choice = rng.randrange(4)
        if choice == 0:  # data bytes with no status byte ever given
            events = b"\x00\x3c\x40" * 10
        elif choice == 1:  # running status after a meta event (not allowed)
            events = b"\x00\xff\x01\x01a\x00\x3c\x40\x00\x3c\x00"
        elif choice == 2:  # running status after a sysex (not allowed)
            events = b"\x00\xf0\x02\x7e\xf7\x00\x3c\x40"
        else:  # ten thousand notes on one tick through running status
            events = b"\x00\x90\x3c\x40" + b"".join(b"\x00" + bytes([36 + i % 60, 64]) for i in range(10_000))
        return _insert_in_first_track(data, events)
    if kind == "random_mthd":
        header = b"MThd\x00\x00\x00\x06" + struct.pack(">HHH", rng.randrange(3), rng.randrange(1, 8), rng.randrange(1, 2**16))
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 4096)))
        if rng.random() < 0.5:
            body = b"MTrk" + struct.pack(">I", rng.randrange(2**32)) + body
        return header + body
    if kind == "bad_division":  # 0 ticks per quarter, or an SMPTE (negative) division
        return data[:12] + struct.pack(">H", rng.choice((0, 0x8000, 0xE728, 0xFFFF))) + data[14:]
    raise ValueError(f"unknown MIDI mutation {kind!r}")


def midi_mutants(count: int, seed: int = 0, sources: list[Path] | None = None) -> Iterator[tuple[str, str, bytes]]:
    """``count`` mutants ``(name, kind, bytes)``, cycling through every kind over real folk tunes."""
    rng = random.Random(seed)
    sources = sources or sorted(FOLK.glob("*.mid"))
    originals = [p.read_bytes() for p in sources]
    for i in range(count):
        kind = MIDI_KINDS[i % len(MIDI_KINDS)]
        index = rng.randrange(len(originals))
        yield f"m{i:05d}_{kind}_{sources[index].stem[-8:]}.mid", kind, mutate_midi(originals[index], kind, rng)


def write_midi_mutants(out_dir: Path, count: int, seed: int = 0) -> list[tuple[Path, str]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, kind, data in midi_mutants(count, seed):
        (out_dir / name).write_bytes(data)
        written.append((out_dir / name, kind))
    return written


# ----------------------------------------------------------------------------- audio


def tone(seconds: float = 0.5, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """A short melody of three harmonic tones with a decay (what a plucked string roughly gives)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    out = np.zeros_like(t)
    third = len(t) // 3
    for k, pitch in enumerate(rng.choice([60, 62, 64, 65, 67, 69, 71, 72], size=3)):
        f0 = 440 * 2 ** ((pitch - 69) / 12)
        seg = slice(k * third, (k + 1) * third if k < 2 else len(t))
        local = t[seg] - t[seg][0]
        out[seg] = sum(0.5**h * np.sin(2 * np.pi * f0 * (h + 1) * local) for h in range(4)) * np.exp(-3 * local)
    return (0.4 * out).astype(np.float32)


def wav_bytes(samples: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format="WAV", subtype=subtype)
    data = buffer.getvalue()
    peak = riff_chunks(data).get(b"PEAK")
    if peak:  # libsndfile stamps float WAVs with the wall clock: zero it, or the same clip differs by the second
        data = _put_u32(data, peak[0] + 12, 0)
    return data


def riff_chunks(data: bytes) -> dict[bytes, tuple[int, int]]:
    """``{chunk id: (offset of its header, declared size)}`` of a RIFF WAV file."""
    found, pos = {}, 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        found.setdefault(cid, (pos, size))
        pos += 8 + size + (size & 1)
    return found


def _put_u32(data: bytes, pos: int, value: int) -> bytes:
    return data[:pos] + struct.pack("<I", value & 0xFFFFFFFF) + data[pos + 4 :]


def long_sparse_wav(minutes: float = 10.0, sample_rate: int = 8000) -> bytes:
    """``minutes`` of silence with one click in the middle, 16-bit at 8 kHz (10 min = 9.6 MB)."""
    samples = np.zeros(int(minutes * 60 * sample_rate), dtype=np.int16)
    samples[len(samples) // 2] = 20000
    return wav_bytes(samples, sample_rate)


def mutate_audio(kind: str, rng: random.Random, sample_rate: int = 16000, seconds: float = 0.5) -> bytes:
    """One mutant WAV; the base is a freshly synthesized tone (PCM 16-bit, or float for ``nan_inf``)."""
    clip = tone(seconds, sample_rate, seed=rng.randrange(1000))
    float_wav = kind == "nan_inf" or rng.random() < 0.3
    data = wav_bytes(clip, sample_rate, "FLOAT" if float_wav else "PCM_16")
    chunk = riff_chunks(data)
    data_pos, data_size = chunk[b"data"]
    fmt_pos, _ = chunk[b"fmt "]
    if kind == "bitflip":
        out = bytearray(data)
        for _ in range(rng.choice((1, 4, 16))):
            pos = rng.randrange(min(len(out), data_pos + 8) if rng.random() < 0.7 else len(out))  # mostly the header
            out[pos] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == "truncate_header":
        return data[: rng.randrange(1, data_pos + 8)]
    if kind == "truncate_data":
        return data[: rng.randrange(data_pos + 8, len(data))]
    if kind == "riff_size":
        return _put_u32(data, 4, rng.choice((0, 4, 36, len(data) * 7, 0xFFFFFFFF)))
    if kind == "data_size":
        return _put_u32(data, data_pos + 4, rng.choice((0, 1, 3, data_size * 2, data_size + 1, 0x7FFFFFFF, 0xFFFFFFFF)))
    if kind == "nan_inf":
        values = np.frombuffer(data[data_pos + 8 : data_pos + 8 + data_size], dtype="<f4").copy()
        bad = rng.choice((np.nan, np.inf, -np.inf))
        if rng.random() < 0.5:
            values[rng.randrange(len(values))] = bad
        else:
            values[:] = bad
        return data[: data_pos + 8] + values.tobytes() + data[data_pos + 8 + data_size :]
    if kind == "zero_length":
        return b""
    if kind == "no_samples":  # a well-formed header and no sample at all
        return wav_bytes(np.zeros(0, np.float32), sample_rate, "FLOAT" if float_wav else "PCM_16")
    if kind == "bad_fmt":  # channels, rate, block align or bits per sample nonsense
        field, fmt = rng.choice(((10, "<H"), (12, "<I"), (16, "<I"), (20, "<H"), (22, "<H"), (8, "<H")))
        value = rng.choice((0, 1, 3, 7, 255, 65535, 0xFFFFFFFF)) & (0xFFFF if fmt == "<H" else 0xFFFFFFFF)
        pos = fmt_pos + field
        return data[:pos] + struct.pack(fmt, value) + data[pos + struct.calcsize(fmt) :]
    if kind == "odd_rate":  # a consistent header with an absurd sample rate
        rate = rng.choice((1, 7, 100, 999, 1_000_000, 2**31 - 1))
        data = _put_u32(data, fmt_pos + 12, rate)
        block = struct.unpack("<H", data[fmt_pos + 20 : fmt_pos + 22])[0]
        return _put_u32(data, fmt_pos + 16, rate * block)
    if kind == "long_sparse":
        return long_sparse_wav()
    raise ValueError(f"unknown audio mutation {kind!r}")


def audio_mutants(count: int, seed: int = 0, long_files: int = 1) -> Iterator[tuple[str, str, bytes]]:
    """``count`` WAV mutants ``(name, kind, bytes)`` cycling through the kinds; at most ``long_files``
    10-minute sparse files (9.6 MB each), the rest of those slots become truncated files."""
    rng = random.Random(seed)
    longs = 0
    for i in range(count):
        kind = AUDIO_KINDS[i % len(AUDIO_KINDS)]
        if kind == "long_sparse":
            if longs >= long_files:
                kind = "truncate_data"
            longs += 1
        yield f"a{i:05d}_{kind}.wav", kind, mutate_audio(kind, rng)


def write_audio_mutants(out_dir: Path, count: int, seed: int = 0, long_files: int = 1) -> list[tuple[Path, str]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, kind, data in audio_mutants(count, seed, long_files):
        (out_dir / name).write_bytes(data)
        written.append((out_dir / name, kind))
    return written


# ----------------------------------------------------------------------------- kill -9 and resume


def train_state_step(model_dir: Path) -> int | None:
    """The step saved in ``model_dir/train_state.safetensors`` (None when there is none yet).

    Raises whatever safetensors raises when the file is damaged: after a kill it must never be.
    """
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(model_dir) / "train_state.safetensors"
    if not path.is_file():
        return None
    load_file(str(path))  # every tensor readable
    with safe_open(str(path), framework="pt") as handle:
        return int(json.loads(handle.metadata()["json"])["state"]["step"])


def temp_files(model_dir: Path) -> list[Path]:
    """Temp files of unfinished atomic writes anywhere below ``model_dir``."""
    return sorted(p for p in Path(model_dir).rglob("*") if p.is_file() and ".tmp" in p.name)


def kill_and_resume(
    command: list[str],
    model_dir: Path,
    kill_after_steps: list[int],
    rng: random.Random,
    max_delay: float = 0.05,
    timeout: float = 600.0,
    env: dict | None = None,
) -> dict:
    """Run ``command`` (a training CLI writing ``model_dir``), SIGKILL it once the saved step reaches each
    of ``kill_after_steps`` (plus a random 0..``max_delay`` s, so kills land mid-step or mid-write), and
    restart it with ``--resume`` each time. After every kill the train state must load. Returns a record
    of every kill: the saved step before and after the kill, temp files left, and whether the resumed run
    continued from the last complete checkpoint.
    """
    import signal
    import subprocess
    import time

    kills: list[dict] = []
    deadline = time.monotonic() + timeout
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    resumed_from = 0
    try:
        for target in sorted(kill_after_steps):
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    step = train_state_step(model_dir)
                except Exception:  # caught mid-rename on some file systems: read again
                    step = None
                if step is not None and step >= target:
                    break
                time.sleep(0.005)
            if proc.poll() is not None:
                break  # finished (or failed) before this kill point: nothing left to interrupt
            time.sleep(rng.uniform(0, max_delay))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            saved = train_state_step(model_dir)  # raises if half-written
            record = {
                "target": target,
                "saved_step": saved,
                "temp_files_left": [p.name for p in temp_files(model_dir)],
                "finished_before_kill": proc.returncode == 0,
            }
            kills.append(record)
            if saved is None or saved < resumed_from:
                record["error"] = f"saved step went back from {resumed_from} to {saved}"
            resumed_from = saved or 0
            proc = subprocess.Popen([*command, "--resume"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        _, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return {
        "kills": kills,
        "returncode": proc.returncode,
        "stderr": stderr.decode(errors="replace")[-2000:],
        "temp_files_at_end": [str(p) for p in temp_files(model_dir)],
    }


def weights_equal(dir_a: Path, dir_b: Path, name: str = "model.safetensors") -> bool:
    """True when both directories hold bit-identical tensors under the same names."""
    import torch
    from safetensors.torch import load_file

    a, b = load_file(str(Path(dir_a) / name)), load_file(str(Path(dir_b) / name))
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


def ctrl_c_as_typed() -> None:
    """``preexec_fn`` for a command a test interrupts with SIGINT: it runs as if typed at a terminal. A suite started
    in the background (``nohup pytest … &``) hands its children SIGINT ignored, and a command rightly keeps ignoring
    it then (``core.training``), so without this the test would wait for a Ctrl-C that never arrives."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
