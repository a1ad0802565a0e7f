"""The speed work on render and video keeps their output: many files in one call (the SoundFont loaded
once), identical renders, frames sent to ffmpeg as YUV 4:2:0."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile
import symusic

from conftest import make_score, scale_tune
from tunesmith.audio.render import find_soundfont, render, render_files
from tunesmith.cli import main
from tunesmith.core.errors import RenderError
from tunesmith.music.melody import Melody, Note

try:
    find_soundfont()
except RenderError as exc:
    pytest.skip(f"no General MIDI SoundFont: {exc}", allow_module_level=True)


@pytest.fixture
def midi_files(tmp_path):
    paths = []
    for k, program in enumerate((0, 24, 40)):
        path = tmp_path / f"tune{k}.mid"
        notes = scale_tune(bars=2, base=55 + 3 * k)
        make_score(notes, program=program, extra_tracks=[([(36, b, 0.5) for b in range(8)], 0, True)]).dump_midi(str(path))
        paths.append(path)
    return paths


def test_renders_of_one_file_are_identical(midi_files):
    first, _ = render(midi_files[0], None, channels=2)
    for _ in range(3):  # FluidSynth's multi-threaded mode broke this about 1 time in 6
        again, _ = render(midi_files[0], None, channels=2)
        assert np.array_equal(first, again)


def test_render_files_writes_one_file_per_input_like_single_renders(midi_files, tmp_path):
    out = tmp_path / "out"
    paths = render_files(midi_files, out)
    assert [p.name for p in paths] == ["tune0.wav", "tune1.wav", "tune2.wav"]
    for source, path in zip(midi_files, paths):
        alone, sr = render(source, None)
        written, written_sr = soundfile.read(path, dtype="float32")
        assert written_sr == sr and len(written) == len(alone)
        assert np.abs(written - alone).max() < 1e-4  # 16-bit rounding only
    with_instruments = render_files(midi_files[:2], tmp_path / "inst", ["piano", "guitar"], suffix=".flac")
    assert sorted(p.name for p in with_instruments) == [
        "tune0_guitar.flac",
        "tune0_piano.flac",
        "tune1_guitar.flac",
        "tune1_piano.flac",
    ]


def test_render_files_keeps_going_past_a_bad_file_and_names_it(midi_files, tmp_path):
    bad = tmp_path / "broken.mid"
    bad.write_text("not a MIDI file")
    out = tmp_path / "out"
    with pytest.raises(RenderError, match="broken.mid") as info:
        render_files([midi_files[0], bad, midi_files[1]], out)
    assert "1 of 3 files not rendered (2 written)" in str(info.value)
    assert sorted(p.name for p in out.iterdir()) == ["tune0.wav", "tune1.wav"]
    with pytest.raises(RenderError, match="must be a folder"):
        render_files(midi_files, tmp_path / "one.wav")
    (tmp_path / "again").mkdir()
    twin = tmp_path / "again" / "tune0.mid"
    twin.write_bytes(midi_files[0].read_bytes())
    with pytest.raises(RenderError, match="tune0"):
        render_files([midi_files[0], twin], out)


def test_cli_renders_many_files_in_one_call(midi_files, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["--quiet", "render", *map(str, midi_files), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["tune0.wav", "tune1.wav", "tune2.wav"]
    assert capsys.readouterr().out.count("Wrote") == 3
    single = tmp_path / "single.ogg"
    assert main(["--quiet", "render", str(midi_files[0]), "-o", str(single), "--instrument", "flute"]) == 0
    assert soundfile.info(single).format == "OGG"


def _band(seconds: int = 24) -> symusic.Score:
    """A piano line with chords and bends, a bass and drums: long enough to render in parallel parts."""
    piano = [(60 + (i * 5) % 12, i / 2, 0.5) for i in range(2 * seconds)]
    piano += [(48 + d, 2 * i, 2) for i in range(seconds // 2) for d in (0, 4, 7)]
    bass = [(36 + (i % 3) * 2, i, 1) for i in range(seconds)]
    drums = [(36, i, 0.25) for i in range(seconds)]
    score = make_score(piano, extra_tracks=[(bass, 33, False), (drums, 0, True)])
    for k, value in enumerate((-4096, 0, 3000, 0)):  # bends below zero too
        score.tracks[0].pitch_bends.append(symusic.PitchBend(k * 960, value))
    return score


def test_mono_is_the_sum_of_the_stereo_channels_in_parts_too():
    """Each part folds its synth's stereo into the result chunk by chunk: the same as summing whole buffers."""
    from tunesmith.audio.render import SCRATCH_FRAMES, _events, _parts

    score = _band()
    assert len(_parts(*_events(score, None, None, 44100), 44100, 2)) == 2
    for piece in (score, Melody.from_notes([Note(60 + i % 5, 2 * i, 2 * i + 2) for i in range(8)])):
        mono, sr = render(piece, None, channels=1)
        stereo, _ = render(piece, None, channels=2)
        assert len(mono) == len(stereo) > 4 * SCRATCH_FRAMES
        folded = stereo[:, 0] + stereo[:, 1]
        folded *= np.abs(mono).max() / np.abs(folded).max()
        np.testing.assert_allclose(mono, folded, atol=1e-5)


def test_split_channels_with_pitch_bends_keep_the_bends_in_every_part():
    from tunesmith.audio.render import _BEND, _events, _parts

    events, presets = _events(_band(), None, None, 44100)
    bends = events[events[:, 1] == _BEND]
    assert (bends[:, 3] < 0).any()
    parts = _parts(events, presets, 44100, 2)
    piano = [part for part, own in parts if 0 in own]
    assert len(piano) == 2 and all(np.array_equal(part[part[:, 1] == _BEND], bends) for part in piano)


def test_wav_files_are_16_bit_full_scale_and_clipped_not_wrapped(tmp_path):
    from tunesmith.audio.io import WAV_CHUNK, write_audio

    t = np.arange(WAV_CHUNK + 1000) / 44100
    mono = (0.9 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    loud = np.stack([1.7 * mono, -mono], 1)  # the left channel beyond full scale
    for samples, name in ((mono, "mono.wav"), (loud, "loud.wav"), (mono.astype(np.float64), "double.wav")):
        path = write_audio(samples, 44100, tmp_path / name)
        info = soundfile.info(str(path))
        assert (info.subtype, info.samplerate, info.frames) == ("PCM_16", 44100, len(samples))
        back, _ = soundfile.read(str(path), dtype="float32", always_2d=False)
        np.testing.assert_allclose(back, np.clip(samples, -1, 1), atol=1.5 / 32768)  # read back as n / 32768
    back, _ = soundfile.read(str(tmp_path / "loud.wav"), dtype="int16")
    assert back[:, 0].max() == 32767 and back[:, 0].min() == -32768  # clipped: a wrapped sample would flip sign
    assert not list(tmp_path.glob(".*tmp*"))


def test_each_part_plays_its_own_preloaded_copy_of_the_font():
    from tunesmith.audio import soundfont

    path = find_soundfont()
    soundfont.preload_soundfont(path, copies=2)
    first, second = soundfont.load_font(path, 0), soundfont.load_font(path, 1)
    assert first.sfont != second.sfont and soundfont.load_font(path, 1) is second


def test_a_render_synth_selects_only_the_presets_it_plays():
    """Adding the font would select the piano and the standard kit on all 256 channels (reading their samples);
    a render's synth starts with every channel unset."""
    from tunesmith.audio import soundfont

    font = soundfont.load_font(find_soundfont(), 0)
    with font.synth(44100) as (synth, sfid):
        assert {synth.program_info(channel)[0] for channel in range(soundfont.MIDI_CHANNELS)} == {0}  # no font's preset
        synth.program_select(3, sfid, 0, 40)
        assert synth.program_info(3) == (sfid, 0, 40) and synth.program_info(0)[0] == 0


def test_the_command_line_starts_without_numpy():
    """``import tunesmith`` and the CLI load NumPy only when a command needs it: ``render`` starts loading the
    SoundFont first, so the font loads while NumPy imports."""
    code = "import sys, tunesmith, tunesmith.cli; tunesmith.cli.build_parser(); print('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_yuv420_matches_the_bt709_limited_range_values():
    from tunesmith.outputs.video import yuv420

    image = np.zeros((2, 4, 3), np.uint8)
    image[:, 2:] = 255  # black | white
    y, u, v = yuv420(image)
    assert y.tolist() == [[16, 16, 235, 235]] * 2
    assert u.tolist() == [[128, 128]] and v.tolist() == [[128, 128]]
    red = yuv420(np.full((2, 2, 3), (255, 0, 0), np.uint8))
    assert (int(red[0][0, 0]), int(red[1][0, 0]), int(red[2][0, 0])) == (63, 102, 240)  # BT.709 red


def test_video_frames_show_the_roll_and_playhead_in_their_colours(tmp_path):
    from tunesmith.outputs.video import BACKGROUND, BLACK_KEY_ROW, PLAYHEAD_AT, ffmpeg_exe, make_video

    melody = Melody.from_notes([Note(60 + (i * 5) % 12, 2 * i, 2 * i + 2) for i in range(16)], primer_steps=8)
    path = make_video(melody, tmp_path / "tune.mp4", "music-box", fps=12, width=320, height=180)
    frame = subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-ss",
            "1",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    rgb = np.frombuffer(frame, np.uint8).reshape(180, 320, 3).astype(int)
    playhead = int(320 * PLAYHEAD_AT) // 2 * 2
    assert (rgb[:, playhead] > 200).all()  # the white playhead, top to bottom
    far = rgb[:, -3]  # right edge: background rows only (no note 8 s ahead at this moment)
    distance = np.minimum(np.abs(far - BACKGROUND).max(axis=1), np.abs(far - BLACK_KEY_ROW).max(axis=1))
    assert np.median(distance) <= 6  # decoded as the roll's own colours (the colour matrix is right)
