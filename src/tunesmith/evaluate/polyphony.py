"""How polyphonic output compares with real pieces: held-out likelihood and polyphony statistics.

The statistics (``polyphony_statistics``), each over a set of pieces:

* ``notes_at_once``: notes sounding together, averaged over the steps where anything sounds (1 = monophony).
* ``chord_vocabulary``: distinct pitch-class sets sounding at onsets (of 2+ classes), and the same per 100 onsets
  (the raw count grows with the amount of music, so compare the rate between sets of equal size).
* ``melody_motion`` / ``bass_motion``: mean leap in semitones between successive onsets of the melody part's top
  note and of the lowest note of the piece (voice leading: a chorale moves ~2 in the soprano, ~3 in the bass).
* ``range``: mean span (highest - lowest pitch) of each part per piece, and the lowest/highest pitch.
* ``onsets_per_bar`` and ``notes_per_bar``: rhythmic density.

``evaluate_polyphonic`` continues the first ``primer_bars`` bars of held-out pieces and compares the new bars with
the real bars that followed them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tunesmith.music import polyphony as poly


def _sounding(piece: poly.PolyPiece) -> np.ndarray:
    counts = np.zeros(piece.end + 1, np.int64)
    np.add.at(counts, piece.start, 1)
    np.add.at(counts, piece.start + piece.duration, -1)
    return np.cumsum(counts)[:-1]


def _line(piece: poly.PolyPiece, chosen: np.ndarray, top: bool) -> np.ndarray:
    """The highest (or lowest) pitch sounding among ``chosen`` notes at each of their onsets, in time order."""
    starts, pitches = piece.start[chosen], piece.pitch[chosen]
    ends = starts + piece.duration[chosen]
    line = []
    for t in np.unique(starts):
        sounding = pitches[(starts <= t) & (ends > t)]
        line.append(sounding.max() if top else sounding.min())
    return np.asarray(line, np.int64)


def polyphony_statistics(pieces: list[poly.PolyPiece]) -> dict:
    """The statistics of the module docstring over ``pieces`` (empty pieces are left out)."""
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return {"pieces": 0}
    at_once_sum = at_once_steps = onsets_total = bars_total = notes_total = 0
    chords: set[tuple[int, ...]] = set()
    chord_onsets = 0
    melody_moves, bass_moves = [], []
    spans: dict[int, list[int]] = {0: [], 1: []}
    low, high = 127, 0
    for piece in pieces:
        sounding = _sounding(piece)
        at_once_sum += int(sounding[sounding > 0].sum())
        at_once_steps += int((sounding > 0).sum())
        onsets = np.unique(piece.start)
        onsets_total += onsets.size
        notes_total += len(piece)
        bars_total += max(1, len(poly.bar_lines(piece.meters, piece.end)[0]))
        ends = piece.start + piece.duration
        for t in onsets:
            classes = tuple(sorted(set((piece.pitch[(piece.start <= t) & (ends > t)] % 12).tolist())))
            if len(classes) >= 2:
                chords.add(classes)
                chord_onsets += 1
        melody = _line(piece, piece.part == 0, top=True)
        bass = _line(piece, np.ones(len(piece), bool), top=False)
        melody_moves += np.abs(np.diff(melody)).tolist()
        bass_moves += np.abs(np.diff(bass)).tolist()
        for part in (0, 1):
            chosen = piece.part == part
            if chosen.any():
                spans[part].append(int(piece.pitch[chosen].max() - piece.pitch[chosen].min()))
        low, high = min(low, int(piece.pitch.min())), max(high, int(piece.pitch.max()))
    return {
        "pieces": len(pieces),
        "notes": notes_total,
        "notes_at_once": at_once_sum / max(at_once_steps, 1),
        "chord_vocabulary": len(chords),
        "chord_vocabulary_per_100_onsets": 100 * len(chords) / max(chord_onsets, 1),
        "melody_motion": float(np.mean(melody_moves)) if melody_moves else 0.0,
        "bass_motion": float(np.mean(bass_moves)) if bass_moves else 0.0,
        "range": {
            "melody_span": float(np.mean(spans[0])) if spans[0] else 0.0,
            "accompaniment_span": float(np.mean(spans[1])) if spans[1] else 0.0,
            "lowest": low,
            "highest": high,
        },
        "onsets_per_bar": onsets_total / max(bars_total, 1),
        "notes_per_bar": notes_total / max(bars_total, 1),
    }


def piece_features(piece: poly.PolyPiece) -> np.ndarray:
    """Key-invariant numbers a critic reads from one piece: the scalar statistics above, and histograms of melody
    intervals (0-12+), notes sounding at once (1-8+), onset position within the beat (12 steps) and note lengths."""
    stats = polyphony_statistics([piece])
    if not stats.get("pieces"):
        return np.zeros(len(FEATURE_NAMES))
    melody = _line(piece, piece.part == 0, top=True)
    sounding = _sounding(piece)

    def hist(values, bins):
        counts = np.bincount(np.clip(np.asarray(values, np.int64), 0, bins - 1), minlength=bins)[:bins].astype(float)
        return counts / max(counts.sum(), 1.0)

    scalars = [
        stats["notes_at_once"],
        stats["chord_vocabulary_per_100_onsets"],
        stats["melody_motion"],
        stats["bass_motion"],
        stats["range"]["melody_span"],
        stats["range"]["accompaniment_span"],
        stats["onsets_per_bar"],
        stats["notes_per_bar"],
    ]
    return np.concatenate(
        [
            scalars,
            hist(np.abs(np.diff(melody)), 13),
            hist(sounding[sounding > 0] - 1, 8),
            hist(piece.start % poly.STEPS_PER_QUARTER, poly.STEPS_PER_QUARTER),
            hist(poly.duration_bin(piece.duration), len(poly.DURATIONS)),
        ]
    )


FEATURE_NAMES = (
    ["notes_at_once", "chords_per_100_onsets", "melody_motion", "bass_motion", "melody_span", "accompaniment_span"]
    + ["onsets_per_bar", "notes_per_bar"]
    + [f"melody_interval_{i}" for i in range(13)]
    + [f"sounding_{i + 1}" for i in range(8)]
    + [f"onset_step_{i}" for i in range(poly.STEPS_PER_QUARTER)]
    + [f"duration_{int(d)}" for d in poly.DURATIONS]
)


def realism(real: list[poly.PolyPiece], generated: list[poly.PolyPiece], seed: int = 0, folds: int = 5) -> dict:
    """The realism classifier two-sample test of ``tunesmith.evaluate.realism``, adapted: its statistics critic
    (gradient boosting) on ``piece_features``, 5-fold cross-validated with each real continuation and its generated
    counterpart in the same fold; also real vs real (the real set split in halves), the noise floor. 0.5: cannot tell."""
    from tunesmith.evaluate.realism import _cross_validate, _statistics_critic

    pairs = [(r, g) for r, g in zip(real, generated) if len(r) and len(g)]
    if len(pairs) < 2 * folds:
        return {"skipped": f"{len(pairs)} pairs of continuations; the test needs at least {2 * folds}"}
    name, fit_predict = _statistics_critic(seed)
    x = np.stack([piece_features(p) for pair in pairs for p in pair])
    labels = np.tile([0, 1], len(pairs))
    groups = np.repeat(np.arange(len(pairs)), 2)
    result = _cross_validate(fit_predict, x, labels, groups, folds, seed)
    half = len(pairs) // 2
    real_x = np.stack([piece_features(r) for r, _ in pairs[: 2 * half]])
    floor = _cross_validate(fit_predict, real_x, np.repeat([0, 1], half), np.arange(2 * half), folds, seed)
    return {
        "critic": name,
        "pairs": len(pairs),
        **result,
        "real_vs_real": {k: floor[k] for k in ("accuracy", "auc")},
        "differences": _differences(x[labels == 0], x[labels == 1]),
    }


def _differences(x_real: np.ndarray, x_gen: np.ndarray, top: int = 6) -> list[dict]:
    """The features whose means differ most between the sets, in pooled standard deviations."""
    pooled = np.sqrt((x_real.var(0) + x_gen.var(0)) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(pooled > 0, (x_gen.mean(0) - x_real.mean(0)) / pooled, 0.0)
    return [
        {
            "feature": FEATURE_NAMES[i],
            "generated": float(x_gen[:, i].mean()),
            "real": float(x_real[:, i].mean()),
            "d": float(d[i]),
        }
        for i in np.argsort(-np.abs(d))[:top]
    ]


def bars_of(piece: poly.PolyPiece, first: int, count: int) -> poly.PolyPiece:
    """Bars ``first`` .. ``first + count - 1`` (from 0) of a piece, moved to start at 0 (notes cut at the edges)."""
    bars, meters_of_bars = poly.bar_lines(piece.meters, piece.end)
    if first >= len(bars):
        empty = np.zeros(0, np.int64)
        return poly.PolyPiece(empty, empty, empty, empty, empty)
    begin = int(bars[first])
    end = int(bars[first + count]) if first + count < len(bars) else piece.end
    chosen = (piece.start >= begin) & (piece.start < end)
    start = piece.start[chosen] - begin
    duration = np.minimum(piece.duration[chosen], end - piece.start[chosen])
    return poly.PolyPiece(
        piece.part[chosen],
        piece.pitch[chosen],
        start,
        duration,
        piece.velocity[chosen],
        meters=[(0, meters_of_bars[first])],
    )


def evaluate_polyphonic(
    model: str | os.PathLike,
    corpus: str | os.PathLike | None = None,
    *,
    pieces: int = 20,
    primer_bars: int = 2,
    bars: int = 8,
    seed: int = 0,
    temperature: float = 1.0,
    top_p: float | None = 0.95,
    realism_test: bool = True,
) -> dict:
    """Held-out likelihood of ``model`` on the eval split of ``corpus`` (default: the corpus it was trained on),
    the polyphony statistics of ``bars`` generated bars (fewer where a piece is shorter) after the first
    ``primer_bars`` bars of up to ``pieces`` held-out pieces beside those of the real bars that followed, and the
    realism test on those pairs."""
    from tunesmith.core.errors import BadInputError
    from tunesmith.melody.polyphonic import PolyTokens, evaluate_tokens, generate_polyphonic, load_polyphonic_model

    net, saved = load_polyphonic_model(model)
    corpus = Path(corpus or saved.get("corpus", ""))
    if not (corpus / "corpus.json").is_file():
        raise BadInputError(f"{corpus}: no prepared polyphonic corpus to evaluate on; give one (prepare --polyphonic)")
    held = PolyTokens(corpus, "eval")
    if len(held) == 0:
        raise BadInputError(f"{corpus}: the eval split is empty; prepare with a larger --eval-ratio")
    likelihood = evaluate_tokens(net, held, net.config.attention_window, next(net.parameters()).device)
    real, generated = [], []
    for i in range(min(pieces, len(held))):
        piece = poly.decode(held.piece(i))
        # a shorter piece is compared on the bars it has (its real and generated continuation alike)
        count = min(bars, len(poly.bar_lines(piece.meters, piece.end)[0]) - primer_bars)
        if count < 1:
            continue
        primer = bars_of(piece, 0, primer_bars)
        real.append(bars_of(piece, primer_bars, count))
        out = generate_polyphonic(
            net, primer, 1, bars=primer_bars + count, primer_bars=primer_bars, temperature=temperature, top_p=top_p, seed=seed + i
        )[0]
        generated.append(bars_of(out, primer_bars, count))
    return {
        "model": str(model),
        "corpus": str(corpus),
        "likelihood": likelihood,
        "continuations": {"primer_bars": primer_bars, "bars": bars, "temperature": temperature, "top_p": top_p},
        "real": polyphony_statistics(real),
        "generated": polyphony_statistics(generated),
        "realism": realism(real, generated, seed) if realism_test else {"skipped": "not asked for"},
    }


def polyphonic_report(
    model: str | os.PathLike, out_dir: str | os.PathLike, corpus=None, *, force: bool = False, **kwargs
) -> dict:
    """``evaluate_polyphonic`` written to ``out_dir/report.json`` (a melody evaluation folder)."""
    from tunesmith.core.files import write_json
    from tunesmith.core.folders import MELODY_EVALUATION, output_dir

    with output_dir(out_dir, MELODY_EVALUATION.name, force=force):
        report = evaluate_polyphonic(model, corpus, **kwargs)
        write_json(Path(out_dir) / "report.json", {"kind": MELODY_EVALUATION.name, "model_kind": "polyphonic", **report})
        return report
