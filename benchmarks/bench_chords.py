"""Chords heard in an accompaniment (``--over-chords song.mid``) against the chord symbols it plays.

Tunes with chord symbols are each read twice:
1. the truth: the tune's chord symbols (``load_chords`` on its ABC text: quoted chords, timed by symusic's reader);
2. heard: symusic's ABC reader plays the same tune with its accompaniment (a bass note and a chord, "oom-pah",
   as abc2midi does); that score is written as MIDI with unnamed tracks and ``load_chords`` must hear the chords in
   the accompaniment tracks (``recognize_chords``), with no symbol, no ``chords`` track, no hint.
Two sets: the folk ABC tunes of music21's bundled corpus that carry 4 or more chord symbols (human chords, 7ths
included; this install holds few), and held-out folk tunes (default 200) with the chords ``harmonize`` gives them
(diatonic triads, one or two a bar, real tunes' progressions). Per beat of the melody's span: the share where the
heard chord has the true root, the true triad (major, minor, diminished, augmented: a 7th counts as its triad) and
the exact quality. Prints ONE JSON object; ``--quick`` reads 10 held-out tunes. Target: root and triad >= 0.85.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FOLK, TEST_FOLK, emit, machine, quick  # noqa: E402
from tunesmith.core.errors import BadInputError  # noqa: E402
from tunesmith.music.export import load_chords  # noqa: E402

COLLECTIONS = ("nottingham-dataset", "ryansMammoth", "oneills1850", "miscFolk", "airdsAirs")
TRIAD = {"maj": "maj", "7": "maj", "maj7": "maj", "6": "maj", "sus4": "maj", "sus2": "maj", "min": "min",
         "min7": "min", "min6": "min", "dim": "dim", "dim7": "dim", "m7b5": "dim", "aug": "aug"}  # fmt: skip


def tunes(limit: int) -> list[str]:
    import music21

    from tunesmith.music.midi import _abc_chord_symbols

    corpus = Path(music21.__file__).parent / "corpus"
    out = []
    for collection in COLLECTIONS:
        for path in sorted((corpus / collection).glob("*.abc")):
            for chunk in ("\n" + path.read_text(errors="replace")).split("\nX:")[1:]:
                if len(_abc_chord_symbols("X:" + chunk)) >= 4:
                    out.append("X:" + chunk)
                if len(out) >= limit:
                    return out
    return out


def per_beat(spans, beat: int, end: int) -> list:
    out = [None] * (end // beat)
    for c in spans:
        for b in range(c.start // beat, min(len(out), -(-c.end // beat))):
            out[b] = (c.root, c.quality)
    return out


def harmonized(limit: int) -> list[str]:
    """Held-out folk tunes as ABC text with the chords ``harmonize`` gives them."""
    import os

    from tunesmith.music.export import export_melody, load_melody
    from tunesmith.music.harmony import harmonize

    heldout = Path(os.environ.get("TUNESMITH_FOLK", FOLK)) / "heldout"
    paths = sorted(heldout.glob("*.mid"))[:limit] or sorted(TEST_FOLK.glob("*.mid"))[:limit]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            try:
                melody = load_melody(path)
                found = harmonize(melody)
            except BadInputError:
                continue
            target = export_melody(melody, Path(tmp) / "tune.abc", chords=found.chords, key=found.key, force=True)
            out.append(target.read_text())
    return out


def agreement(chunks: list[str]) -> dict:
    """Per-beat agreement of the chords heard in each tune's played accompaniment with its chord symbols."""
    import symusic

    from tunesmith.music.midi import _quiet_stdout

    root = triad = exact = beats = 0
    read, skipped = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for i, chunk in enumerate(chunks):
            abc, mid = Path(tmp) / f"t{i}.abc", Path(tmp) / f"t{i}.mid"
            abc.write_text(chunk)
            try:
                truth = load_chords(abc)
                with _quiet_stdout():
                    played = symusic.Score.from_abc(chunk)  # melody, then the accompaniment the reader plays
                if len(played.tracks) < 2:
                    raise BadInputError("the ABC reader plays no accompaniment for it")
                for track in played.tracks:
                    track.name = ""
                played.dump_midi(str(mid))
                heard = load_chords(mid)
            except (BadInputError, RuntimeError) as exc:
                skipped.append(f"tune {i}: {str(exc)[:120]}")
                continue
            read += 1
            end = min(truth.chords[-1].end, heard.chords[-1].end)
            pairs = zip(per_beat(truth.chords, truth.steps_per_beat, end), per_beat(heard.chords, truth.steps_per_beat, end))
            for t, h in pairs:
                if t is None:
                    continue
                beats += 1
                root += h is not None and h[0] == t[0]
                triad += h is not None and h[0] == t[0] and TRIAD[h[1]] == TRIAD[t[1]]
                exact += h == t
    return {
        "tunes": read,
        "skipped": len(skipped),
        "skipped_examples": skipped[:3],
        "beats": beats,
        "root_agreement": round(root / beats, 3) if beats else None,
        "triad_agreement": round(triad / beats, 3) if beats else None,
        "exact_agreement": round(exact / beats, 3) if beats else None,
    }


def main() -> None:
    started = time.perf_counter()
    emit(
        {
            "benchmark": "chords",
            "machine": machine(),
            "human_chords": agreement(tunes(300)),
            "harmonized_heldout": agreement(harmonized(10 if quick() else 200)),
            "seconds": round(time.perf_counter() - started, 2),
            "target": "root and triad agreement >= 0.85",
        }
    )


if __name__ == "__main__":
    main()
