"""Chord accompaniment quality: tunesmith's chords on held-out folk tunes against the chords real tunes carry.

1. ``harmonize`` on N held-out tunes of the folk corpus (default 200): share of melody notes on strong beats
   (a chord slot's first step) that are chord tones, the share with a final authentic/plagal cadence, chord
   changes per bar, share of changes inside a bar, and how many tunes were refused as not tonal.
2. The same figures for the tunes of music21's bundled corpus that carry chord symbols (quoted chords in its
   folk ABC collections, and its lead sheets): the human reference for change rates.
3. The harmoniser run on those same reference tunes, to compare like with like.
Prints ONE JSON object; ``--quick`` uses 10 held-out tunes. Targets: chord tones >= 0.8, cadence >= 0.9,
change rate near the reference tunes'.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FOLK, TEST_FOLK, emit, machine, quick  # noqa: E402
from tunesmith.core.errors import BadInputError  # noqa: E402
from tunesmith.music.export import load_melody  # noqa: E402
from tunesmith.music.harmony import ChordSpan, harmonize, harmony_stats, slot_steps_for  # noqa: E402
from tunesmith.music.key import key_from_signature  # noqa: E402
from tunesmith.music.melody import Melody, Note  # noqa: E402

FOLK_COLLECTIONS = ("nottingham-dataset", "ryansMammoth", "oneills1850", "miscFolk", "airdsAirs", "essenFolksong")
CHORD_RE = re.compile(r'"[A-G][#b]?(m|min|maj|dim|aug|7|m7|6|9)*(/[A-Ga-g][#b+]?)?"')
MIN_CHORD_SYMBOLS = 4


def summarise(rows: list[dict]) -> dict:
    def mean(key):
        values = [r[key] for r in rows if r.get(key) is not None]
        return round(float(np.mean(values)), 3) if values else None

    return {
        "tunes": len(rows),
        "strong_beat_chord_tones": mean("strong_beat_chord_tones"),
        "strong_beat_sounding_chord_tones": mean("strong_beat_sounding_chord_tones"),
        "cadence_share": round(float(np.mean([r["cadence"] is not None for r in rows])), 3) if rows else None,
        "changes_per_bar": mean("changes_per_bar"),
        "mid_bar_change_share": mean("mid_bar_change_share"),
    }


def reference_tunes() -> list[tuple[str, object]]:
    """(name, music21 stream) for every bundled folk ABC tune with >= 4 chord symbols, plus the lead sheets."""
    import music21

    corpus = Path(music21.__file__).parent / "corpus"
    out = []
    for collection in FOLK_COLLECTIONS:
        for path in sorted((corpus / collection).glob("*.abc")):
            text = path.read_text(errors="replace")
            for chunk in ("\n" + text).split("\nX:")[1:]:
                if len(CHORD_RE.findall(chunk)) >= MIN_CHORD_SYMBOLS:
                    try:
                        out.append(
                            (
                                f"{collection}/{path.stem}/X{chunk.split(chr(10), 1)[0].strip()}",
                                music21.converter.parse("X:" + chunk, format="abc"),
                            )
                        )
                    except Exception:
                        continue
    for path in sorted((corpus / "leadSheet").glob("*.mxl")):
        out.append((f"leadSheet/{path.stem}", music21.converter.parse(str(path))))
    return out


def melody_and_chords(stream) -> tuple[Melody, list[ChordSpan]]:
    """A Melody (4 steps per quarter) and triad spans from a music21 stream with chord symbols."""
    from music21 import harmony

    spq = 4
    flat = stream.flatten()
    ts = flat.getElementsByClass("TimeSignature").first()
    meter = (ts.numerator, ts.denominator) if ts else (4, 4)
    notes = []
    for n in flat.notes:
        if isinstance(n, harmony.ChordSymbol):
            continue
        pitch = n.pitches[-1].midi
        start = int(round(float(n.offset) * spq))
        notes.append(Note(pitch, start, start + max(1, int(round(float(n.quarterLength) * spq)))))
    notes = [n for n in notes if n.end > n.start]
    melody = Melody.from_notes(notes, steps_per_quarter=spq, meter=meter)
    ks = flat.getElementsByClass("KeySignature").first()
    if ks is not None:
        mode = getattr(ks, "mode", "major")
        melody.meta["key"] = key_from_signature(ks.sharps, mode == "minor")
    symbols = [c for c in flat.getElementsByClass(harmony.ChordSymbol) if c.root() is not None]
    last = max(n.end for n in notes)
    spans = []
    for i, c in enumerate(symbols):
        start = int(round(float(c.offset) * spq))
        end = int(round(float(symbols[i + 1].offset) * spq)) if i + 1 < len(symbols) else last
        root = c.root().pitchClass
        third = (c.third.pitchClass - root) % 12 if c.third is not None else 4
        quality = "min" if third == 3 else "maj"
        if c.fifth is not None and (c.fifth.pitchClass - root) % 12 == 6:
            quality = "dim"
        if spans and spans[-1].root == root and spans[-1].quality == quality:
            spans[-1] = ChordSpan(spans[-1].start, end, root, quality, spans[-1].symbol)
        elif end > start:
            spans.append(ChordSpan(start, end, root, quality, c.figure))
    return melody, spans


def main() -> None:
    n = 10 if quick() else 200
    started = time.perf_counter()
    heldout = Path(os.environ.get("TUNESMITH_FOLK", FOLK)) / "heldout"  # TUNESMITH_FOLK: the corpus elsewhere
    paths = sorted(heldout.glob("*.mid"))[:n] or sorted(TEST_FOLK.glob("*.mid"))[:n]
    rows, refused = [], []
    for path in paths:
        try:
            rows.append(harmonize(load_melody(path)).stats())
        except BadInputError as exc:
            refused.append(f"{path.name}: {exc}")
    ref_rows, ours_on_ref, names = [], [], []
    if not quick():
        for name, stream in reference_tunes():
            melody, spans = melody_and_chords(stream)
            key = melody.meta.get("key")
            slot = slot_steps_for(melody.meter, 4)
            ref_rows.append(harmony_stats(melody, spans, slot, key))
            names.append(name)
            try:
                ours_on_ref.append(harmonize(melody).stats())
            except BadInputError:
                pass
    emit(
        {
            "benchmark": "harmony",
            "heldout": {
                **summarise(rows),
                "folder": str(paths[0].parent) if paths else None,
                "refused_not_tonal": len(refused),
                "refused": refused[:5],
            },
            "reference_tunes_with_chords": {**summarise(ref_rows), "names": names},
            "ours_on_reference_tunes": summarise(ours_on_ref),
            "targets": {"strong_beat_chord_tones": 0.8, "cadence_share": 0.9},
            "seconds": round(time.perf_counter() - started, 1),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
