"""Key finding: tunesmith's ``estimate_key`` (the one key finder of scores, exports and chords) against the keys the
tunes' own ABC ``K:`` fields give (O'Neill's and Ryan's in the folk corpus; modes folded: dorian -> minor,
mixolydian -> major) and against music21's ``analyze('key')`` on the same MIDI files.

Reports, on N Irish tunes plus N/2 Essen tunes (Essen's K: fields name only a signature, so they count only against
music21): agreement of the notes-only estimate, of ``key_of`` (estimate with the file's signature) and of music21.
Prints ONE JSON object; ``--quick`` uses 20 tunes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FOLK, emit, machine, quick  # noqa: E402
from tunesmith.music.export import key_of, load_melody  # noqa: E402
from tunesmith.music.key import Key, estimate_key  # noqa: E402

MODE_FOLD = {"": "major", "maj": "major", "ion": "major", "mix": "major", "lyd": "major"}
MODE_FOLD.update({"m": "minor", "min": "minor", "dor": "minor", "aeo": "minor", "phr": "minor"})
PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def abc_key(path: Path, corpus: Path, cache: dict):
    """(Key, modal?) from the tune's ABC K: field in music21's corpus, or None."""
    coll, book, x = path.stem.split("__")
    if coll == "essenFolksong":
        return None
    abc = corpus / coll / f"{book}.abc"
    if abc not in cache:
        cache[abc] = abc.read_text(errors="replace")
    for chunk in ("\n" + cache[abc]).split("\nX:")[1:]:
        if chunk.split("\n", 1)[0].strip() == x[1:]:
            m = re.search(r"^K:[ \t]*([A-G])([#b]?)[ \t]*([A-Za-z]*)", chunk, re.M)
            mode = MODE_FOLD.get(m.group(3).lower()[:3]) if m else None
            if mode is None:
                return None
            tonic = (PC[m.group(1)] + {"#": 1, "b": -1, "": 0}[m.group(2)]) % 12
            return Key(tonic, mode), m.group(3).lower()[:3] in ("dor", "mix", "lyd", "phr")
    return None


def main() -> None:
    import music21

    n = 20 if quick() else 60
    corpus = Path(music21.__file__).parent / "corpus"
    files = sorted((FOLK / "train").glob("*.mid")) + sorted((FOLK / "heldout").glob("*.mid"))
    irish = [f for f in files if not f.name.startswith("essen")]
    essen = [f for f in files if f.name.startswith("essen")]
    pick = irish[:: max(1, len(irish) // n)][:n] + essen[:: max(1, len(essen) // max(1, n // 2))][: n // 2]
    cache: dict = {}
    rows = []
    for f in pick:
        melody = load_melody(f)
        m21 = music21.converter.parse(str(f)).analyze("key")
        m21_key = Key(m21.tonic.pitchClass, m21.mode if m21.mode in ("major", "minor") else "major")
        truth = abc_key(f, corpus, cache)
        est, with_sig = estimate_key(melody)[0], key_of(melody)
        rows.append((est, with_sig, m21_key, truth))

    def share(pairs):
        pairs = list(pairs)
        return {"agree": sum(pairs), "of": len(pairs), "share": round(sum(pairs) / max(1, len(pairs)), 3)}

    tonal = [r for r in rows if r[3] and not r[3][1]]
    emit(
        {
            "benchmark": "key",
            "machine": machine(),
            "tunes": len(rows),
            "estimate_vs_music21": share(r[0] == r[2] for r in rows),
            "key_of_vs_music21": share(r[1] == r[2] for r in rows),
            "estimate_vs_abc_K_major_minor_tunes": share(r[0] == r[3][0] for r in tonal),
            "key_of_vs_abc_K_major_minor_tunes": share(r[1] == r[3][0] for r in tonal),
            "music21_vs_abc_K_major_minor_tunes": share(r[2] == r[3][0] for r in tonal),
            "estimate_vs_abc_K_all_modes_folded": share(r[0] == r[3][0] for r in rows if r[3]),
            "music21_vs_abc_K_all_modes_folded": share(r[2] == r[3][0] for r in rows if r[3]),
        }
    )


if __name__ == "__main__":
    main()
