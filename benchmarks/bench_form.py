"""Form: does the shipped default compose tunes that repeat, answer and come home, like held-out folk tunes?

As issue 18 measured it: the shipped default with default settings, primer C4, 100 melodies of 144 new steps,
written as MIDI; figures over bars 2-9 (bar length from each file's time signature) of the generated files and of
the 210 held-out folk tunes (and the training tunes, for scale). Our figures are checked against the shared
reference script ``tools/melody_structure.py`` on the same files. ``overlap`` is evaluate's MGEval mean OA of the
generated windows vs the held-out windows (squashed into the model's range in C, as ``tunesmith evaluate`` does).
Targets (issue 18): ratio 0.75-1.5 on bar_repeat and motif_repeat, >= 0.9 tonic_end, >= 0.97 in_key, OA >= 0.85.

    python benchmarks/bench_form.py [--quick] [--n 100] [--steps 144] [--temperature T] [--form AABB] [--no-tonic]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import FOLK, SHARED, emit, machine  # noqa: E402
from tunesmith.evaluate.form import FORM_FIGURES, compare_form, form_statistics, melodies_from_midi_folder  # noqa: E402
from tunesmith.evaluate.statistics import compare_sets  # noqa: E402
from tunesmith.melody.generate import load_melody_model  # noqa: E402
from tunesmith.outputs.compose import generate_to_dir  # noqa: E402

if not FOLK.is_dir():  # a git worktree beside the main checkout: the shared folder is the main one's
    SHARED = Path("/work/shared")
    FOLK = SHARED / "data" / "folk-melodies"
TOOL = SHARED / "tools" / "melody_structure.py"
FIRST_BAR, BARS = 1, 8  # bars 2-9
TARGETS = {"bar_repeat": (0.75, 1.5), "motif_repeat": (0.75, 1.5), "tonic_end": (0.9, None), "in_key": (0.97, None)}


def windows(melodies, model):
    """Bars 2-9 of each melody, squashed into the model's range in C (for the MGEval overlap)."""
    out = []
    for m in melodies:
        start, stop = FIRST_BAR * m.steps_per_bar, (FIRST_BAR + BARS) * m.steps_per_bar
        cut = m.copy(events=m.events[start:stop])
        if (cut.events >= 0).sum() >= 4:
            out.append(cut.squash(model.config.min_note, model.config.max_note, 0))
    return out


def tool_figures(generated: Path, reference: Path) -> dict | None:
    if not TOOL.is_file():
        return None
    run = subprocess.run(
        [sys.executable, str(TOOL), str(generated), str(reference), "--bars", str(BARS), "--skip-bars", str(FIRST_BAR)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--steps", type=int, default=144)
    parser.add_argument("--model", default="default")
    parser.add_argument("--train-tunes", action="store_true", help="also the training tunes' figures (slow)")
    parser.add_argument(
        "--magenta",
        help="NAME=DIR,...: folders of Magenta melody_rnn_generate outputs (recipe: shared/reference/baselines/magenta, "
        "--primer_melody=[60] --num_steps=145), scored the same way, side by side",
    )
    args, extra = parser.parse_known_args()
    settings = {}
    for flag in extra:  # generation settings passed through: --temperature=0.7 --form=AABB --end-on-tonic=0
        key, _, value = flag.lstrip("-").partition("=")
        settings[key.replace("-", "_")] = json.loads(value) if value[:1].isdigit() or value in ("true", "false") else value
    n = 10 if args.quick else args.n
    model = load_melody_model(args.model)
    heldout = FOLK / "heldout"
    with tempfile.TemporaryDirectory(prefix="tunesmith-form-") as tmp:
        start = time.perf_counter()
        generate_to_dir(model, "C4", tmp, n=n, steps=args.steps, **settings)
        seconds = time.perf_counter() - start
        generated = melodies_from_midi_folder(tmp)
        reference = melodies_from_midi_folder(heldout)
        gen_form = form_statistics(generated, FIRST_BAR, BARS)
        ref_form = form_statistics(reference, FIRST_BAR, BARS)
        tool = tool_figures(Path(tmp), heldout)
    comparison = compare_form(gen_form, ref_form)
    overlap = compare_sets(windows(generated, model), windows(reference, model))["summary"]["mean_oa"]
    agree = None
    if tool:
        agree = all(
            abs(round(side_ours[k], 3) - tool[side][k]) <= 0.0015
            for side, side_ours in (("generated", gen_form), ("reference", ref_form))
            for k in tool[side]
            if k != "melodies"
        )
    met = {
        k: (lo is None or comparison[k]["ratio"] >= lo) and (hi is None or comparison[k]["ratio"] <= hi)
        for k, (lo, hi) in TARGETS.items()
        if comparison[k]["ratio"] is not None
    }
    met["overlap"] = overlap is not None and overlap >= 0.85
    out = {
        "benchmark": "form",
        "model": str(model.model_dir),
        "settings": {
            "primer": "C4",
            "n": n,
            "steps": args.steps,
            **settings,
            "window": f"bars {FIRST_BAR + 1}-{FIRST_BAR + BARS}",
        },
        "generate_seconds": round(seconds, 2),
        "figures": {k: comparison[k] for k in FORM_FIGURES},
        "melodies": {"generated": gen_form["melodies"], "reference": ref_form["melodies"]},
        "overlap_mean_oa": overlap,
        "targets_met": met,
        "reference_script": tool,
        "agrees_with_reference_script": agree,
        "machine": machine(),
    }
    if args.magenta:
        out["magenta"] = {}
        for item in args.magenta.split(","):
            name, _, folder = item.partition("=")
            theirs = form_statistics(melodies_from_midi_folder(folder), FIRST_BAR, BARS)
            out["magenta"][name] = {"figures": compare_form(theirs, ref_form), "melodies": theirs["melodies"]}
    if args.train_tunes:
        out["train_tunes"] = form_statistics(melodies_from_midi_folder(FOLK / "train"), FIRST_BAR, BARS)
    emit(out)


if __name__ == "__main__":
    main()
