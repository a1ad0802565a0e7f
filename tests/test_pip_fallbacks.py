"""The pure-pip path's parts, on real files: the built-in SoundFont player with pretty_midi's TimGM6mb, PNG/PDF
scores through resvg, the doctor's report. (.ci/pip_path runs the same from a built wheel with FluidSynth,
Cairo and the system SoundFont hidden.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import make_score, scale_tune
from tunesmith.audio.render import render
from tunesmith.audio.soundfont import find_soundfont, packaged_soundfont, synth_name
from tunesmith.core.errors import BadInputError, RenderError

TIMGM = packaged_soundfont()


@pytest.fixture
def builtin(monkeypatch):
    monkeypatch.setenv("TUNESMITH_SYNTH", "builtin")
    monkeypatch.setenv("TUNESMITH_SOUNDFONT", str(TIMGM))


def _f0(audio: np.ndarray, sr: int) -> float:
    """The fundamental by autocorrelation over 100-1000 Hz of a steady stretch."""
    seg = audio[int(0.1 * sr) : int(0.5 * sr)].astype(np.float64)
    seg -= seg.mean()
    spectrum = np.fft.rfft(seg, 2 * len(seg))
    ac = np.fft.irfft(spectrum * np.conj(spectrum))[: len(seg)]
    lo, hi = sr // 1000, sr // 100
    return sr / (lo + int(np.argmax(ac[lo:hi])))


def test_pretty_midi_brings_a_general_midi_soundfont():
    assert TIMGM is not None and TIMGM.name == "TimGM6mb.sf2" and TIMGM.stat().st_size > 5_000_000


@pytest.mark.parametrize("instrument", ["piano", "guitar", "music-box"])
def test_the_builtin_player_renders_the_right_pitch(builtin, instrument):
    assert synth_name() == "builtin"
    audio, sr = render(make_score([(69, 0, 2.0)]), instrument)
    assert np.sqrt(np.mean(audio**2)) > 0.02  # not silent
    assert abs(_f0(audio, sr) / 440.0 - 1) < 0.03, _f0(audio, sr)
    low, _ = render(make_score([(57, 0, 2.0)]), instrument)
    assert abs(_f0(low, sr) / 220.0 - 1) < 0.03


def test_the_builtin_player_is_deterministic_and_ends_its_tail(builtin):
    tune = make_score(scale_tune(bars=2))
    a, sr = render(tune, "piano")
    b, _ = render(tune, "piano")
    assert np.array_equal(a, b)
    assert len(a) / sr < 8 * 0.5 + 2.5  # eight half-second notes and at most the release tail
    exact, _ = render(tune, "piano", tail_seconds=0.25)
    assert abs(len(exact) / sr - (4.0 + 0.25)) < 0.01


def test_the_builtin_player_sounds_like_fluidsynth(monkeypatch):
    """Same notes, same SoundFont (FluidR3_GM where installed), the two synths: alike in timbre and in time."""
    from tunesmith.evaluate.audio import render_similarity

    monkeypatch.setenv("TUNESMITH_SYNTH", "fluidsynth")
    try:
        fluid, sr = render(make_score(scale_tune(bars=2)), "guitar")
    except RenderError as exc:
        pytest.skip(f"FluidSynth is not installed: {exc}")
    monkeypatch.setenv("TUNESMITH_SYNTH", "builtin")
    ours, _ = render(make_score(scale_tune(bars=2)), "guitar")
    similar = render_similarity(ours, fluid, sr)
    assert similar["spectral_correlation"] > 0.9, similar
    assert similar["envelope_correlation"] > 0.8, similar


def test_a_file_that_is_not_a_soundfont_is_refused_by_name(builtin, tmp_path, monkeypatch):
    bad = tmp_path / "broken.sf2"
    bad.write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    monkeypatch.setenv("TUNESMITH_SOUNDFONT", str(bad))
    with pytest.raises(RenderError, match="broken.sf2 is not a SoundFont 2 file"):
        render(make_score([(60, 0, 1)]), "piano")
    truncated = tmp_path / "cut.sf2"
    truncated.write_bytes(TIMGM.read_bytes()[:4096])
    monkeypatch.setenv("TUNESMITH_SOUNDFONT", str(truncated))
    with pytest.raises(RenderError, match="cut.sf2"):
        render(make_score([(60, 0, 1)]), "piano")


def test_a_preset_the_font_lacks_is_refused_when_asked_for_by_number(builtin):
    with pytest.raises(RenderError, match="no preset 7:3"):
        render(make_score([(60, 0, 1)]), "piano", preset="7:3")


def test_an_unknown_synth_name_is_refused(monkeypatch):
    monkeypatch.setenv("TUNESMITH_SYNTH", "timidity")
    with pytest.raises(RenderError, match="TUNESMITH_SYNTH=timidity: use one of fluidsynth, builtin"):
        synth_name()


def test_scores_as_png_and_pdf_through_resvg(tmp_path, monkeypatch, folk_dir):
    from PIL import Image

    import tunesmith.outputs.svgconvert as svgconvert
    from tunesmith.outputs.score import save_score

    monkeypatch.setattr(svgconvert, "vector_converter", lambda: None)  # as without the system's Cairo
    tune = sorted(folk_dir.glob("*.mid"))[0]
    png = save_score(tune, tmp_path / "tune.png", title="A tune")
    image = np.asarray(Image.open(png).convert("L"))
    assert image.shape[1] > 500 and (image < 100).mean() > 0.01 and (image > 200).mean() > 0.5  # ink on white
    pdf = save_score(tune, tmp_path / "tune.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    monkeypatch.setattr(svgconvert, "raster_converter", lambda: None)
    with pytest.raises(BadInputError, match="pip install resvg-py"):
        save_score(tune, tmp_path / "again.png")
    assert not (tmp_path / "again.png").exists()


def test_the_doctor_names_each_lesser_choice_once_with_its_command(tmp_path):
    env = os.environ | {"TUNESMITH_SYNTH": "builtin", "TUNESMITH_SOUNDFONT": str(TIMGM)}
    text = subprocess.run([sys.executable, "-m", "tunesmith", "doctor"], capture_output=True, text=True, env=env, timeout=120)
    assert text.returncode == 0, text.stderr
    lesser = text.stdout.split("Lesser choices")[1]
    assert lesser.count("- synth:") == 1 and "built-in NumPy SoundFont player" in lesser
    assert lesser.count("- soundfont:") == 1 and "TimGM6mb" in lesser
    assert "apt install libfluidsynth3" in lesser or "brew install fluid-synth" in lesser
    report = json.loads(
        subprocess.run([sys.executable, "-m", "tunesmith", "doctor", "--json"], capture_output=True, text=True, env=env).stdout
    )
    parts = {p["name"]: p for p in report}
    assert parts["synth"]["degraded"] and parts["soundfont"]["degraded"] and not parts["python"]["degraded"]
    assert all(p["install"] for p in report if p["degraded"])


def test_the_system_soundfont_is_preferred_to_the_packaged_one(monkeypatch):
    monkeypatch.delenv("TUNESMITH_SOUNDFONT", raising=False)
    found = find_soundfont()
    assert found == TIMGM or "FluidR3" in found.name or found.parent.name in ("sf2", "soundfonts")


def test_prepare_with_spawned_workers_as_on_macos_and_windows(tmp_path, folk_dir):
    """macOS and Windows start worker processes by spawn, not fork: nothing may rely on inherited state."""
    code = (
        "import multiprocessing, sys\n"
        "from tunesmith.data.corpus import prepare_corpus\n"
        "if __name__ == '__main__':\n"
        "    multiprocessing.set_start_method('spawn')\n"
        f"    report = prepare_corpus({str(folk_dir)!r}, {str(tmp_path / 'corpus')!r}, workers=2, progress=False)\n"
        "    print(report.files_ok if hasattr(report, 'files_ok') else report)\n"
    )
    script = tmp_path / "spawned.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "corpus" / "corpus.json").is_file()
