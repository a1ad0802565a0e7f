"""Shared bits for benchmark scripts: machine facts and the shared data paths."""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
from pathlib import Path

# isort: off
import tunesmith  # noqa: F401 - before torch: it sets OMP_WAIT_POLICY=PASSIVE, read when torch loads libgomp
import torch

# isort: on

ROOT = Path(__file__).resolve().parents[1]
# the shared data beside the checkout (/work/shared for /work/main), or $TUNESMITH_SHARED; a worktree one level deeper
SHARED = Path(
    os.environ.get("TUNESMITH_SHARED")
    or next((p / "shared" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "data").is_dir()), ROOT.parent / "shared")
)
FOLK = SHARED / "data" / "folk-melodies"
CLIPS = SHARED / "data" / "clips"
TEST_FOLK = ROOT / "tests" / "data" / "folk"


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_1min": os.getloadavg()[0],
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(obj: dict) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def quick() -> bool:
    return "--quick" in sys.argv
