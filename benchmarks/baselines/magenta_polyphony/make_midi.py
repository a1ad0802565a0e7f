"""Write tunesmith's prepared chorale corpus as MIDI for Magenta: the train split, and for each held-out piece its
first 2 bars (the primer) plus a JSON of what the scorer needs (meter, bar count, Magenta's --num_steps).

The pieces are the exact ones the shipped polyphonic-default saw (decoded from the prepared corpus, so the
train/eval split and the note cleaning are the same), written with tunesmith's own MIDI writer.

    /work/main/.venv/bin/python make_midi.py CORPUS OUT      # CORPUS: a `prepare --polyphonic` folder
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tunesmith.evaluate.polyphony import bars_of
from tunesmith.melody.polyphonic import PolyTokens
from tunesmith.music import polyphony as poly

PRIMER_BARS, BARS = 2, 8  # as evaluate_polyphonic in the shipped report


def main(corpus: Path, out: Path) -> None:
    for split, folder in (("train", "train_midi"), ("eval", "heldout_midi")):
        (out / folder).mkdir(parents=True, exist_ok=True)
        names = json.loads((corpus / f"{split}-00000.sources.json").read_text())
        data = PolyTokens(corpus, split)
        assert len(names) == len(data), (len(names), len(data))
        for i, name in enumerate(names):
            piece = poly.decode(data.piece(i))
            poly.piece_to_score(piece).dump_midi(str(out / folder / f"{i:03d}_{Path(name).stem}.mid"))
    (out / "primers").mkdir(exist_ok=True)
    held = PolyTokens(corpus, "eval")
    names = json.loads((corpus / "eval-00000.sources.json").read_text())
    plan = []
    for i in range(len(held)):
        piece = poly.decode(held.piece(i))
        bars = poly.bar_lines(piece.meters, piece.end)[0]
        count = min(BARS, len(bars) - PRIMER_BARS)  # fewer where the piece is shorter, as evaluate_polyphonic
        if count < 1:
            continue
        end = int(bars[PRIMER_BARS + count]) if PRIMER_BARS + count < len(bars) else piece.end
        primer = bars_of(piece, 0, PRIMER_BARS)
        primer.qpm = 120.0
        path = out / "primers" / f"{i:03d}_{Path(names[i]).stem}.mid"
        poly.piece_to_score(primer).dump_midi(str(path))
        plan.append(
            {
                "index": i,
                "name": names[i],
                "primer": path.name,
                "meter": list(piece.meters[0][1]),
                "count": count,
                "num_steps": -(-end // (poly.STEPS_PER_QUARTER // 4)),  # 16ths up to the end of the last bar
            }
        )
    (out / "plan.json").write_text(json.dumps(plan, indent=1))
    print(f"{len(plan)} primers; train {len(list((out / 'train_midi').iterdir()))} files")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
