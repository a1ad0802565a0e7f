"""Generation speed: 100 melodies x 128 steps, temperature sampling and beam search (size 4).

Magenta 2.1.4 here: 87 s (sampling) and 89 s (beam 4) for the same job, one session call per step per melody.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import TEST_FOLK, emit, machine, quick  # noqa: E402
from tunesmith.melody.generate import load_melody_model  # noqa: E402
from tunesmith.melody.train import train_melody_model  # noqa: E402

MAGENTA_SECONDS = {"sample": 87.0, "beam4": 89.0}


def main() -> None:
    from tunesmith.assets import BUNDLED

    n = 10 if quick() else 100
    results = {}
    model_dirs = {}
    if (BUNDLED["default"] / "config.json").is_file():
        model_dirs["default"] = BUNDLED["default"]
    work = Path(tempfile.mkdtemp(prefix="tunesmith-bench-"))
    for name in ("basic_rnn", "attention_rnn"):
        train_melody_model(TEST_FOLK, work / name, name, steps=1, batch_size=8, progress=False)
        model_dirs[name] = work / name
    for label, path in model_dirs.items():
        model = load_melody_model(path)
        model.generate("C4", n=n, steps=128)  # warm-up
        row = {"config": model.config.name}
        for mode, kwargs in (("sample", {}), ("beam4", {"beam_size": 4})):
            start = time.perf_counter()
            model.generate("C4", n=n, steps=128, seed=1, **kwargs)
            seconds = time.perf_counter() - start
            row[f"{mode}_seconds"] = round(seconds, 3)
            row[f"{mode}_speedup_vs_magenta"] = round(MAGENTA_SECONDS[mode] * n / 100 / seconds, 1)
        results[label] = row
    emit(
        {
            "benchmark": "melody_generate",
            "machine": machine(),
            "outputs": n,
            "steps": 128,
            "results": results,
            "goals_seconds": {"sample": 1.0, "beam4": 3.0},
            "magenta_seconds": MAGENTA_SECONDS,
        }
    )


if __name__ == "__main__":
    main()
