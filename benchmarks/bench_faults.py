"""The fuzz and fault suite's counts: every command over damaged MIDI/ABC/MusicXML/audio and through Ctrl-C,
kill -9, a full disk, a read-only target and two runs at once (the cases of tests/test_command_faults.py).

Runs that pytest module with $TUNESMITH_FAULTS_JSONL set, so each case's outcome is recorded, and prints ONE JSON
object: cases tried, refused cleanly, succeeded, and the failures by kind (tracebacks, data lost, left half-written,
processes left, both of two runs succeeding), with up to 20 failing cases named.

    .venv/bin/python benchmarks/bench_faults.py [--quick]   (--quick: only the prepare case, a shape check)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import ROOT, emit, machine, quick  # noqa: E402

KINDS = {
    "traceback": "traceback",
    "lost": ("is gone", "was changed"),
    "half_written": ("refused, yet", "temp file left", "left "),
    "process_left": "left running",
    "both_succeeded": "both runs reported success",
    "exit_code": "exit code",
    "unclear_message": ("message says none", "without an error message"),
}


def kind_of(problem: str) -> str:
    for kind, words in KINDS.items():
        if any(w in problem for w in ((words,) if isinstance(words, str) else words)):
            return kind
    return "other"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "outcomes.jsonl"
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(ROOT / "tests" / "test_command_faults.py"),
                *(["-k", "prepare"] if quick() else []),
            ],
            cwd=ROOT,
            env=dict(os.environ, TUNESMITH_FAULTS_JSONL=str(jsonl)),
            capture_output=True,
            text=True,
        )
        outcomes = [json.loads(line) for line in jsonl.read_text().splitlines()] if jsonl.exists() else []
    failures = Counter(kind_of(p) for o in outcomes for p in o["problems"])
    emit(
        {
            "benchmark": "faults",
            "machine": machine(),
            "seconds": round(time.perf_counter() - started, 1),
            "cases": len(outcomes),
            "succeeded": sum(1 for o in outcomes if o["returncode"] == 0 and not o["problems"]),
            "refused_cleanly": sum(1 for o in outcomes if o["returncode"] not in (0, None) and not o["problems"]),
            "failed_cases": sum(1 for o in outcomes if o["problems"]),
            "failures_by_kind": dict(failures),
            "failing": [f"{o['case']}: {'; '.join(o['problems'])}"[:240] for o in outcomes if o["problems"]][:20],
            "pytest_summary": done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:],
        }
    )


if __name__ == "__main__":
    main()
