"""Whole pipeline on a 10 s clip with the shipped default models (audio-default + default melody model).

Goal: < 60 s on 2 cores. ``--quick``: 3 s of regenerated audio, one output, one instrument.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, machine, peak_rss_mb, quick  # noqa: E402
from tunesmith.assets import BUNDLED, example_clip  # noqa: E402
from tunesmith.pipeline import run_pipeline  # noqa: E402


def main() -> None:
    small = quick()
    audio_model = "audio-default" if (BUNDLED["audio-default"] / "config.json").is_file() else "none"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_pipeline(
            example_clip(),
            Path(tmp) / "results",
            audio_model=audio_model,
            melody_model="default",
            instruments=["guitar"] if small else ["guitar", "music-box", "piano"],
            n=1 if small else 5,
            seconds=3 if small else 10,
            progress=False,
        )
        seconds = time.perf_counter() - start
    emit(
        {
            "benchmark": "pipeline",
            "machine": machine(),
            "clip": str(example_clip()),
            "audio_model": audio_model,
            "outputs": len(result["melodies"]),
            "seconds": round(seconds, 2),
            "goal_seconds": 60,
            "peak_rss_mb": round(peak_rss_mb()),
        }
    )


if __name__ == "__main__":
    main()
