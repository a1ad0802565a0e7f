"""The bridge and the whole chain on a short real clip with tiny models; the gallery links only real files."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tunesmith.assets import example_clip
from tunesmith.audio_model.train import train_audio_model
from tunesmith.core.errors import BadInputError
from tunesmith.melody.train import train_melody_model
from tunesmith.pipeline import run_pipeline


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from conftest import FOLK

    root = tmp_path_factory.mktemp("models")
    train_melody_model(FOLK, root / "melody", "basic_rnn", steps=5, batch_size=8, layers=[32, 32], progress=False)
    train_audio_model(
        [example_clip()], root / "audio", epochs=1, progress=False, sample_rate=22050, n_fft=512, hop_length=256, units=32
    )
    return root


def linked_files(index: Path) -> list[str]:
    return re.findall(r'(?:src|href)="([^"#]+)"', index.read_text())


@pytest.mark.slow  # 27 s on two busy cores
def test_pipeline_end_to_end(tiny_models, tmp_path):
    out = tmp_path / "results"
    result = run_pipeline(
        example_clip(),
        out,
        audio_model=str(tiny_models / "audio"),
        melody_model=str(tiny_models / "melody"),
        instruments=["piano", "music-box"],
        n=2,
        steps=64,
        seconds=3,
        progress=False,
    )
    index = Path(result["index"])
    assert index.is_file()
    links = linked_files(index)
    assert links and all((out / link).is_file() for link in links)
    assert any(link.endswith("_music-box.wav") for link in links)
    data = json.loads((out / "results.json").read_text())
    assert data["settings"]["n"] == 2 and len(data["melodies"]) == 2 and data["seed"] == 0
    assert (out / "primer.mid").is_file() and (out / "regenerated" / "output_01.wav").is_file()
    # chaining: a previous result's melody is the next primer
    again = run_pipeline(
        example_clip(),
        tmp_path / "again",
        audio_model="none",
        melody_model=str(tiny_models / "melody"),
        primer=str(out / "melody_01.mid"),
        instruments=["piano"],
        n=1,
        steps=64,
        progress=False,
    )
    assert Path(again["index"]).is_file()


def test_pipeline_takes_every_generation_option(tmp_path):
    """The pipeline passes generation's options through: a 3/4 request writes 3/4 MIDI and ABC, ``bars`` sets the
    whole length, and ``steps`` counts new steps after the primer, as in ``melody generate``."""
    import symusic

    common = dict(audio_model="none", melody_model="default", primer="C4 E4 G4", instruments=["piano"])
    result = run_pipeline(
        example_clip(), tmp_path / "waltz", n=1, meter="3/4", bars=6, form="none", formats=["abc"], progress=False, **common
    )
    melody = result["melodies"][0]
    assert melody["bars"] == 6 and melody["steps"] == 6 * 12
    score = symusic.Score.from_file(str(tmp_path / "waltz" / melody["files"]["midi"]))
    assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == (3, 4)
    assert "M:3/4" in (tmp_path / "waltz" / melody["files"]["abc"]).read_text()
    assert result["settings"]["generation"] == {"meter": "3/4", "bars": 6, "form": "none"}  # as given
    new = run_pipeline(example_clip(), tmp_path / "new", n=1, steps=32, progress=False, **common)
    assert new["melodies"][0]["steps"] == len(new["primer"]["events"]) + 32


def test_pipeline_bad_audio(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(22050 * 2, dtype=np.float32), 22050)
    with pytest.raises(BadInputError, match="no pitched notes"):
        run_pipeline(
            silent,
            tmp_path / "out",
            audio_model="none",
            melody_model="default",
            instruments=["piano"],
            n=1,
            progress=False,
        )
    assert not (tmp_path / "out" / "index.html").exists()
    text = tmp_path / "fake.wav"
    text.write_text("not audio")
    with pytest.raises(BadInputError, match="not readable audio"):
        run_pipeline(text, tmp_path / "out2", audio_model="none", melody_model="default", progress=False)


@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_pipeline_refuses_a_clip_without_notes(tmp_path, kind):
    """With the audio model on (the default path), silence or noise is refused naming the file; no melody is made."""
    from tunesmith.core.errors import NoPitchedContentError

    sr = 22050
    audio = np.zeros(5 * sr) if kind == "silence" else 0.3 * np.random.default_rng(0).standard_normal(5 * sr)
    clip = tmp_path / f"{kind}.wav"
    sf.write(clip, audio.astype(np.float32), sr)
    out = tmp_path / "out"
    with pytest.raises(NoPitchedContentError, match=kind) as caught:
        run_pipeline(clip, out, audio_model="audio-default", melody_model="default", n=1, progress=False)
    assert str(clip) in str(caught.value) and "--primer" in str(caught.value)
    assert not list(out.rglob("*.mid")) and not (out / "index.html").exists()


@pytest.mark.slow
def test_pipeline_primer_keeps_the_clips_notes(tiny_models, tmp_path):
    """A C-major scale through the audio model: the primer plays (almost) only C-major pitch classes (the issue saw
    G#4-A#4): it comes from the regenerated audio only when 80% of those notes are the clip's pitch classes."""
    sr = 22050
    t = np.arange(int(0.4 * sr)) / sr
    tones = []
    for pitch in (60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60):
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        tones.append(sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5)) * np.exp(-4 * t) * 0.3)
    clip = tmp_path / "c-major.wav"
    sf.write(clip, np.concatenate(tones).astype(np.float32), sr)
    result = run_pipeline(
        clip,
        tmp_path / "out",
        audio_model=str(tiny_models / "audio"),
        melody_model="default",
        instruments=["piano"],
        n=1,
        steps=128,
        progress=False,
    )
    # the melody is mostly new music: a primer of at most 4 bars, then the 128 new steps asked for
    primer_steps = len(result["primer"]["events"])
    assert primer_steps <= 4 * 16 and result["melodies"][0]["steps"] == primer_steps + 128
    pitches = np.array(result["primer"]["events"])
    pitches = pitches[pitches >= 0]
    assert pitches.size and np.isin(pitches % 12, [0, 2, 4, 5, 7, 9, 11]).mean() >= 0.8, pitches
    assert result["primer_source"] in ("clip", "regenerated")


def test_pipeline_writes_over_chords(tiny_models, tmp_path):
    """``--over-chords``: each melody is the transcribed primer continued over the chords (they set its length), with
    the chords as its accompaniment track and chord symbols, in the gallery; chords no longer than the primer, or a
    bad symbol, are refused before anything is written."""
    import symusic

    chords = "C G Am F C F G C"
    common = dict(audio_model="none", melody_model=str(tiny_models / "melody"), instruments=["piano"], n=2, progress=False)
    result = run_pipeline(example_clip(), tmp_path / "over", over_chords=chords, formats=["abc"], **common)
    out = tmp_path / "over"
    for melody in result["melodies"]:
        assert melody["chords"] == chords.split() and melody["bars"] == 8
        score = symusic.Score.from_file(str(out / melody["files"]["midi"]))
        assert score.tracks[-1].name == "chords" and len(score.tracks[-1].notes) >= 8 * 3
        assert '"Am"' in (out / melody["files"]["abc"]).read_text()
        assert (out / melody["files"]["audio_piano"]).is_file() and (out / melody["files"]["piano_roll_html"]).is_file()
    primer = result["primer"]["events"]
    events = symusic.Score.from_file(str(out / "melody_01.mid")).tracks[0].notes
    assert events[0].pitch == next(p for p in primer if p >= 0)  # the transcribed primer opens the melody
    assert "Am" in Path(result["index"]).read_text()
    assert json.loads((out / "results.json").read_text())["settings"]["over_chords"] == chords
    for bad, words in (("C G Am F", "bars of chords"), ("C H7 G C F G C G", "H7")):
        with pytest.raises(BadInputError, match=words):
            run_pipeline(example_clip(), tmp_path / "bad", over_chords=bad, **common)
        assert not (tmp_path / "bad").exists()
