"""Score a folder of generated continuations with tunesmith's polyphony evaluation, as the shipped model's report.

Each held-out piece of ``plan.json`` (written by make_midi.py) has a MIDI file ``GEN/<primer stem>.mid``: its
first 2 bars (the primer) and the bars the model continued with. Bars 3-10 (fewer where the piece is shorter) are
set beside the real bars 3-10 of the same piece, exactly as ``evaluate_polyphonic`` does for polyphonic-default:
``polyphony_statistics`` of both sets and the ``realism`` critic on the pairs.

Magenta writes one track (all voices merged), so the melody part is recovered as the soprano: a note is melody
when no note sounding at its onset is higher. (tunesmith's own one-track rule, the top note of each onset, labels
the alto or bass as melody wherever the soprano holds, and the critic then tells real chorales read that way from
the real ones 93% of the time.) The meter is the held-out piece's (Magenta's MIDI carries none).
``real_one_track`` is the real bars merged and read back the same way, and ``reading_check`` the critic on real
vs real-read-back: what the reading alone moves (0.5 = nothing it can see).

    /work/main/.venv/bin/python score.py CORPUS PLAN_JSON GEN_DIR [OUT_JSON]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import symusic

from tunesmith.evaluate.polyphony import bars_of, polyphony_statistics, realism
from tunesmith.melody.polyphonic import PolyTokens
from tunesmith.music import polyphony as poly

PRIMER_BARS = 2


def read_one_track(score: symusic.Score, meters) -> poly.PolyPiece:
    """A MIDI score read by tunesmith with every track merged (as Magenta writes), melody = the soprano."""
    merged = symusic.Score(score.tpq)
    merged.tempos = score.tempos
    track = symusic.Track("all", 0, False)
    for t in score.tracks:
        if not t.is_drum:
            for n in t.notes:
                track.notes.append(n)
    merged.tracks.append(track)
    piece = poly.extract_polyphony(merged, poly.PolyphonySettings(parts=1)).piece
    ends = piece.start + piece.duration
    top = np.array([not ((piece.start <= s) & (ends > s) & (piece.pitch > p)).any() for s, p in zip(piece.start, piece.pitch)])
    piece.part = np.where(top, 0, 1).astype(np.int64)
    piece.meters = meters
    return piece.sorted()


def score_folder(corpus: Path, plan: list[dict], gen_dir: Path) -> dict:
    held = PolyTokens(corpus, "eval")
    real, real_one_track, generated, missing = [], [], [], []
    for item in plan:
        path = gen_dir / (Path(item["primer"]).stem + ".mid")
        if not path.is_file():
            missing.append(path.name)
            continue
        piece = poly.decode(held.piece(item["index"]))
        count = item["count"]
        real.append(bars_of(piece, PRIMER_BARS, count))
        whole = read_one_track(poly.piece_to_score(piece), piece.meters)
        real_one_track.append(bars_of(whole, PRIMER_BARS, count))
        generated.append(bars_of(read_one_track(symusic.Score(str(path)), piece.meters), PRIMER_BARS, count))
    return {
        "generated_dir": str(gen_dir),
        "pieces": len(generated),
        "missing": missing,
        "empty_continuations": int(sum(1 for g in generated if not len(g))),
        "real": polyphony_statistics(real),
        "real_one_track": polyphony_statistics(real_one_track),
        "generated": polyphony_statistics(generated),
        "realism": realism(real, generated, seed=0),
        "reading_check": {k: v for k, v in realism(real, real_one_track, seed=0).items() if k != "differences"},
    }


def main() -> None:
    corpus, plan, gen_dir = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3])
    result = score_folder(corpus, plan, gen_dir)
    text = json.dumps(result, indent=1, default=lambda o: o.item() if isinstance(o, np.generic) else str(o))
    if len(sys.argv) > 4:
        Path(sys.argv[4]).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
