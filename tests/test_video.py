"""MP4 videos (one H.264 stream + one AAC stream, right duration) and the render benchmark's JSON shape."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tunesmith.audio.render import find_soundfont, render
from tunesmith.core.errors import RenderError
from tunesmith.music.melody import Melody, Note
from tunesmith.outputs.video import ffmpeg_exe, make_video

try:
    find_soundfont()
except RenderError as exc:
    pytest.skip(f"no General MIDI SoundFont: {exc}", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]


def probe(path: Path) -> dict:
    """Streams and duration from ``ffmpeg -i`` (imageio-ffmpeg bundles no ffprobe)."""
    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
    return {
        "duration": int(h) * 3600 + int(m) * 60 + float(s),
        "video": re.findall(r"Stream #\S+: Video: (\w+).*?, (\w+)\(?.*?, (\d+)x(\d+)", info),
        "audio": re.findall(r"Stream #\S+: Audio: (\w+)", info),
    }


def test_video_has_one_h264_and_one_aac_stream_of_the_right_length(tmp_path):
    melody = Melody.from_notes([Note(60 + (i * 5) % 12, 2 * i, 2 * i + 2) for i in range(16)], primer_steps=8)
    path = make_video(melody, tmp_path / "tune.mp4", "music-box", fps=15, width=320, height=180)
    info = probe(path)
    assert len(info["video"]) == 1 and len(info["audio"]) == 1
    codec, pix_fmt, width, height = info["video"][0]
    assert (codec, pix_fmt, width, height) == ("h264", "yuv420p", "320", "180")
    assert info["audio"] == ["aac"]
    audio, sr = render(melody, "music-box")
    assert abs(info["duration"] - len(audio) / sr) < 0.2
    assert not list(tmp_path.glob(".*tmp*"))


def test_video_errors(tmp_path):
    melody = Melody.from_notes([Note(60, 0, 4)])
    with pytest.raises(RenderError, match=".mp4"):
        make_video(melody, tmp_path / "tune.avi")
    with pytest.raises(RenderError, match="even"):
        make_video(melody, tmp_path / "tune.mp4", width=321)


def test_benchmark_quick_prints_one_json_object():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_render.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    result = json.loads(out)
    assert result["machine"]["device"] == "cpu" and result["machine"]["cpu_count"] >= 1
    assert result["render"]["realtime_factor"] > 1
    assert np.isfinite(result["piano_roll"]["html_seconds"]) and result["piano_roll"]["notes"] > 0
    assert result["video"]["encode_seconds"] > 0
    cli = result["render_cli"]
    assert cli["realtime_factor_wall_best"] >= cli["realtime_factor_wall_median"] > 0 and len(cli["one_file"]) == 2
    assert 0 < cli["startup_floor"]["wall_seconds_best"] < min(r["wall_seconds"] for r in cli["one_file"])
