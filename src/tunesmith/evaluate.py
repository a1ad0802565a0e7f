"""Evaluation: how well a melody model predicts held-out music, and how its output compares to real music.

Two kinds of figures, as the field reports them:

* **Likelihood** (Magenta's eval): the mean negative log-likelihood per step on held-out melodies
  (nats/step; ``perplexity = exp(loss)`` is the number of equally likely choices the model is torn
  between), next-event accuracy, and the split between note-on steps and hold/off steps.
* **Melody statistics** in the manner of MGEval (Yang & Lerch 2018, "On the evaluation of generative
  models in music"): features per melody, then per feature the *intra-set* distances (within one set)
  and the *inter-set* distances (generated vs reference), smoothed by a Gaussian KDE and compared by
  KL divergence and overlapping area (OA). OA near 1 means "generated melodies differ from the
  reference as much as reference melodies differ from each other" - the goal. Plus three of MusPy's
  metrics (Dong et al. 2020): pitch-class entropy, scale consistency and empty-beat rate.

The metrics are implemented here with numpy/scipy (no mgeval/muspy dependency); where the reference
code has a quirk, the docstring says what is done instead.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import html
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from tunesmith.errors import BadInputError
from tunesmith.files import write_json, write_text
from tunesmith.music.melody import MAJOR_SCALE, NO_EVENT, Melody

MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)  # natural minor, as MusPy's scale consistency uses
PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
NOTE_LENGTH_QUARTERS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)  # at 4 steps per quarter: 1,2,3,4,6,8,12,16+ steps
NOTE_LENGTH_LABELS = ("16th", "8th", "dotted 8th", "quarter", "dotted quarter", "half", "dotted half", "whole+")
MAX_INTERVAL = 12  # interval histogram: -12..+12 semitones, wider leaps counted at the ends
FEATURES = ("pitch_count", "pitch_class_histogram", "pitch_class_transition_matrix", "pitch_range",
            "avg_interval", "note_length_histogram", "avg_ioi")
SCALAR_METRICS = ("pitch_count", "pitch_range", "avg_interval", "avg_ioi", "pitch_class_entropy",
                  "scale_consistency", "empty_beat_rate")
KDE_GRID = 512
KDE_MAX_POINTS = 4000
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy 2 renamed trapz


# --- one melody -----------------------------------------------------------------------------------
def note_arrays(melody: Melody) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pitches, starts, ends) in steps: a note lasts until NOTE_OFF, the next onset, or the end."""
    events = np.asarray(melody.events)
    onsets = np.flatnonzero(events >= 0)
    changes = np.flatnonzero(events != NO_EVENT)
    after = np.searchsorted(changes, onsets, side="right")
    ends = np.where(after < changes.size, changes[np.minimum(after, max(changes.size - 1, 0))], events.size)
    return events[onsets].astype(np.int64), onsets.astype(np.int64), ends.astype(np.int64)


def pitch_count(pitches: np.ndarray) -> int:
    """Pitch count (MGEval "total used pitch"): how many distinct MIDI pitches the melody uses."""
    return int(np.unique(pitches).size)


def pitch_class_histogram(pitches: np.ndarray) -> np.ndarray:
    """Pitch-class histogram: the share of notes on each of the 12 pitch classes (C, C#, ... B); sums to 1."""
    counts = np.bincount(np.asarray(pitches, dtype=np.int64) % 12, minlength=12).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def pitch_class_transition_matrix(pitches: np.ndarray) -> np.ndarray:
    """Pitch-class transition matrix: share of consecutive note pairs going from class i (row) to j; sums to 1."""
    pcs = np.asarray(pitches, dtype=np.int64) % 12
    matrix = np.zeros((12, 12))
    if pcs.size > 1:
        np.add.at(matrix, (pcs[:-1], pcs[1:]), 1.0)
        matrix /= matrix.sum()
    return matrix


def pitch_range(pitches: np.ndarray) -> int:
    """Pitch range: highest minus lowest pitch, in semitones."""
    return int(pitches.max() - pitches.min()) if pitches.size else 0


def avg_interval(pitches: np.ndarray) -> float:
    """Average absolute interval (MGEval "average pitch shift"): mean leap between consecutive notes, semitones."""
    return float(np.abs(np.diff(pitches)).mean()) if pitches.size > 1 else 0.0


def note_length_histogram(starts: np.ndarray, ends: np.ndarray, steps_per_quarter: int) -> np.ndarray:
    """Note-length histogram: share of notes nearest each length in ``NOTE_LENGTH_LABELS`` (16th ... whole+)."""
    quarters = (np.asarray(ends) - np.asarray(starts)) / steps_per_quarter
    bins = np.asarray(NOTE_LENGTH_QUARTERS)
    index = np.abs(quarters[:, None] - bins[None, :]).argmin(axis=1) if quarters.size else np.zeros(0, np.int64)
    index[quarters >= bins[-1]] = bins.size - 1
    counts = np.bincount(index, minlength=bins.size).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def avg_ioi(starts: np.ndarray) -> float:
    """Average inter-onset interval: mean time from one note's start to the next one's, in steps."""
    return float(np.diff(starts).mean()) if starts.size > 1 else 0.0


def pitch_class_entropy(pitches: np.ndarray) -> float:
    """Pitch-class entropy (MusPy): Shannon entropy in bits of the pitch-class histogram; 0 = one class, log2(12) = all equal."""
    p = pitch_class_histogram(pitches)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum()) if p.size else 0.0


def scale_consistency(pitches: np.ndarray) -> float:
    """Scale consistency (MusPy): the largest share of notes lying in one major or natural-minor scale (24 tried)."""
    if not np.asarray(pitches).size:
        return 0.0
    hist = np.bincount(np.asarray(pitches, dtype=np.int64) % 12, minlength=12)
    best = 0
    for scale in (MAJOR_SCALE, MINOR_SCALE):
        for root in range(12):
            best = max(best, int(hist[[(root + d) % 12 for d in scale]].sum()))
    return best / int(hist.sum())


def empty_beat_rate(starts: np.ndarray, ends: np.ndarray, length: int, steps_per_quarter: int) -> float:
    """Empty-beat rate (MusPy): share of beats (quarter notes) in which no note sounds, over the melody's length.

    A note sounds on steps [start, end); unlike MusPy's loop (``range(start, end + 1)`` in beats), a note
    ending exactly on a beat line does not mark the next beat as played, and trailing rests count.
    """
    beats = math.ceil(length / steps_per_quarter)
    if beats == 0:
        return 0.0
    sounding = np.zeros(beats * steps_per_quarter, dtype=bool)
    for start, end in zip(starts, ends):
        sounding[start:end] = True
    return float((~sounding.reshape(beats, steps_per_quarter).any(axis=1)).mean())


def intervals(pitches: np.ndarray) -> np.ndarray:
    """Signed intervals between consecutive notes in semitones."""
    return np.diff(np.asarray(pitches, dtype=np.int64))


def melody_features(melody: Melody) -> dict:
    """Every per-melody feature above for one melody (histograms as arrays)."""
    pitches, starts, ends = note_arrays(melody)
    spq = melody.steps_per_quarter
    return {
        "pitch_count": pitch_count(pitches),
        "pitch_class_histogram": pitch_class_histogram(pitches),
        "pitch_class_transition_matrix": pitch_class_transition_matrix(pitches),
        "pitch_range": pitch_range(pitches),
        "avg_interval": avg_interval(pitches),
        "note_length_histogram": note_length_histogram(starts, ends, spq),
        "avg_ioi": avg_ioi(starts),
        "pitch_class_entropy": pitch_class_entropy(pitches),
        "scale_consistency": scale_consistency(pitches),
        "empty_beat_rate": empty_beat_rate(starts, ends, len(melody), spq),
        "notes": int(pitches.size),
    }


# --- a set of melodies ----------------------------------------------------------------------------
def _with_notes(melodies: Sequence[Melody]) -> list[Melody]:
    return [m for m in melodies if (np.asarray(m.events) >= 0).any()]


def melody_statistics(melodies: Sequence[Melody]) -> dict:
    """Set-level statistics: the mean (and spread) of each per-melody feature, plus pooled histograms.

    Melodies without notes are counted in ``empty_melodies`` and left out of every figure.
    ``interval_histogram`` pools all consecutive-note intervals (-12..+12 semitones, wider leaps at the ends).
    """
    melodies = list(melodies)
    with_notes = _with_notes(melodies)
    feats = [melody_features(m) for m in with_notes]
    out: dict = {"melodies": len(melodies), "empty_melodies": len(melodies) - len(with_notes),
                 "notes": int(sum(f["notes"] for f in feats)),
                 "steps": int(sum(len(m) for m in melodies))}
    for name in SCALAR_METRICS:
        values = np.asarray([f[name] for f in feats], dtype=np.float64)
        out[name] = float(values.mean()) if values.size else None
        out[name + "_std"] = float(values.std()) if values.size else None
    for name in ("pitch_class_histogram", "note_length_histogram", "pitch_class_transition_matrix"):
        out[name] = np.mean([f[name] for f in feats], axis=0).tolist() if feats else None
    steps = np.concatenate([intervals(note_arrays(m)[0]) for m in with_notes]) if with_notes else np.zeros(0, np.int64)
    counts = np.bincount(np.clip(steps, -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL, minlength=2 * MAX_INTERVAL + 1)
    out["interval_histogram"] = (counts / max(counts.sum(), 1)).tolist()
    return out


def _all_features(melodies: Sequence[Melody]) -> dict[str, np.ndarray]:
    feats = [melody_features(m) for m in _with_notes(melodies)]
    return {name: (np.vstack([np.ravel(np.asarray(f[name], dtype=np.float64)) for f in feats]) if feats
                   else np.zeros((0, 1))) for name in FEATURES}


def intra_set_distances(features: np.ndarray) -> np.ndarray:
    """Intra-set distances: Euclidean distance between every pair of different melodies of one set."""
    from scipy.spatial.distance import pdist

    return pdist(features) if len(features) > 1 else np.zeros(0)


def inter_set_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Inter-set distances: Euclidean distance from every melody of set ``a`` to every melody of set ``b``."""
    from scipy.spatial.distance import cdist

    return cdist(a, b).ravel() if len(a) and len(b) else np.zeros(0)


class _Density:
    """A 1-D Gaussian KDE (scipy's, Scott's rule); constant or tiny data becomes one Gaussian of a fallback width."""

    def __init__(self, data: np.ndarray, seed: int = 0):
        from scipy.stats import gaussian_kde

        data = np.asarray(data, dtype=np.float64)
        if data.size > KDE_MAX_POINTS:  # bound the cost: a seeded subsample; KDE time grows with points x grid
            data = np.random.default_rng(seed).choice(data, KDE_MAX_POINTS, replace=False)
        self.data = data
        self.kde = None
        if data.size > 1 and np.ptp(data) > 1e-12:
            with contextlib.suppress(np.linalg.LinAlgError, ValueError):
                self.kde = gaussian_kde(data)
        self.bandwidth = float(np.sqrt(self.kde.covariance[0, 0])) if self.kde is not None else None

    def pdf(self, x: np.ndarray, fallback_width: float) -> np.ndarray:
        if self.kde is not None:
            return self.kde(x)
        centre = float(self.data.mean()) if self.data.size else 0.0
        return np.exp(-0.5 * ((x - centre) / fallback_width) ** 2) / (fallback_width * math.sqrt(2 * math.pi))


def densities(*samples: np.ndarray, points: int = KDE_GRID) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """(grid, density of each sample) on one shared grid covering all of them, each integrating to 1 (None if empty).

    A constant sample (all distances equal, e.g. every melody has 8 pitches) has no KDE bandwidth; it is
    drawn as a Gaussian as wide as the widest KDE bandwidth of the others (or 5% of the joint span, at least 1e-3).
    """
    kdes = [_Density(x) if np.asarray(x).size else None for x in samples]
    present = [d for d in kdes if d is not None]
    if not present:
        return np.zeros(0), [None] * len(samples)
    data = np.concatenate([d.data for d in present])
    widths = [d.bandwidth for d in present if d.bandwidth]
    fallback = max(max(widths) if widths else 0.05 * float(np.ptp(data)), 1e-3)
    pad = 4 * max([fallback, *widths])
    grid = np.linspace(float(data.min()) - pad, float(data.max()) + pad, points)
    curves: list[np.ndarray | None] = []
    for d in kdes:
        if d is None:
            curves.append(None)
            continue
        p = d.pdf(grid, fallback)
        curves.append(p / max(_trapezoid(p, grid), 1e-300))
    return grid, curves


def kde_curves(a: np.ndarray, b: np.ndarray, points: int = KDE_GRID) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid, density of a, density of b): ``densities`` of two non-empty samples."""
    grid, (pa, pb) = densities(a, b, points=points)
    return grid, pa, pb


def _kl(grid: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> float:
    pb = np.maximum(pb, 1e-10 * pb.max())
    mask = pa > 0
    return float(max(_trapezoid(np.where(mask, pa * np.log(np.where(mask, pa, 1.0) / pb), 0.0), grid), 0.0))


def _oa(grid: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> float:
    return float(np.clip(_trapezoid(np.minimum(pa, pb), grid), 0.0, 1.0))


def kl_divergence(a: np.ndarray, b: np.ndarray) -> float:
    """KL divergence KL(A || B) in nats between the KDEs of two distance samples (0 = same distribution).

    MGEval evaluates the two KDEs on two different grids; here both use one shared grid, and B is floored at
    1e-10 of its peak so the figure stays finite when the samples do not overlap at all.
    """
    return _kl(*kde_curves(a, b))


def overlap_area(a: np.ndarray, b: np.ndarray) -> float:
    """Overlapping area (OA): the integral of min(pdf_A, pdf_B) of the two KDEs; 1 = same, 0 = disjoint."""
    return _oa(*kde_curves(a, b))


def _feature_comparison(gen: np.ndarray, ref: np.ndarray) -> tuple[dict, dict[str, np.ndarray]]:
    intra_gen, intra_ref, inter = intra_set_distances(gen), intra_set_distances(ref), inter_set_distances(gen, ref)

    def stat(x: np.ndarray, f) -> float | None:
        return float(f(x)) if x.size else None

    row = {
        "intra_generated_mean": stat(intra_gen, np.mean), "intra_generated_std": stat(intra_gen, np.std),
        "intra_reference_mean": stat(intra_ref, np.mean), "intra_reference_std": stat(intra_ref, np.std),
        "inter_mean": stat(inter, np.mean), "inter_std": stat(inter, np.std),
        "kl": None, "oa": None, "kl_generated": None, "oa_generated": None,
    }
    grid, (p_ref, p_gen, p_inter) = densities(intra_ref, intra_gen, inter)
    if p_ref is not None and p_inter is not None:
        row["kl"], row["oa"] = _kl(grid, p_ref, p_inter), _oa(grid, p_ref, p_inter)
    if p_gen is not None and p_inter is not None:
        row["kl_generated"], row["oa_generated"] = _kl(grid, p_gen, p_inter), _oa(grid, p_gen, p_inter)
    return row, {"grid": grid, "intra_reference": p_ref, "intra_generated": p_gen, "inter": p_inter}


def _compare(generated: Sequence[Melody], reference: Sequence[Melody]) -> tuple[dict, dict]:
    gen, ref = _all_features(generated), _all_features(reference)
    features, distances = {}, {}
    for name in FEATURES:
        features[name], distances[name] = _feature_comparison(gen[name], ref[name])
    oas = [r["oa"] for r in features.values() if r["oa"] is not None]
    kls = [r["kl"] for r in features.values() if r["kl"] is not None]
    summary = {"mean_oa": float(np.mean(oas)) if oas else None, "mean_kl": float(np.mean(kls)) if kls else None,
               "generated": len(gen["pitch_count"]), "reference": len(ref["pitch_count"])}
    return {"features": features, "summary": summary}, distances


def compare_sets(generated: Sequence[Melody], reference: Sequence[Melody]) -> dict:
    """MGEval's comparison of two sets, per feature in ``FEATURES``.

    For each feature: the intra-set distances of each set, the inter-set distances (generated vs reference),
    their means/stds, and ``kl`` = KL(intra_reference || inter) and ``oa`` = OA(intra_reference, inter) as
    MGEval reports them (the three KDEs share one grid, see ``densities``). ``kl_generated``/``oa_generated``
    do the same with the generated set's intra-set distances; a low intra_generated mean means the model
    repeats itself. ``summary`` averages OA and KL over the features.
    """
    return _compare(generated, reference)[0]


# --- likelihood ------------------------------------------------------------------------------------
def _load_model(model):
    from tunesmith.melody_rnn.generate import MelodyModel, load_melody_model

    return model if isinstance(model, MelodyModel) else load_melody_model(model)


def _training_corpus(model_dir: Path) -> Path | None:
    """The corpus a model was trained on: its own corpus/ (raw folder), the one named in config.json, or the
    shipped eval split of a bundled model."""
    for candidate in (model_dir / "corpus", model_dir / "eval-corpus"):
        if (candidate / "corpus.json").is_file():
            return candidate
    try:
        named = json.loads((model_dir / "config.json").read_text()).get("corpus")
    except (OSError, json.JSONDecodeError):
        named = None
    return Path(named) if named else None


@contextlib.contextmanager
def _corpus_dir(model, data, progress: bool = False) -> Iterator[Path]:
    """The prepared corpus to evaluate on, and what it is; a raw MIDI folder is prepared (all held-out) in a temp dir."""
    if data is None:
        own = _training_corpus(Path(model.model_dir)) if model.model_dir else None
        if own is None or not (own / "corpus.json").is_file():
            raise BadInputError(f"{model.model_dir}: the model has no corpus/ of its own to evaluate on; "
                                "pass data= (a prepared corpus or a folder of MIDI files)")
        yield own
        return
    data = Path(data)
    if (data / "corpus.json").is_file():
        yield data
        return
    if not data.exists():
        raise BadInputError(f"{data}: no such corpus or MIDI folder")
    from tunesmith.music.corpus import prepare_corpus

    with tempfile.TemporaryDirectory(prefix="tunesmith-eval-") as tmp:
        prepare_corpus(data, tmp, eval_ratio=1.0, progress=progress)  # every file is held-out data
        yield Path(tmp)


def _corpus_steps_per_quarter(corpus: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return int(json.loads((corpus / "corpus.json").read_text())["settings"]["steps_per_quarter"])
    return None


def training_gap(model_dir: str | os.PathLike | None, window: int = 3) -> dict:
    """Eval-minus-train loss at each evaluation in ``log.jsonl``, and the ``overfitting`` flag.

    ``overfitting`` is True when the gap widened at each of the last ``window`` evaluations while the
    held-out loss stopped improving (its latest value is above its best): more training now memorises.
    """
    from tunesmith.training import read_log

    rows = read_log(model_dir) if model_dir else []
    train = sorted((r["step"], r["loss"]) for r in rows if r.get("split") == "train" and "loss" in r)
    history = []
    for r in rows:
        if r.get("split") != "eval" or "loss" not in r:
            continue
        before = [loss for step, loss in train if step <= r["step"]]
        if before:
            history.append({"step": r["step"], "train_loss": before[-1], "eval_loss": r["loss"],
                            "gap": r["loss"] - before[-1]})
    gaps = [h["gap"] for h in history[-window:]]
    evals = [h["eval_loss"] for h in history]
    growing = len(gaps) == window and all(b > a for a, b in zip(gaps, gaps[1:]))
    overfitting = bool(growing and evals[-1] > min(evals))
    return {"history": history, "gap": history[-1]["gap"] if history else None, "overfitting": overfitting}


def likelihood(model, data=None, *, max_train_melodies: int = 1000, progress: bool = False) -> dict:
    """Held-out loss (nats/step), perplexity, accuracy and note-on vs hold/off split of a melody model.

    ``data``: None (the model directory's own ``corpus/`` eval split), a prepared corpus directory, or a
    folder of MIDI files (prepared into a temp dir, every file held out). Train-split figures (at most
    ``max_train_melodies``) and the training-log gap come along when available.
    """
    model = _load_model(model)
    with _corpus_dir(model, data, progress) as corpus:
        out = _likelihood(model, corpus, max_train_melodies)
    out["data"] = str(data) if data is not None else str(corpus)
    return out


def _subset(tokens, indices: np.ndarray):
    from tunesmith.melody_rnn.dataset import TokenSet

    pieces = [tokens.melody(int(i)) for i in indices]
    lengths = np.array([p.size for p in pieces], dtype=np.int64)
    return TokenSet(np.concatenate(pieces), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


def _likelihood(model, corpus: Path, max_train_melodies: int = 1000) -> dict:
    from tunesmith.melody_rnn.dataset import load_tokens
    from tunesmith.melody_rnn.train import evaluate_tokens

    spq = _corpus_steps_per_quarter(corpus)
    if spq is not None and spq != model.config.steps_per_quarter:
        raise BadInputError(f"{corpus} was prepared at {spq} steps per quarter, the model uses "
                            f"{model.config.steps_per_quarter}; prepare the data again with the model's setting")
    out: dict = {"data": str(corpus)}
    for split in ("eval", "train"):
        tokens = load_tokens(corpus, split, model.encoding)
        if len(tokens) == 0:
            out[split] = None
            continue
        if split == "train" and len(tokens) > max_train_melodies:
            pick = np.sort(np.random.default_rng(0).choice(len(tokens), max_train_melodies, replace=False))
            tokens = _subset(tokens, pick)
        figures = evaluate_tokens(model.module, model.encoding, tokens, model.config.max_steps, model.device)
        figures["bits_per_step"] = figures["loss"] / math.log(2)
        figures["melodies"] = len(tokens)
        out[split] = figures
    if out["eval"] is None:
        raise BadInputError(f"{corpus}: no held-out (eval) melodies to evaluate on; pass data= with more files")
    out.update({k: out["eval"][k] for k in ("loss", "perplexity", "accuracy", "note_on_loss", "other_loss")})
    gap = training_gap(model.model_dir)
    out["train_eval_gap"] = out["eval"]["loss"] - out["train"]["loss"] if out["train"] else None
    out["log_gap_history"] = gap["history"]
    out["overfitting"] = gap["overfitting"]
    return out


# --- the whole evaluation -------------------------------------------------------------------------
def reference_melodies(corpus: str | os.PathLike, model, *, split: str = "eval", limit: int | None = None,
                       steps: int | None = None, seed: int = 0) -> list[Melody]:
    """Melodies of one split as the model sees them: squashed into its range in C, cut to ``steps`` steps.

    Cutting makes the reference as long as the generated melodies, so length-dependent features (pitch
    count, range) compare fairly. ``limit`` picks that many at random (seeded).
    """
    from tunesmith.music.corpus import load_split

    events, offsets, spb = load_split(corpus, split)
    order = np.arange(len(offsets) - 1)
    if limit is not None and order.size > limit:
        order = np.sort(np.random.default_rng(seed).choice(order.size, limit, replace=False))
    cfg = model.config
    out = []
    for i in order:
        ev = np.asarray(events[offsets[i]: offsets[i + 1]], dtype=np.int16)
        melody = Melody(ev, steps_per_quarter=cfg.steps_per_quarter, steps_per_bar=int(spb[i]) if spb.size else 16)
        melody = melody.squash(cfg.min_note, cfg.max_note, 0)
        if steps:
            melody = melody.copy(events=melody.events[:steps])
        melody.name = f"{split}_{int(i):05d}"
        out.append(melody)
    return out


def _primers(reference: list[Melody], bar: int, count: int) -> list[Melody | str]:
    """The first bar of up to ``count`` reference melodies that start with a note in it; else "C4"."""
    primers: list[Melody | str] = []
    for melody in reference:
        first = melody.events[:bar]
        if (first >= 0).any():
            start = int(np.flatnonzero(first >= 0)[0])
            primers.append(melody.copy(events=first[start:].copy(), name=""))
        if len(primers) == count:
            break
    return primers or ["C4"]


def _generate(model, reference: list[Melody], n: int, steps: int, seed: int) -> list[Melody]:
    primers = _primers(reference, model.config.steps_per_bar, max(1, min(10, n // 20)))  # >= 20 melodies per primer
    sizes = [n // len(primers) + (1 if g < n % len(primers) else 0) for g in range(len(primers))]
    out: list[Melody] = []
    for g, (primer, size) in enumerate(zip(primers, sizes)):
        if size:
            out.extend(model.generate(primer, n=size, steps=steps, seed=seed + g))
    return out


def _params(model) -> int:
    return int(sum(p.numel() for p in model.module.parameters()))


def _evaluate(model, data, n: int, steps: int, seed: int, progress: bool) -> tuple[dict, dict]:
    from tunesmith.progress import progress_bar

    if n < 1 or steps < 2:
        raise BadInputError("evaluation needs n >= 1 melodies of at least 2 steps")
    model = _load_model(model)
    bar = progress_bar(total=4, desc="evaluate", unit="part", disable=not progress)
    with _corpus_dir(model, data, progress) as corpus:
        lik = _likelihood(model, corpus)
        bar.update(1)
        lik["data"] = str(data) if data is not None else str(corpus)
        reference = reference_melodies(corpus, model, split="eval", limit=n, steps=steps, seed=seed)
    generated = _generate(model, reference, n, steps, seed)
    bar.update(1)
    stats = {"generated": melody_statistics(generated), "reference": melody_statistics(reference)}
    bar.update(1)
    comparison, curves = _compare(generated, reference)
    bar.update(1)
    bar.close()
    report = {
        "model": str(model.model_dir) if model.model_dir else None, "config": model.config.name,
        "params": _params(model), "model_config": dataclasses.asdict(model.config),
        "settings": {"data": None if data is None else str(data), "n": n, "steps": steps, "seed": seed,
                     "reference_split": "eval", "reference_melodies": len(reference)},
        "likelihood": lik, "statistics": stats, "comparison": comparison,
    }
    return report, curves


def evaluate_model(model, out_dir: str | os.PathLike, *, data=None, n: int = 200, steps: int = 128, seed: int = 0,
                   progress: bool = True) -> dict:
    """Evaluate a melody model and write ``report.json`` and an offline ``report.html`` into ``out_dir``.

    Likelihood on held-out data, then ``n`` melodies of ``steps`` steps generated from the first bar of
    reference melodies (one primer per 20 melodies, at most 10; "C4" when none) and compared with the reference set (the
    held-out melodies, squashed like training data and cut to ``steps``). Generated melodies include their
    one-bar primer, as the reference melodies include their first bar. Returns the report dict (keys
    ``likelihood``, ``statistics``, ``comparison``, plus model, config, params, settings, files).
    """
    report, curves = _evaluate(model, data, n, steps, seed, progress)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report["files"] = {"json": "report.json", "html": "report.html"}
    write_json(out_dir / "report.json", report)
    write_text(out_dir / "report.html", report_html(report, curves))
    return report


# --- the HTML report ------------------------------------------------------------------------------
def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode("ascii")}">'


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _histogram_figures(stats: dict) -> str:
    gen, ref = stats["generated"], stats["reference"]
    panels = [
        ("Pitch-class histogram", list(PITCH_CLASSES), "pitch_class_histogram"),
        ("Note-length histogram", list(NOTE_LENGTH_LABELS), "note_length_histogram"),
        ("Interval histogram (semitones)",
         [f"≤{-MAX_INTERVAL}", *map(str, range(1 - MAX_INTERVAL, MAX_INTERVAL)), f"≥{MAX_INTERVAL}"], "interval_histogram"),
    ]
    fig = _figure(14, 3.6)
    axes = fig.subplots(1, 3, width_ratios=[1, 1, 1.6])
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.22, top=0.9, wspace=0.2)
    for ax, (title, labels, key) in zip(axes, panels):
        x = np.arange(len(labels))
        for offset, (name, values, color) in zip((-0.2, 0.2), (("generated", gen[key], "#d62728"),
                                                              ("reference", ref[key], "#1f77b4"))):
            if values is not None:
                ax.bar(x + offset, values, width=0.4, label=name, color=color)
        ax.set_xticks(x, labels, rotation=60 if len(labels) > 12 else 30, ha="right", rotation_mode="anchor", fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("share")
        ax.legend(fontsize=8)
    return _png(fig)


def _distance_figures(curves: dict) -> str:
    fig = _figure(14, 6)
    axes = fig.subplots(2, 4).ravel()
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.06, top=0.94, wspace=0.25, hspace=0.3)
    for ax, name in zip(axes, FEATURES):
        c = curves[name]
        for key, color in (("intra_reference", "#1f77b4"), ("intra_generated", "#d62728"), ("inter", "#2ca02c")):
            if c[key] is not None:
                ax.plot(c["grid"], c[key], color=color, label=key.replace("_", "-"))
        ax.set_title(name.replace("_", " ") + " (distance density)", fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    axes[-1].axis("off")
    return _png(fig)


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else str(value)
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, str) else _fmt(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


LIKELIHOOD_ROWS = (("loss", "loss (nats/step)"), ("bits_per_step", "bits/step"), ("perplexity", "perplexity"),
                   ("accuracy", "accuracy"), ("note_on_loss", "note-on loss"), ("note_on_accuracy", "note-on accuracy"),
                   ("other_loss", "hold/off loss"), ("other_accuracy", "hold/off accuracy"), ("steps", "steps"),
                   ("melodies", "melodies"))


def report_html(report: dict, curves: dict | None = None) -> str:
    """The report as one self-contained HTML page (figures are embedded PNGs; nothing is fetched)."""
    lik, stats, comp = report["likelihood"], report["statistics"], report["comparison"]
    lik_rows = [[label, *(lik[s].get(k) if lik.get(s) else None for s in ("eval", "train"))] for k, label in LIKELIHOOD_ROWS]
    lik_rows.append(["eval - train loss", lik.get("train_eval_gap"), None])
    lik_rows.append(["overfitting (from log.jsonl)", _fmt(lik.get("overfitting")), ""])
    stat_rows = [[name.replace("_", " "), stats["generated"].get(name), stats["reference"].get(name)]
                 for name in SCALAR_METRICS]
    comp_rows = [[name.replace("_", " "), r["intra_generated_mean"], r["intra_reference_mean"], r["inter_mean"],
                  r["kl"], r["oa"], r["oa_generated"]] for name, r in comp["features"].items()]
    comp_rows.append(["mean", None, None, None, comp["summary"]["mean_kl"], comp["summary"]["mean_oa"], None])
    settings = report["settings"]
    title = f"tunesmith evaluation: {report['config']}"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Model <code>{_fmt(report['model'])}</code> ({report['params']:,} parameters); "
        f"{settings['n']} generated melodies of {settings['steps']} steps (seed {settings['seed']}) vs "
        f"{settings['reference_melodies']} reference melodies from the {settings['reference_split']} split.</p>",
        "<h2>Likelihood</h2><p>Mean negative log-likelihood per step on held-out melodies; perplexity = exp(loss).</p>",
        _table(["", "held-out (eval)", "train"], lik_rows),
        "<h2>Melody statistics</h2><p>Means over melodies; the histograms are side by side below.</p>",
        _table(["metric", "generated", "reference"], stat_rows),
        _histogram_figures(stats),
        "<h2>Set comparison (MGEval)</h2><p>Euclidean distances between melodies' features within each set "
        "(intra) and across sets (inter). KL and OA compare the reference intra-set distribution with the "
        "inter-set one: OA near 1 and KL near 0 mean the generated melodies sit among the reference ones.</p>",
        _table(["feature", "intra generated", "intra reference", "inter", "KL", "OA", "OA (generated intra)"], comp_rows),
    ]
    if curves:
        parts.append(_distance_figures(curves))
    style = ("body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


# --- several models -------------------------------------------------------------------------------
def _model_label(model, used: set[str]) -> str:
    base = Path(model.model_dir).name if model.model_dir else model.config.name
    label, k = base, 2
    while label in used:
        label, k = f"{base}_{k}", k + 1
    used.add(label)
    return label


def compare_models(models: list, *, data=None, n: int = 100, out_dir: str | os.PathLike | None = None,
                   steps: int = 128, seed: int = 0) -> str:
    """Evaluate each model the same way and return a Markdown table, one row per model.

    With ``out_dir``: each model's report goes to ``out_dir/<name>/`` and the table to ``compare.md`` and
    ``compare.json``. Without ``data`` each model is judged on its own held-out split, so rows are only
    comparable when the models were trained on the same corpus (the table says so).
    """
    if not models:
        raise BadInputError("compare_models needs at least one model")
    rows, reports, used = [], [], set()
    for item in models:
        model = _load_model(item)
        label = _model_label(model, used)
        if out_dir is not None:
            report = evaluate_model(model, Path(out_dir) / label, data=data, n=n, steps=steps, seed=seed, progress=False)
        else:
            report = _evaluate(model, data, n, steps, seed, False)[0]
        reports.append({"name": label, **report})
        lik, gen, summ = report["likelihood"], report["statistics"]["generated"], report["comparison"]["summary"]
        ref = report["statistics"]["reference"]
        rows.append([label, report["config"], f"{report['params']:,}", _fmt(lik["loss"]), _fmt(lik["perplexity"], 2),
                     _fmt(lik["accuracy"]), _fmt(lik["note_on_loss"]), _fmt(lik["overfitting"]),
                     f"{_fmt(gen['pitch_class_entropy'], 2)} / {_fmt(ref['pitch_class_entropy'], 2)}",
                     f"{_fmt(gen['scale_consistency'], 2)} / {_fmt(ref['scale_consistency'], 2)}",
                     f"{_fmt(gen['empty_beat_rate'], 2)} / {_fmt(ref['empty_beat_rate'], 2)}",
                     _fmt(summ["mean_oa"]), _fmt(summ["mean_kl"])])
    header = ["model", "config", "params", "held-out loss", "ppl", "acc", "note-on loss", "overfitting",
              "pc entropy gen/ref", "scale consistency gen/ref", "empty beats gen/ref", "mean OA", "mean KL"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    if data is None and len({r["likelihood"]["data"] for r in reports}) > 1:
        lines.append("\nEach model was judged on its own held-out split; pass data= to compare on the same melodies.")
    lines.append(f"\nloss in nats/step; {n} generated melodies per model; OA/KL average MGEval's "
                 f"{len(FEATURES)} features (OA 1 = like the reference set).")
    table = "\n".join(lines) + "\n"
    if out_dir is not None:
        write_text(Path(out_dir) / "compare.md", table)
        write_json(Path(out_dir) / "compare.json", {"data": None if data is None else str(data), "n": n, "models": reports})
    return table
