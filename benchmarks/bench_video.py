"""``tunesmith video`` as a user runs it: a fresh process on a 9-minute song, start-up included.

The song is the shared folk tunes played back to back (one track, ~2.5 notes/s). Goal (issue 24):
>= 10x real time on 2 cores. Reported as wall clock and as CPU time (user+sys of the process and its
ffmpeg child: a busy machine inflates it far less than wall time), with the load average; also at
1280x720 / 30 fps (``--size``/``--fps``) for what a bigger video costs.

    python benchmarks/bench_video.py [--seconds 540] [--quick]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, machine  # noqa: E402
from _songs import long_tune  # noqa: E402
from bench_render import run_cli  # noqa: E402


def video_seconds(path: Path) -> float:
    from tunesmith.outputs.video import ffmpeg_exe

    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=540.0, help="length of the song (default 9 minutes)")
    parser.add_argument("--quick", action="store_true", help="a 20 s song: a shape check")
    args = parser.parse_args()
    seconds = 20.0 if args.quick else args.seconds
    out: dict = {"benchmark": "video", "machine": machine(), "quick": args.quick, "target_realtime_factor": 10}
    with tempfile.TemporaryDirectory(prefix="tunesmith-video-bench-") as tmp:
        song = long_tune(seconds, Path(tmp) / "song.mid")
        for name, extra in (("default", []), ("1280x720_30fps", ["--size", "1280x720", "--fps", "30"])):
            video = Path(tmp) / f"{name}.mp4"
            run = run_cli("video", str(song), "-o", str(video), *extra)
            length = video_seconds(video)
            out[name] = {
                **run,
                "video_seconds": round(length, 1),
                "megabytes": round(video.stat().st_size / 1e6, 2),
                "realtime_factor_wall": round(length / run["wall_seconds"], 1),
                "realtime_factor_cpu": round(length / run["cpu_seconds"], 1),
                "load_after": round(os.getloadavg()[0], 2),
            }
    emit(out)


if __name__ == "__main__":
    main()
