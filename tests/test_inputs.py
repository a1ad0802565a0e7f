"""Damaged and odd input, and nonsense numbers: every case here once crashed, misread the music silently, or said
something no user could act on. Files are real bytes: MIDI written event by event (as a sequencer writes it),
WAVs written by soundfile, then damaged by editing bytes."""

from __future__ import annotations

import io
import signal
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import fill
from fuzzing import ctrl_c_as_typed
from tunesmith.core.errors import BadInputError, TrainingError, UnreadableAudioError
from tunesmith.music.meter import meter_of
from tunesmith.music.smf import write_vlq

FOLK = Path(__file__).parent / "data" / "folk"
SCALE = [60, 62, 64, 65, 67, 69, 71, 72] * 2


# ----------------------------------------------------------------------------- raw MIDI bytes


vlq = write_vlq


def track(events: bytes) -> bytes:
    body = events + b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def midi(*tracks: bytes, tpq: int = 480) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), tpq) + b"".join(tracks)


def notes(pitches, ticks: int = 480, velocity: int = 80) -> bytes:
    return b"".join(b"\x00" + bytes([0x90, p, velocity]) + vlq(ticks) + bytes([0x80, p, 0]) for p in pitches)


def time_signature(numerator: int, denominator_power: int) -> bytes:
    return b"\x00\xff\x58\x04" + bytes([numerator, denominator_power, 24, 8])


def tempo(microseconds_per_quarter: int) -> bytes:
    return b"\x00\xff\x51\x03" + microseconds_per_quarter.to_bytes(3, "big")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def model():
    from tunesmith.melody.generate import load_melody_model

    return load_melody_model("default")


# ----------------------------------------------------------------------------- fuzzed primers


def test_a_255_255_time_signature_is_read_as_4_4_with_a_warning_and_generation_works(model, tmp_path):
    from tunesmith.music.primer import parse_primer
    from tunesmith.outputs.compose import generate_to_dir

    primer = write(tmp_path / "odd_meter.mid", midi(track(time_signature(255, 255) + notes(SCALE))))
    with pytest.warns(UserWarning, match="odd_meter.mid: its time signature .* reading it in 4/4"):
        melody = parse_primer(str(primer))
    assert meter_of(melody) == (4, 4) and melody.steps_per_bar == 16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = generate_to_dir(model, str(primer), tmp_path / "out", steps=16)  # crashed writing the MIDI file
    assert report["meter"] == "4/4" and (tmp_path / "out" / "melody_01.mid").is_file()


def test_a_primer_with_a_huge_delta_time_is_refused_in_plain_words(tmp_path):
    from tunesmith.music.primer import parse_primer

    far = notes(SCALE) + vlq(0x0FFFFFFF) + b"\x90\x3c\x40" + vlq(480) + b"\x80\x3c\x00"
    primer = write(tmp_path / "gap.mid", midi(track(far)))
    with pytest.raises(BadInputError, match=r"gap.mid: its notes span 139,814 bars .*damaged delta time"):
        parse_primer(str(primer))
    # a huge silence before the tune is dropped with the rest of the leading silence: the tune is read
    late = write(tmp_path / "late.mid", midi(track(_late(SCALE))))
    assert parse_primer(str(late)).pitches.tolist() == SCALE


def _late(pitches) -> bytes:
    events = notes(pitches)
    return vlq(0x0FFFFFFF) + events[1:]  # the first note-on comes 0x0FFFFFFF ticks in


def test_damaged_midi_is_explained_in_plain_words(tmp_path):
    from tunesmith.music.midi import read_score

    good = midi(track(notes(SCALE)))
    cases = {
        # symusic said "Get velocity=128"
        "velocity.mid": (midi(track(notes(SCALE[:4]) + b"\x00\x90\x3c\x80")), "a note velocity of 128 .*0-127"),
        # symusic said "Invaild midi file! The first chunk length is not 6, but 5!: iostream error"
        "header.mid": (good[:4] + struct.pack(">I", 5) + good[8:], "its header says it is 5 bytes long; a MIDI header is 6"),
        "long_delta.mid": (midi(track(b"\xff" * 5 + b"\x7f\x90\x3c\x40")), "runs past 4 bytes"),
        "running.mid": (midi(track(b"\x00\x3c\x40" * 3)), "no status byte before it"),
        "smpte.mid": (good[:12] + struct.pack(">H", 0xE728) + good[14:], "SMPTE frames"),
        "cut.mid": (good[: len(good) // 3], "the file is cut short: track 1 announces .* are missing"),
    }
    for name, (data, reason) in cases.items():
        path = write(tmp_path / name, data)
        with pytest.raises(BadInputError, match=reason) as info:
            read_score(path)
        text = str(info.value)
        assert text.startswith(f"{path}: corrupt MIDI file"), text
        for raw in ("Invaild", "Get velocity", "iostream", "MiniMidi", "Get pitch"):
            assert raw not in text, text


def test_a_midi_file_missing_its_last_byte_is_read_with_a_warning(tmp_path):
    from tunesmith.music.midi import read_score

    good = midi(track(notes(SCALE)))
    path = write(tmp_path / "short.mid", good[:-1])
    with pytest.warns(UserWarning, match=r"short.mid: the file is cut short \(1 byte of track 1 missing\)"):
        score = read_score(path)
    assert score.note_num() == len(SCALE)
    assert [n.pitch for n in score.tracks[0].notes] == SCALE
    # cut inside the last note-off: every note is still there, the last one ends where the track does
    cut = write(tmp_path / "cut_in_note.mid", good[:-6])
    with pytest.warns(UserWarning, match="cut short"):
        assert read_score(cut).note_num() == len(SCALE)


def test_note_ons_without_note_offs_are_read_as_notes(tmp_path):
    from tunesmith.music.midi import read_score
    from tunesmith.music.primer import parse_primer

    events = b"".join((b"\x00" if i == 0 else vlq(240)) + bytes([0x90, 60 + (i * 5) % 12, 80]) for i in range(200))
    path = write(tmp_path / "no_offs.mid", midi(track(events)))
    with pytest.warns(UserWarning, match="no_offs.mid: 200 notes had no note-off"):
        score = read_score(path)
    assert score.note_num() == 200
    got = sorted((n.time, n.duration, n.pitch) for n in score.tracks[0].notes)
    assert got[0] == (0, 12 * 240, 60)  # ends at the next note-on of its pitch, 12 notes later
    assert got[-1][1] == 480  # the last one at the end of its track, at least a beat long
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        melody = parse_primer(str(path))  # was "the file holds no notes"
    assert len(melody.notes()) == 200


def test_tempo_zero_and_absurd_tempi_are_refused(tmp_path):
    from tunesmith.music.midi import read_score

    for mspq, said in ((0, "0 \\(an infinitely fast tempo\\)"), (1, "6e\\+07 quarter notes per minute")):
        path = write(tmp_path / f"tempo{mspq}.mid", midi(track(tempo(mspq) + notes(SCALE))))
        with pytest.raises(BadInputError, match=f"tempo{mspq}.mid: its tempo at tick 0 is {said}"):
            read_score(path)
    assert read_score(write(tmp_path / "fine.mid", midi(track(tempo(500_000) + notes(SCALE))))).note_num() == 16


@pytest.mark.slow  # 3-11 s on two busy cores (a trained model or subprocesses)
def test_qpm_zero_is_refused_before_the_output_folder_is_made(model, tmp_path):
    from tunesmith.outputs.compose import generate_to_dir

    with pytest.raises(BadInputError, match=r"--qpm \(qpm=\) must be 4-1000"):
        generate_to_dir(model, "C4 E4", tmp_path / "out", qpm=0)
    assert not (tmp_path / "out").exists()
    proc = _cli("melody", "generate", "--primer", "C4", "--qpm", "0", "-o", tmp_path / "cli")
    assert proc.returncode == 2 and "argument --qpm: must be at least 4, not 0" in proc.stderr
    assert not (tmp_path / "cli").exists()


# ----------------------------------------------------------------------------- meter and form


def test_meter_that_contradicts_a_midi_primers_time_signature_is_refused(tmp_path):
    from tunesmith.music.primer import parse_primer

    four = write(tmp_path / "four.mid", midi(track(time_signature(4, 2) + notes(SCALE))))
    with pytest.raises(BadInputError, match=r"four.mid: the file is in 4/4 \(its time signature\) but --meter says 3/4"):
        parse_primer(str(four), meter="3/4")  # re-barred the tune silently
    assert meter_of(parse_primer(str(four), meter="4/4")) == (4, 4)
    bare = write(tmp_path / "bare.mid", midi(track(notes(SCALE))))  # no time signature: --meter says what it is
    assert meter_of(parse_primer(str(bare), meter="3/4")) == (3, 4)


@pytest.mark.slow  # 6 s on two busy cores
def test_a_form_longer_than_a_melody_needs_its_length_given(model, tmp_path):
    from tunesmith.outputs.compose import generate_to_dir

    with pytest.raises(BadInputError, match=r"has 100 sections: at 4 bars a section .* 400 bars; give the length with --bars"):
        generate_to_dir(model, "C4", tmp_path / "out", form="AB" * 50)  # wrote 400 bars, whatever --steps said
    with pytest.raises(BadInputError, match=r"form 'ABABABABABABABABABAB'\.\.\. \(100 characters\) needs whole bars"):
        generate_to_dir(model, "C4", tmp_path / "out2", form="AB" * 50, steps=64)
    report = generate_to_dir(model, "C4", tmp_path / "ok", form="AB" * 50, bars=100, n=1)
    assert report["outputs"][0]["bars"] == 100


# ----------------------------------------------------------------------------- audio


def _wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_a_wav_whose_bits_field_is_damaged_is_refused(tmp_path):
    from tunesmith.audio.io import load_audio

    data = _wav()
    fmt = data.index(b"fmt ")
    for bits in (7, 20, 0):
        damaged = data[: fmt + 22] + struct.pack("<H", bits) + data[fmt + 24 :]
        path = write(tmp_path / f"bits{bits}.wav", damaged)
        with pytest.raises(UnreadableAudioError, match=f"bits{bits}.wav: damaged WAV header: it says {bits} bits per sample"):
            load_audio(path, None)  # 7 bits was read as twice the length of noise
    with pytest.warns(UserWarning, match="cut short"):  # missing only its last byte: read, with a warning
        audio, rate = load_audio(write(tmp_path / "short.wav", data[:-1]), None)
    assert rate == 16000 and audio.size == 7999


def test_the_transcriber_does_not_put_notes_on_its_range_floor():
    from tunesmith.audio.transcribe import MIN_PITCH, detect_notes

    rate = 22050
    rng = np.random.default_rng(0)
    t = np.arange(rate // 2) / rate
    bass = []
    for _ in range(8):  # a square-wave bass below C2, as in chiptune game music
        f0 = 440 * 2 ** ((28 + rng.integers(0, 5) - 69) / 12)
        bass.append(0.5 * np.sign(np.sin(2 * np.pi * f0 * t)) * np.exp(-1.5 * t))
    found = detect_notes(np.concatenate(bass).astype(np.float32), rate, method="salience")
    assert found and all(n.pitch > MIN_PITCH for n in found), [n.pitch for n in found]


# ----------------------------------------------------------------------------- training numbers and messages


def _cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "tunesmith", "--quiet", *map(str, args)], capture_output=True, text=True, timeout=600, **kwargs
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("--batch-size", "0"), "argument --batch-size: must be at least 1, not 0"),
        (("--lr", "-1"), "argument --learning-rate/--lr: must be above 0, not -1"),
        (("--steps", "0"), "argument --steps: must be at least 1, not 0"),
        (("--dropout", "1.5"), "argument --dropout: must be below 1, not 1.5"),
        (("--eval-every", "-3"), "argument --eval-every: must be at least 1, not -3"),
    ],
)
def test_nonsense_training_numbers_are_refused_by_name_before_anything_is_made(args, message, tmp_path):
    proc = _cli("melody", "train", FOLK, "-o", tmp_path / "model", *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "model").exists()


@pytest.mark.slow  # 3-11 s on two busy cores (a trained model or subprocesses)
def test_audio_training_numbers_are_refused_by_name(tmp_path):
    clip = write(tmp_path / "clip.wav", _wav(1.0))
    for args, message in ((("--batch-size", "0"), "--batch-size: must be at least 1"), (("--lr", "-1"), "--lr: must be above 0")):
        proc = _cli("audio", "train", clip, "-o", tmp_path / "model", *args)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert not (tmp_path / "model").exists()


def test_the_library_refuses_nonsense_numbers_before_making_the_folder(tmp_path):
    from tunesmith.audio_model.train import train_audio_model
    from tunesmith.melody.train import train_melody_model

    with pytest.raises(BadInputError, match=r"batch_size \(--batch-size\) must be at least 1, not 0"):
        train_melody_model(FOLK, tmp_path / "m1", "basic_rnn", steps=5, batch_size=0, progress=False)
    with pytest.raises(BadInputError, match=r"learning_rate \(--learning-rate\) must be above 0, not -1"):
        train_melody_model(FOLK, tmp_path / "m2", "basic_rnn", steps=5, learning_rate=-1.0, progress=False)
    with pytest.raises(TrainingError, match=r"--eval-every \(eval_every=\) must be at least 1, not 0"):
        train_melody_model(FOLK, tmp_path / "m3", "basic_rnn", steps=5, eval_every=0, progress=False)
    with pytest.raises(BadInputError, match=r"--lr\) must be above 0"):
        train_audio_model(write(tmp_path / "clip.wav", _wav()), tmp_path / "a1", learning_rate=-1.0, progress=False)
    assert not any((tmp_path / name).exists() for name in ("m1", "m2", "m3", "a1"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from tunesmith.data.corpus import prepare_corpus

    out = tmp_path_factory.mktemp("corpus") / "corpus"
    prepare_corpus(FOLK, out, progress=False, workers=1)
    return out


TINY = ("--config", "basic_rnn", "--layers", "8", "--batch-size", "4", "--threads", "1", "--device", "cpu")


def test_a_too_large_batch_is_explained_with_the_option_name(corpus, tmp_path):
    from tunesmith.melody.train import train_melody_model

    with pytest.raises(TrainingError, match=r"lower --batch-size to \d+") as info:
        train_melody_model(corpus, tmp_path / "m", "basic_rnn", steps=2, batch_size=100_000, progress=False, layers=[8])
    assert "pass batch_size" not in str(info.value)


@pytest.mark.slow  # two training processes: ~30 s on a busy machine
def test_a_resumed_training_says_how_many_steps_it_ran(corpus, tmp_path):
    model = tmp_path / "model"
    first = _cli("melody", "train", corpus, "-o", model, *TINY, "--steps", "3", "--checkpoint-every", "3", "--eval-every", "3")
    assert first.returncode == 0 and "Trained 3 steps" in first.stdout, first.stderr
    more = _cli("melody", "train", corpus, "-o", model, *TINY, "--steps", "5", "--eval-every", "5", "--resume")
    assert more.returncode == 0, more.stderr
    assert "Trained 2 more steps, 5 in all, in" in more.stdout, more.stdout  # said "Trained 5 steps"


@pytest.mark.slow
def test_ctrl_c_of_training_exits_130_with_the_checkpoint_kept(corpus, tmp_path):
    model = tmp_path / "model"
    command = [sys.executable, "-m", "tunesmith", "--quiet", "melody", "train", str(corpus), "-o", str(model), *TINY]
    proc = subprocess.Popen(
        [*command, "--steps", "100000", "--eval-every", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_as_typed,
    )
    try:
        deadline = time.monotonic() + 120
        while not (model / "config.json").is_file() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr  # was 1
    assert "interrupted at step" in stderr and "--resume" in stderr and "Traceback" not in stderr
    assert (model / "train_state.safetensors").is_file()


def test_models_lists_no_accuracy_for_an_audio_model():
    from tunesmith.assets import BUNDLED
    from tunesmith.core.models import describe

    audio = describe(BUNDLED["audio-default"])
    line = audio.line("audio-default")
    assert "accuracy" not in line and "held-out loss" in line and "repeating the last frame" in line, line
    assert audio.kind == "audio" and line.startswith("audio-default  [audio: ")
    melody = describe(BUNDLED["default"])
    assert melody.kind == "melody" and melody.config_name == "transformer" and "accuracy" in melody.figures


def test_describe_says_a_damaged_model_folder_is_damaged(tmp_path):
    from tunesmith.core.models import describe

    (tmp_path / "config.json").write_text("{not json")
    found = describe(tmp_path)
    assert found.damaged and found.kind is None and "damaged (config.json unreadable)" in found.line("mine")
    (tmp_path / "config.json").write_text('{"kind": "melody", "config": {"name": "basic_rnn"}, "corpus": "/data/c"}')
    found = describe(tmp_path)
    assert (found.kind, found.config_name, found.corpus, found.figures, found.loss_png) == (
        "melody",
        "basic_rnn",
        "/data/c",
        "",
        None,
    )


# ----------------------------------------------------------------------------- a full disk


def test_a_full_disk_in_prepares_parts_stage_says_disk_full_and_the_path(tmpfs):
    from tunesmith.core.errors import DiskFullError
    from tunesmith.data.corpus import prepare_corpus

    disk = tmpfs("disk", "256k")  # a real full disk: numpy's short write happens only there
    fill(disk, leave=12 * 1024)  # room for state.json, not for a part's melodies
    with pytest.raises(DiskFullError) as info:
        prepare_corpus(FOLK, disk / "corpus", progress=False, workers=1)
    message = str(info.value)
    assert message.startswith(f"disk full while writing {disk / 'corpus' / 'parts'}"), message
    assert "requested and" not in message


def test_an_audio_models_training_clips_come_from_its_description(tmp_path):
    """evaluate finds the clip an audio model learned from through describe(), and a gone clip is no clip."""
    import json

    from tunesmith.evaluate.audio import is_audio_model, training_clip

    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF")
    model = tmp_path / "model"
    model.mkdir()
    config = {"kind": "audio", "config": {}, "clips": [str(tmp_path / "gone.wav"), str(clip)]}
    (model / "config.json").write_text(json.dumps(config))
    assert is_audio_model(model) and training_clip(model) == clip
    clip.unlink()
    assert training_clip(model) is None
    (model / "config.json").write_text("{not json")
    assert not is_audio_model(model) and training_clip(model) is None
