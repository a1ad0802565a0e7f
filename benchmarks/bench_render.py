"""Speed of hearing and seeing: render real-time factor, piano-roll HTML+PNG time, video encode time.

Prints ONE JSON object. ``--quick`` uses small sizes (the test suite checks the JSON shape with it).
Targets: render >= 200x real time, 1,000-note piano roll < 1 s, 30 s video < 30 s, on 2 CPU cores.
``render_cli``: the command as a user runs it, a fresh ``tunesmith render`` process (start-up, imports,
SoundFont load included) on a 2-minute 4-track file, best and median of 5, and 5 such files in one call;
goal >= 100x real time. Beside it, the start-up floor: a fresh Python that only imports what any render
needs. Each figure is given as wall clock and as CPU time (user+sys of the process and its children,
which a busy machine inflates far less), with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _songs import band  # noqa: E402
from tunesmith.audio.render import render
from tunesmith.music.melody import Melody, Note
from tunesmith.outputs.plots import save_piano_roll_html, save_piano_roll_png
from tunesmith.outputs.video import make_video


def random_melody(seconds: float, seed: int = 0, qpm: float = 120.0) -> Melody:
    """A random 16th-note-grid melody of about ``seconds`` (4 steps per quarter)."""
    rng = np.random.default_rng(seed)
    steps = int(seconds * qpm / 60 * 4)
    notes, t = [], 0
    while t < steps:
        length = int(rng.integers(1, 5))
        notes.append(Note(int(rng.integers(55, 80)), t, min(t + length, steps)))
        t += length
    return Melody.from_notes(notes, qpm=qpm, primer_steps=16)


def melody_with_notes(count: int, seed: int = 1) -> Melody:
    rng = np.random.default_rng(seed)
    starts = np.cumsum(rng.integers(1, 4, count))
    return Melody.from_notes(
        [Note(int(p), int(s), int(s) + 1) for p, s in zip(rng.integers(48, 84, count), starts)], primer_steps=32
    )


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    began = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a shape check")
    args = parser.parse_args()
    render_seconds, roll_notes, video_seconds = (5.0, 100, 3.0) if args.quick else (60.0, 1000, 30.0)

    result: dict = {
        "benchmark": "render",
        "quick": args.quick,
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "device": "cpu",
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_1min": os.getloadavg()[0],
        },
    }

    melody = random_melody(render_seconds)
    first, _ = timed(render, melody, "piano")  # loads the SoundFont
    second, (audio, sr) = timed(render, melody, "piano")
    audio_seconds = len(audio) / sr
    best = min([second] + [timed(render, melody, "piano")[0] for _ in range(2)])  # other users share the cores
    result["render"] = {
        "instrument": "piano",
        "audio_seconds": round(audio_seconds, 2),
        "notes": len(melody.notes()),
        "first_call_seconds": round(first, 3),
        "seconds": round(second, 3),
        "realtime_factor": round(audio_seconds / second, 1),
        "realtime_factor_best_of_3": round(audio_seconds / best, 1),
        "target_realtime_factor": 200,
    }

    roll = melody_with_notes(roll_notes)
    with tempfile.TemporaryDirectory() as tmp:
        cold_html, _ = timed(save_piano_roll_html, roll, Path(tmp) / "warm.html")  # includes importing bokeh
        cold_png, _ = timed(save_piano_roll_png, roll, Path(tmp) / "warm.png")  # includes importing matplotlib
        html_s, _ = timed(save_piano_roll_html, roll, Path(tmp) / "roll.html")
        png_s, _ = timed(save_piano_roll_png, roll, Path(tmp) / "roll.png")
        result["piano_roll"] = {
            "notes": len(roll.notes()),
            "html_seconds": round(html_s, 3),
            "png_seconds": round(png_s, 3),
            "total_seconds": round(html_s + png_s, 3),
            "first_call_seconds_with_imports": round(cold_html + cold_png, 3),
            "target_seconds": 1.0,
        }

        clip = random_melody(video_seconds, seed=2)
        encode_s, path = timed(make_video, clip, Path(tmp) / "clip.mp4", "music-box")
        result["video"] = {
            "melody_seconds": round(clip.duration_seconds(), 2),
            "fps": 24,
            "size": "960x540",
            "encode_seconds": round(encode_s, 2),
            "megabytes": round(path.stat().st_size / 1e6, 2),
            "target_seconds": video_seconds,
        }
        quick = args.quick
        result["render_cli"] = render_cli(Path(tmp), 20.0 if quick else 120.0, 2 if quick else 5, 2 if quick else 5)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


def run_cli(*args: str, command: tuple[str, ...] = ("-m", "tunesmith", "--quiet")) -> dict:
    """A fresh ``python -m tunesmith`` process: wall seconds and CPU seconds (itself and its children)."""
    import resource

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    began = time.perf_counter()
    subprocess.run([sys.executable, *command, *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "load_before": round(load, 2)}


# what any render command must load before it plays a note: Python, NumPy, the MIDI reader, FluidSynth
STARTUP_FLOOR = "import numpy, symusic, fluidsynth"


def render_cli(tmp: Path, seconds: float, files: int, runs: int = 5) -> dict:
    """``tunesmith render`` on multi-track files as a user runs it: one file per call, then ``files`` in one call."""
    import soundfile

    songs = [band(seconds, tmp / f"band{k}.mid", qpm=120.0 + 4 * k) for k in range(files)]
    one, floor = [], []
    for k in range(runs):  # interleaved with the start-up floor, so both see the same machine
        one.append(run_cli("render", str(songs[0]), "-o", str(tmp / f"one{k}.wav")))
        floor.append(run_cli(command=("-c", STARTUP_FLOOR)))
    audio = soundfile.info(str(tmp / "one0.wav")).duration
    many = run_cli("render", *map(str, songs), "-o", str(tmp / "many"))
    audio_seconds = sum(soundfile.info(str(p)).duration for p in (tmp / "many").glob("*.wav"))
    walls = [r["wall_seconds"] for r in one]
    return {
        "file": f"{seconds:.0f} s, 4 tracks (fiddle, piano chords, bass, drums) from the shared folk tunes",
        "audio_seconds": round(audio, 2),
        "one_file": one,
        "realtime_factor_wall_best": round(audio / min(walls), 1),
        "realtime_factor_wall_median": round(audio / float(np.median(walls)), 1),
        "realtime_factor_cpu_best": round(audio / min(r["cpu_seconds"] for r in one), 1),
        "startup_floor": {
            "what": f"python -c '{STARTUP_FLOOR}'",
            "wall_seconds_best": min(r["wall_seconds"] for r in floor),
            "wall_seconds_median": round(float(np.median([r["wall_seconds"] for r in floor])), 3),
        },
        "files_in_one_call": files,
        "many_files": many,
        "many_realtime_factor_wall": round(audio_seconds / many["wall_seconds"], 1),
        "many_realtime_factor_cpu": round(audio_seconds / many["cpu_seconds"], 1),
        "target_realtime_factor": 100,
    }


if __name__ == "__main__":
    main()
