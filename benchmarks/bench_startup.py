"""Start-up as a user feels it: the wall time of fresh ``tunesmith`` processes, against a bare ``python -c "import numpy"``.

Each command runs as a new process (``python -m tunesmith ...``, what the ``tunesmith`` script runs), 3 times; the
median is reported, with the heavy modules the command imported (torch, librosa, matplotlib, bokeh, music21) from a
separate ``-X importtime`` run. ``audio generate --seconds 20`` also gives its real-time factor as a user sees it
(process wall time / 20 s) and as the library reports it (generation alone, from generation.json).
Prints ONE JSON object; ``--quick`` runs each command once. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine  # noqa: E402 (this process imports torch; the measured ones import what they need)

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "tunesmith" / "assets" / "examples"
SONG = ASSETS / "midi" / "oneills1850__0001-0050__X8.mid"
CLIP = ASSETS / "audio" / "example.wav"
HEAVY = ("torch", "librosa", "matplotlib", "bokeh", "music21", "fluidsynth", "scipy")
SECONDS = 20.0


def commands(out: Path) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "transcribe": ["transcribe", str(CLIP), "-o", str(out / "t.mid"), "--force"],
        "render": ["render", str(SONG), "-o", str(out / "r.wav"), "--force"],
        "score": ["score", str(SONG), "-o", str(out / "s.svg"), "--force"],
        "plot": ["plot", str(SONG), "-o", str(out / "p.png"), "--force"],
        "melody generate -n 1": ["melody", "generate", "-n", "1", "-o", str(out / "gen"), "--force"],
        "audio generate --seconds 20": [
            "audio",
            "generate",
            "--seed-clip",
            str(CLIP),
            "--seconds",
            f"{SECONDS:g}",
            "-o",
            str(out / "audio"),
            "--force",
        ],
    }


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("TUNESMITH_QUIET", "1")
    return env


def wall(argv: list[str], env: dict) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    return time.perf_counter() - started, done.returncode, done.stderr[-400:]


def heavy_imports(argv: list[str], env: dict) -> list[str]:
    """The heavy top-level packages the process imported (from ``-X importtime``)."""
    done = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], env=env, capture_output=True, text=True)
    found = set()
    for line in done.stderr.splitlines():
        if "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name.split(".")[0] in HEAVY:
                found.add(name.split(".")[0])
    return sorted(found)


def main() -> None:
    repeats = 1 if "--quick" in sys.argv else 3
    env = _env()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="tunesmith-startup-") as tmp:
        out = Path(tmp)
        baseline = [wall([sys.executable, "-c", "import numpy"], env)[0] for _ in range(repeats)]
        base = statistics.median(baseline)
        for name, args in commands(out).items():
            argv = (
                [sys.executable, "-m", "tunesmith", "--quiet", *args]
                if args != ["--help"]
                else [sys.executable, "-m", "tunesmith", "--help"]
            )
            times, code, err = [], 0, ""
            for _ in range(repeats):
                seconds, code, err = wall(argv, env)
                times.append(seconds)
            row = {
                "median_s": round(statistics.median(times), 3),
                "all_s": [round(t, 3) for t in times],
                "over_bare_numpy_s": round(statistics.median(times) - base, 3),
                "heavy_imports": heavy_imports(argv, env),
                "exit_code": code,
            }
            if code:
                row["stderr"] = err
            if name.startswith("audio generate") and not code:
                report = json.loads((out / "audio" / "generation.json").read_text())
                row["real_time_factor_shell"] = round(row["median_s"] / SECONDS, 4)
                row["real_time_factor_library"] = report["real_time_factor"]
            rows[name] = row
    print(
        json.dumps(
            {
                "benchmark": "startup",
                "bare_python_import_numpy_s": round(base, 3),
                "repeats": repeats,
                "commands": rows,
                "machine": machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
