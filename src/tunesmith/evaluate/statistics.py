"""Melody statistics in the manner of MGEval (Yang & Lerch 2018) and three of MusPy's metrics.

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

import contextlib
import math
from collections.abc import Sequence

import numpy as np

from tunesmith.music.melody import NO_EVENT, Melody
from tunesmith.music.notes import KEY_NAMES, MAJOR_SCALE, MINOR_SCALE

PITCH_CLASSES = KEY_NAMES
NOTE_LENGTH_QUARTERS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)  # at 4 steps per quarter: 1,2,3,4,6,8,12,16+ steps
NOTE_LENGTH_LABELS = ("16th", "8th", "dotted 8th", "quarter", "dotted quarter", "half", "dotted half", "whole+")
MAX_INTERVAL = 12  # interval histogram: -12..+12 semitones, wider leaps counted at the ends
FEATURES = (
    "pitch_count",
    "pitch_class_histogram",
    "pitch_class_transition_matrix",
    "pitch_range",
    "avg_interval",
    "note_length_histogram",
    "avg_ioi",
)
SCALAR_METRICS = (
    "pitch_count",
    "pitch_range",
    "avg_interval",
    "avg_ioi",
    "pitch_class_entropy",
    "scale_consistency",
    "empty_beat_rate",
)
KDE_GRID = 512
KDE_MAX_POINTS = 4000
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy 2 renamed trapz


# --- one melody -----------------------------------------------------------------------------------
def note_spans(melody: Melody) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    pitches, starts, ends = note_spans(melody)
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
    out: dict = {
        "melodies": len(melodies),
        "empty_melodies": len(melodies) - len(with_notes),
        "notes": int(sum(f["notes"] for f in feats)),
        "steps": int(sum(len(m) for m in melodies)),
    }
    for name in SCALAR_METRICS:
        values = np.asarray([f[name] for f in feats], dtype=np.float64)
        out[name] = float(values.mean()) if values.size else None
        out[name + "_std"] = float(values.std()) if values.size else None
    for name in ("pitch_class_histogram", "note_length_histogram", "pitch_class_transition_matrix"):
        out[name] = np.mean([f[name] for f in feats], axis=0).tolist() if feats else None
    steps = np.concatenate([intervals(note_spans(m)[0]) for m in with_notes]) if with_notes else np.zeros(0, np.int64)
    counts = np.bincount(np.clip(steps, -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL, minlength=2 * MAX_INTERVAL + 1)
    out["interval_histogram"] = (counts / max(counts.sum(), 1)).tolist()
    return out


def _all_features(melodies: Sequence[Melody]) -> dict[str, np.ndarray]:
    feats = [melody_features(m) for m in _with_notes(melodies)]
    return {
        name: (np.vstack([np.ravel(np.asarray(f[name], dtype=np.float64)) for f in feats]) if feats else np.zeros((0, 1)))
        for name in FEATURES
    }


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
        "intra_generated_mean": stat(intra_gen, np.mean),
        "intra_generated_std": stat(intra_gen, np.std),
        "intra_reference_mean": stat(intra_ref, np.mean),
        "intra_reference_std": stat(intra_ref, np.std),
        "inter_mean": stat(inter, np.mean),
        "inter_std": stat(inter, np.std),
        "kl": None,
        "oa": None,
        "kl_generated": None,
        "oa_generated": None,
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
    summary = {
        "mean_oa": float(np.mean(oas)) if oas else None,
        "mean_kl": float(np.mean(kls)) if kls else None,
        "generated": len(gen["pitch_count"]),
        "reference": len(ref["pitch_count"]),
    }
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
