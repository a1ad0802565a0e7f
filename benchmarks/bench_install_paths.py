"""The two install paths' renders: speed, and how alike the pip path sounds to the Debian path.

Debian path: FluidSynth + FluidR3_GM (install.sh). Pip path: the built-in NumPy player + TimGM6mb from pretty_midi
(``pip install tunesmith`` with no system libraries). Also each half alone (the other synth on the same font,
the other font on the same synth), so a difference can be put down to the synth or to the font.
For piano, guitar and music box: real-time factor (audio seconds per wall second, best of 3, after one warm-up
render) and ``tunesmith.evaluate.audio.render_similarity`` against the Debian path's render of the same melody.
Prints ONE JSON object; ``--quick`` renders 8 s instead of 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine  # noqa: E402
from bench_render import random_melody  # noqa: E402
from tunesmith.audio.render import render
from tunesmith.audio.soundfont import SOUNDFONT_PATHS, packaged_soundfont
from tunesmith.evaluate.audio import render_similarity

INSTRUMENTS = ("piano", "guitar", "music-box")


def _render(melody, instrument: str, synth: str, font: Path, repeats: int):
    os.environ["TUNESMITH_SYNTH"] = synth
    render(melody, instrument, soundfont=font)  # warm-up: the font loaded, its samples read
    best, audio = float("inf"), None
    for _ in range(repeats):
        began = time.perf_counter()
        audio, sr = render(melody, instrument, soundfont=font)
        best = min(best, time.perf_counter() - began)
    return audio, sr, best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    seconds = 8.0 if args.quick else 30.0
    repeats = 1 if args.quick else 3
    fluidr3 = next((Path(p) for p in SOUNDFONT_PATHS if Path(p).is_file() and "FluidR3" in Path(p).name), None)
    timgm = packaged_soundfont()
    paths = {"debian": ("fluidsynth", fluidr3), "pip": ("builtin", timgm)}
    paths |= {"builtin_fluidr3": ("builtin", fluidr3), "fluidsynth_timgm": ("fluidsynth", timgm)}
    melody = random_melody(seconds, seed=3)
    figures: dict = {}
    for instrument in INSTRUMENTS:
        renders = {}
        for name, (synth, font) in paths.items():
            if font is None:
                continue
            try:
                audio, sr, wall = _render(melody, instrument, synth, font, repeats)
            except Exception as exc:  # noqa: BLE001 - FluidSynth absent: that path is reported as missing
                figures.setdefault(instrument, {})[name] = {"error": str(exc)[:200]}
                continue
            renders[name] = (audio, sr)
            figures.setdefault(instrument, {})[name] = {"realtime_factor": round(len(audio) / sr / wall, 1)}
        if "debian" in renders:
            for name, (audio, sr) in renders.items():
                if name != "debian":
                    figures[instrument][name] |= render_similarity(audio, renders["debian"][0], sr)
    os.environ.pop("TUNESMITH_SYNTH", None)
    print(
        json.dumps(
            {
                "benchmark": "install_paths",
                "machine": machine(),
                "melody_seconds": seconds,
                "fonts": {"fluidr3": str(fluidr3), "timgm6mb": str(timgm)},
                "figures": figures,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
