"""Realism: can a classifier tell a model's continuations from the real ones? (a classifier two-sample test)

The test, as a listener would run it: take the first ``primer_bars`` (2) bars of held-out tunes as primers, let the
model continue each to ``bars`` (9) bars with its default settings, then compare bars 3-8 of each continuation with
bars 3-8 of the same real tune (same primers, lengths and meters; bar 9, where generation closes the tune, is left
out). Two critics of our own try to tell the sets apart, each in 5-fold cross-validation where a tune's real and
generated continuation always sit in the same fold:

* ``statistics``: gradient boosting (scikit-learn's ``HistGradientBoostingClassifier``; a NumPy logistic regression
  when scikit-learn is missing) on key-invariant statistics (``FEATURE_NAMES``): pitch classes relative to the tune's
  key, intervals, onset positions in the bar, note lengths, rests, range, bar repeats, contour.
* ``sequence``: a small GRU over the notes as relative events (interval from the previous note, scale degree in the
  tune's key, length, position in the bar, a rest before it).

Accuracy 0.5 (AUC 0.5) means the critic cannot tell; each figure comes with a 95 % bootstrap interval over tunes,
and with the same critic's real-vs-real figure (the real tunes split in two halves), which shows the noise floor.
``differences`` lists the statistics that tell the sets apart most (standardised mean difference), ``figures``
the headline ones the issue names (rests, notes out of key, note-length spread, bar repeats, the first generated
bar), and ``copying`` the share of continuations holding a run of >= 12 notes (intervals and lengths, any key)
found in the training corpus, next to the same share for the real held-out tunes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tunesmith.core.errors import BadInputError
from tunesmith.evaluate.form import SILENT, grid_key, onset_grid
from tunesmith.evaluate.statistics import NOTE_LENGTH_LABELS, NOTE_LENGTH_QUARTERS, note_spans
from tunesmith.music.melody import Melody
from tunesmith.music.notes import SCALES

PRIMER_BARS = 2
BARS = 9
WINDOW = (2, 8)  # bars 3-8 (0-based, end exclusive): after the primer, before the closing bar
FOLDS = 5
COPY_RUN = 12
MIN_TUNES = 10  # fewer usable held-out tunes: no test (the report says why)
MAX_POSITION = 24  # onset positions in the bar (steps); later positions share the last bin
MAX_INTERVAL = 12
BOOTSTRAP = 1000
CRITICS = ("statistics", "sequence")


def _feature_names() -> list[str]:
    names = [f"pitch_class_{d}" for d in range(12)] + ["out_of_key", "minor_mode", "tonic_share"]
    names += [f"interval_{i:+d}" for i in range(-MAX_INTERVAL, MAX_INTERVAL + 1)]
    names += ["mean_abs_interval", "leap_share", "step_share", "repeated_note_share", "contour_turns"]
    names += [f"onset_position_{p}" for p in range(MAX_POSITION)] + ["downbeat_onsets", "beat_onsets"]
    names += [f"note_length_{label.replace(' ', '_')}" for label in NOTE_LENGTH_LABELS]
    names += ["note_length_mean", "note_length_spread", "rest_share", "rests_per_bar", "notes_per_bar"]
    names += ["range", "pitch_spread", "bar_repeat", "rhythm_repeat"]
    return names


FEATURE_NAMES = tuple(_feature_names())
HEADLINE = {
    "rest_share": "share of steps that are silent",
    "out_of_key": "share of notes outside the tune's key",
    "note_length_spread": "standard deviation of note lengths (steps)",
    "bar_repeat": "share of bars equal to an earlier bar of the tune",
    "leap_share": "share of intervals wider than a major third",
    "contour_turns": "share of intervals that turn the melody's direction",
    "downbeat_onsets": "share of bars with a note starting on the downbeat",
}


# --- one continuation -----------------------------------------------------------------------------
class Window:
    """Bars ``WINDOW`` of one tune: its notes (cut at the window's end), grid, key and meter, for both critics."""

    def __init__(self, melody: Melody, window: tuple[int, int] = WINDOW):
        spb, beat = melody.steps_per_bar, melody.steps_per_beat
        lo, hi = window[0] * spb, window[1] * spb
        events = melody.events[:hi]
        self.steps_per_bar, self.steps_per_beat, self.lo, self.hi = spb, beat, lo, hi
        self.steps_per_quarter = melody.steps_per_quarter
        grid = onset_grid(events)
        self.grid = grid[lo:hi]
        self.tonic, self.mode = grid_key(grid)  # the key of bars 1-8: primer and continuation
        pitches, starts, ends = note_spans(melody.copy(events=events))
        inside = (starts >= lo) & (starts < hi)
        first = int(np.argmax(inside)) if inside.any() else pitches.size
        self.previous = int(pitches[first - 1]) if first > 0 else None  # the note before the window (the primer's last)
        self.pitches, self.starts, self.ends = pitches[inside], starts[inside], np.minimum(ends[inside], hi)
        rest_before = np.ones(self.pitches.size, bool)
        if self.pitches.size:
            prior_end = np.concatenate([[ends[first - 1] if first > 0 else -1], self.ends[:-1]])
            rest_before = self.starts > prior_end
        self.rest_before = rest_before
        all_p, all_s, all_e = note_spans(melody)  # the whole continuation: lengths as heard (for the copy figure)
        keep = (all_s >= lo) & (all_s < hi)
        self.full_lengths = (all_e - all_s)[keep]
        self.bars_grid = [tuple(grid[i : i + spb]) for i in range(0, hi, spb)]

    @property
    def intervals(self) -> np.ndarray:
        if not self.pitches.size:
            return np.zeros(0, np.int64)
        prev = self.pitches[0] if self.previous is None else self.previous
        return np.diff(np.concatenate([[prev], self.pitches]))

    def features(self) -> np.ndarray:
        f = dict.fromkeys(FEATURE_NAMES, 0.0)
        n = self.pitches.size
        bars = (self.hi - self.lo) / self.steps_per_bar
        degrees = (self.pitches - self.tonic) % 12
        if n:
            for d, share in enumerate(np.bincount(degrees, minlength=12) / n):
                f[f"pitch_class_{d}"] = share
            f["out_of_key"] = float(np.mean(~np.isin(degrees, SCALES[self.mode])))
            f["tonic_share"] = float(np.mean(degrees == 0))
            iv = self.intervals
            for i, share in zip(range(-MAX_INTERVAL, MAX_INTERVAL + 1), _histogram(np.clip(iv, -12, 12) + 12, 25)):
                f[f"interval_{i:+d}"] = share
            f["mean_abs_interval"] = float(np.abs(iv).mean())
            f["leap_share"] = float(np.mean(np.abs(iv) > 4))
            f["step_share"] = float(np.mean((np.abs(iv) >= 1) & (np.abs(iv) <= 2)))
            f["repeated_note_share"] = float(np.mean(iv == 0))
            moving = np.sign(iv[iv != 0])
            f["contour_turns"] = float(np.mean(moving[1:] != moving[:-1])) if moving.size > 1 else 0.0
            positions = (self.starts - self.lo) % self.steps_per_bar
            for p, share in enumerate(_histogram(np.minimum(positions, MAX_POSITION - 1), MAX_POSITION)):
                f[f"onset_position_{p}"] = share
            lengths = self.ends - self.starts
            quarters = lengths / self.steps_per_quarter
            bins = np.asarray(NOTE_LENGTH_QUARTERS)
            nearest = np.abs(quarters[:, None] - bins[None, :]).argmin(axis=1)
            nearest[quarters >= bins[-1]] = bins.size - 1
            for label, share in zip(NOTE_LENGTH_LABELS, _histogram(nearest, len(bins))):
                f[f"note_length_{label.replace(' ', '_')}"] = share
            f["note_length_mean"] = float(lengths.mean())
            f["note_length_spread"] = float(lengths.std())
            f["range"] = float(self.pitches.max() - self.pitches.min())
            f["pitch_spread"] = float(self.pitches.std())
        f["minor_mode"] = float(self.mode == "minor")
        onsets = self.grid >= 0
        bar_starts = np.arange(0, self.grid.size, self.steps_per_bar)
        beat_starts = np.arange(0, self.grid.size, self.steps_per_beat)
        f["downbeat_onsets"] = float(onsets[bar_starts].mean()) if bar_starts.size else 0.0
        f["beat_onsets"] = float(onsets[beat_starts].mean()) if beat_starts.size else 0.0
        f["rest_share"] = float(np.mean(self.grid == SILENT)) if self.grid.size else 0.0
        f["rests_per_bar"] = float(self.rest_before.sum() / bars)
        f["notes_per_bar"] = n / bars
        first, last = self.lo // self.steps_per_bar, self.hi // self.steps_per_bar
        repeats, rhythms = [], []
        rhythm = [tuple(np.asarray(b) >= 0) for b in self.bars_grid]
        for b in range(first, last):
            if any(v >= 0 for v in self.bars_grid[b]):
                repeats.append(self.bars_grid[b] in self.bars_grid[:b])
                rhythms.append(rhythm[b] in rhythm[:b])
        f["bar_repeat"] = float(np.mean(repeats)) if repeats else 0.0
        f["rhythm_repeat"] = float(np.mean(rhythms)) if rhythms else 0.0
        return np.asarray([f[name] for name in FEATURE_NAMES], dtype=np.float64)

    def tokens(self) -> np.ndarray:
        """``[notes, 5]`` relative events: interval (0..24), scale degree (0..11), length (0..23), position (0..23),
        rest before (0/1)."""
        if not self.pitches.size:
            return np.zeros((0, 5), np.int64)
        return np.stack(
            [
                np.clip(self.intervals, -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL,
                (self.pitches - self.tonic) % 12,
                np.clip(self.ends - self.starts, 1, 24) - 1,
                np.minimum((self.starts - self.lo) % self.steps_per_bar, MAX_POSITION - 1),
                self.rest_before.astype(np.int64),
            ],
            axis=1,
        ).astype(np.int64)

    def bar_rest_share(self, bar: int) -> float:
        """Silent share of one bar of the window (0 = its first bar)."""
        part = self.grid[bar * self.steps_per_bar : (bar + 1) * self.steps_per_bar]
        return float(np.mean(part == SILENT)) if part.size else 0.0


def _histogram(values: np.ndarray, bins: int) -> np.ndarray:
    counts = np.bincount(np.asarray(values, dtype=np.int64), minlength=bins)[:bins].astype(np.float64)
    return counts / max(counts.sum(), 1.0)


# --- critics --------------------------------------------------------------------------------------
def _folds(groups: np.ndarray, labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold per sample: groups (a tune's real and generated continuation) stay together, classes balanced."""
    rng = np.random.default_rng([seed, 31])
    fold = np.zeros(groups.size, np.int64)
    unique = np.unique(groups)
    # groups holding one class only (real-vs-real calibration) are dealt per class, so each fold gets both
    kind = np.array([labels[groups == g].mean() for g in unique])
    for value in np.unique(kind):
        chosen = rng.permutation(unique[kind == value])
        for k, g in enumerate(chosen):
            fold[groups == g] = k % folds
    return fold


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half."""
    pos, neg = labels == 1, labels == 0
    if not pos.any() or not neg.any():
        return math.nan
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # average ranks, 1-based
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * neg.sum()))


def _statistics_critic(seed: int):
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:  # scikit-learn comes with librosa; without it, a logistic regression
        return "logistic regression (NumPy)", lambda x, y, xt: _logistic(x, y, xt)

    def fit_predict(x, y, xt):
        leaf = min(20, max(2, len(y) // 10))  # a small test set still gets splits
        clf = HistGradientBoostingClassifier(
            max_iter=150, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=leaf, random_state=seed
        )
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return clf.fit(x, y).predict_proba(xt)[:, 1]
        with threadpool_limits(1):  # a few hundred rows: OpenMP threads only wait on each other (and on a busy machine)
            return clf.fit(x, y).predict_proba(xt)[:, 1]

    return "gradient boosting (scikit-learn HistGradientBoostingClassifier)", fit_predict


def _logistic(x: np.ndarray, y: np.ndarray, xt: np.ndarray, l2: float = 1e-2, steps: int = 500) -> np.ndarray:
    mean, std = x.mean(0), x.std(0) + 1e-9
    x, xt = (x - mean) / std, (xt - mean) / std
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        w -= 0.5 * (x.T @ (p - y) / len(y) + l2 * w)
        b -= 0.5 * float(np.mean(p - y))
    return 1 / (1 + np.exp(-(xt @ w + b)))


def _sequence_critic(seed: int, epochs: int):
    import torch

    class Critic(torch.nn.Module):
        def __init__(self, width: int = 32):
            super().__init__()
            self.embed = torch.nn.ModuleList(torch.nn.Embedding(n, width) for n in (25, 12, 24, MAX_POSITION, 2))
            self.gru = torch.nn.GRU(width, width, batch_first=True)
            self.out = torch.nn.Linear(width, 1)

        def forward(self, tokens, lengths):
            x = sum(e(tokens[..., i]) for i, e in enumerate(self.embed))
            out, _ = self.gru(x)  # causal: the output after each sequence's last note ignores the padding after it
            last = out[torch.arange(out.shape[0]), lengths.clamp(min=1) - 1]
            return self.out(last).squeeze(-1)

    def pad(seqs):
        lengths = torch.tensor([max(len(s), 1) for s in seqs])
        out = torch.zeros(len(seqs), int(lengths.max()), 5, dtype=torch.long)
        for i, s in enumerate(seqs):
            if len(s):
                out[i, : len(s)] = torch.as_tensor(s)
        return out, lengths

    def fit_predict(train_seqs, y, test_seqs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a tiny GRU: one thread is fastest, and leaves the others alone
        try:
            return _fit_predict(train_seqs, y, test_seqs)
        finally:
            torch.set_num_threads(threads)

    def _fit_predict(train_seqs, y, test_seqs):
        torch.manual_seed(seed)
        model = Critic()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
        tokens, lengths = pad(train_seqs)
        target = torch.as_tensor(y, dtype=torch.float32)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            order = torch.randperm(len(train_seqs), generator=generator)
            for start in range(0, len(order), 32):
                idx = order[start : start + 32]
                loss = torch.nn.functional.binary_cross_entropy_with_logits(model(tokens[idx], lengths[idx]), target[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            test_tokens, test_lengths = pad(test_seqs)
            return torch.sigmoid(model(test_tokens, test_lengths)).numpy().astype(np.float64)

    return "GRU over relative note events (32 units)", fit_predict


def _cross_validate(fit_predict, samples, labels, groups, folds: int, seed: int) -> dict:
    """Out-of-fold probabilities -> accuracy and AUC, with bootstrap intervals over groups and per-fold accuracy."""
    labels = np.asarray(labels)
    fold = _folds(np.asarray(groups), labels, folds, seed)
    scores = np.zeros(labels.size)
    per_fold = []
    for k in range(folds):
        test = fold == k
        if not test.any():
            continue
        train = ~test
        pick = lambda idx: samples[idx] if isinstance(samples, np.ndarray) else [samples[i] for i in np.flatnonzero(idx)]
        scores[test] = fit_predict(pick(train), labels[train], pick(test))
        per_fold.append(float(np.mean((scores[test] > 0.5) == labels[test])))
    hits = (scores > 0.5) == labels
    out = {"accuracy": float(hits.mean()), "auc": _auc(labels, scores), "fold_accuracy": per_fold}
    rng = np.random.default_rng([seed, 97])
    groups = np.asarray(groups)
    order = np.argsort(groups, kind="stable")  # every group has the same size here (a pair, or one tune)
    members = order.reshape(np.unique(groups).size, -1)
    accs, aucs = [], []
    for _ in range(BOOTSTRAP):
        idx = members[rng.integers(0, len(members), len(members))].ravel()
        accs.append(hits[idx].mean())
        aucs.append(_auc(labels[idx], scores[idx]))
    out["accuracy_ci"] = [float(np.percentile(accs, 2.5)), float(np.percentile(accs, 97.5))]
    out["auc_ci"] = [float(np.nanpercentile(aucs, 2.5)), float(np.nanpercentile(aucs, 97.5))]
    return out


# --- copying --------------------------------------------------------------------------------------
def _run_hashes(intervals: np.ndarray, lengths: np.ndarray, run: int) -> np.ndarray:
    """A hash of every run of ``run`` consecutive notes: the first note's length, then each next note's interval
    and length (so any key matches)."""
    n = lengths.size
    if n < run:
        return np.zeros(0, np.uint64)
    tokens = ((np.clip(intervals, -64, 63) + 64).astype(np.uint64) << np.uint64(8)) | np.clip(lengths, 0, 255).astype(np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(tokens, run).copy()
    windows[:, 0] = np.clip(lengths[: n - run + 1], 0, 255).astype(np.uint64)
    powers = np.power(np.uint64(1_000_003), np.arange(run, dtype=np.uint64)[::-1])
    with np.errstate(over="ignore"):
        return (windows * powers).sum(axis=1, dtype=np.uint64)


def corpus_runs(melodies: Sequence[Melody], run: int = COPY_RUN) -> np.ndarray:
    """The sorted, unique hashes of every ``run``-note run (intervals + lengths) of the melodies."""
    parts = []
    for m in melodies:
        pitches, starts, ends = note_spans(m)
        if pitches.size >= run:
            parts.append(_run_hashes(np.diff(pitches, prepend=pitches[:1]), ends - starts, run))
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)


def holds_run(window: Window, index: np.ndarray, run: int = COPY_RUN) -> bool:
    """True when bars ``WINDOW`` of the tune hold a ``run``-note run found in the corpus ``index``."""
    if not index.size or window.pitches.size < run:
        return False
    hashes = _run_hashes(window.intervals, window.full_lengths, run)
    return bool(np.isin(hashes, index).any())


def _train_melodies(corpus: Path | None, model) -> list[Melody]:
    from tunesmith.data.corpus import load_split

    if corpus is None or not (Path(corpus) / "corpus.json").is_file():
        return []
    events, offsets, _ = load_split(corpus, "train")
    spq = model.config.steps_per_quarter
    return [
        Melody(np.asarray(events[offsets[i] : offsets[i + 1]], dtype=np.int16), steps_per_quarter=spq)
        for i in range(len(offsets) - 1)
    ]


# --- the test -------------------------------------------------------------------------------------
def usable_tunes(reference: Sequence[Melody], window: tuple[int, int] = WINDOW, primer_bars: int = PRIMER_BARS) -> list[Melody]:
    """Tunes long enough for the test: notes in the primer bars and at least 4 notes in the window."""
    out = []
    for m in reference:
        spb = m.steps_per_bar
        if len(m) < window[1] * spb or not (m.events[: primer_bars * spb] >= 0).any():
            continue
        if (m.events[window[0] * spb : window[1] * spb] >= 0).sum() < 4:
            continue
        out.append(m)
    return out


def continue_tunes(
    model,
    tunes: Sequence[Melody],
    *,
    primer_bars: int = PRIMER_BARS,
    bars: int = BARS,
    seed: int = 0,
    progress: bool = False,
    **settings,
) -> list[Melody]:
    """Each tune's first ``primer_bars`` bars continued by the model to ``bars`` bars (default settings)."""
    from tunesmith.core.progress import progress_bar

    out = []
    bar = progress_bar(total=len(tunes), desc="continue", unit="tune", disable=not progress)
    for i, tune in enumerate(tunes):
        primer = tune.copy(events=tune.events[: primer_bars * tune.steps_per_bar].copy(), name="")
        out.append(model.generate(primer, n=1, bars=bars, seed=seed + i, **settings)[0])
        bar.update(1)
    bar.close()
    return out


def compare_continuations(
    real: Sequence[Melody],
    generated: Sequence[Melody],
    *,
    window: tuple[int, int] = WINDOW,
    folds: int = FOLDS,
    seed: int = 0,
    critics: Sequence[str] = CRITICS,
    corpus_index: np.ndarray | None = None,
    sequence_epochs: int = 20,
) -> dict:
    """The two-sample test of paired continuations (``real[i]`` and ``generated[i]`` share a primer)."""
    if len(real) != len(generated):
        raise BadInputError("compare_continuations needs one generated continuation per real tune")
    if len(real) < MIN_TUNES:
        raise BadInputError(f"the realism test needs at least {MIN_TUNES} held-out tunes of {window[1]} bars, not {len(real)}")
    unknown = set(critics) - set(CRITICS)
    if unknown:
        raise BadInputError(f"unknown critic {sorted(unknown)[0]!r}; choose from {', '.join(CRITICS)}")
    rw, gw = [Window(m, window) for m in real], [Window(m, window) for m in generated]
    n = len(rw)
    x_real, x_gen = np.stack([w.features() for w in rw]), np.stack([w.features() for w in gw])
    x = np.concatenate([x_real, x_gen])
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.int64)
    pairs = np.concatenate([np.arange(n), np.arange(n)])
    half = np.random.default_rng([seed, 53]).permutation(n) < n // 2  # real vs real: two random halves
    y_cal, own = half.astype(np.int64), np.arange(n)
    result: dict = {"tunes": n, "window_bars": [window[0] + 1, window[1]], "folds": folds, "critics": {}}
    for name in critics:
        if name == "statistics":
            label, fit = _statistics_critic(seed)
            samples, calibration = x, x_real
        else:
            label, fit = _sequence_critic(seed, sequence_epochs)
            samples = [w.tokens() for w in rw] + [w.tokens() for w in gw]
            calibration = samples[:n]
        row = {"critic": label, **_cross_validate(fit, samples, y, pairs, folds, seed)}
        row["real_vs_real"] = _cross_validate(fit, calibration, y_cal, own, folds, seed)
        result["critics"][name] = row
    result["differences"] = _differences(x_real, x_gen)
    result["figures"] = _headline(x_real, x_gen, rw, gw, seed)
    if corpus_index is not None:
        result["copying"] = {
            "run_notes": COPY_RUN,
            "corpus_runs": int(corpus_index.size),
            "generated": float(np.mean([holds_run(w, corpus_index) for w in gw])),
            "real": float(np.mean([holds_run(w, corpus_index) for w in rw])),
        }
    else:
        result["copying"] = None
    accuracies = [row["accuracy"] for row in result["critics"].values()]
    result["accuracy"] = max(accuracies) if accuracies else None  # the sharper critic's figure
    return result


def _differences(x_real: np.ndarray, x_gen: np.ndarray, top: int = 10) -> list[dict]:
    """The statistics whose means differ most between the sets, in pooled standard deviations."""
    pooled = np.sqrt((x_real.var(0) + x_gen.var(0)) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(pooled > 0, (x_gen.mean(0) - x_real.mean(0)) / pooled, 0.0)
    order = np.argsort(-np.abs(d))[:top]
    return [
        {
            "feature": FEATURE_NAMES[i],
            "generated": float(x_gen[:, i].mean()),
            "real": float(x_real[:, i].mean()),
            "d": float(d[i]),
        }
        for i in order
    ]


def _headline(x_real, x_gen, rw, gw, seed: int = 0) -> dict:
    """The issue's figures, generated vs real, each ratio with a 95 % paired bootstrap interval over tunes: a share
    as rare as rests (about 1 % of steps, in a fifth of the tunes) moves by half its size between samples of 200."""
    out = {}
    draws = np.random.default_rng([seed, 89]).integers(0, len(x_real), (BOOTSTRAP, len(x_real)))
    for name, description in HEADLINE.items():
        i = FEATURE_NAMES.index(name)
        g, r = float(x_gen[:, i].mean()), float(x_real[:, i].mean())
        real_means = x_real[draws, i].mean(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = x_gen[draws, i].mean(1) / real_means
        ratios = ratios[real_means > 0]
        interval = [float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))] if r and ratios.size else None
        out[name] = {
            "generated": g,
            "real": r,
            "ratio": g / r if r else None,
            "ratio_ci": interval,
            "description": description,
        }
    first = [w.bar_rest_share(0) for w in gw]
    later = [np.mean([w.bar_rest_share(b) for b in range(1, (w.hi - w.lo) // w.steps_per_bar)]) for w in gw]
    out["first_bar_rest_share"] = {
        "generated": float(np.mean(first)),
        "real": float(np.mean([w.bar_rest_share(0) for w in rw])),
        "generated_later_bars": float(np.mean(later)),
        "description": "silent share of the first bar after the primer (and of the later bars, generated)",
    }
    return out


def realism_test(
    model,
    data=None,
    *,
    n: int = 200,
    seed: int = 0,
    train_corpus: str | os.PathLike | None = None,
    critics: Sequence[str] = CRITICS,
    folds: int = FOLDS,
    sequence_epochs: int = 20,
    progress: bool = False,
    continue_with=None,
) -> dict:
    """Continue the first 2 bars of up to ``n`` held-out tunes to 9 bars and test bars 3-8 against the real ones.

    ``data``: held-out tunes as in ``evaluate_model`` (None: the model's own corpus' eval split; a prepared corpus;
    a MIDI folder, all held out). ``train_corpus``: the corpus whose train split the copy figure searches (default:
    the model's own training corpus, else the train split beside the held-out tunes; none there: no copy figure).
    ``continue_with``: another generator (anything with the ``generate`` of a model, e.g. ``evaluate.markov``'s chain)
    continues the tunes instead, ``model`` then only giving the held-out tunes' shape (range, steps per quarter).
    Returns the dict described in the module docstring (``critics``, ``differences``, ``figures``, ``copying``), or
    ``{"skipped": reason}`` when too few held-out tunes are long enough.
    """
    from tunesmith.evaluate.reference import corpus_dir, load_model

    model = load_model(model)
    with corpus_dir(model, data, progress) as corpus:
        return realism_on_corpus(
            model,
            corpus,
            n=n,
            seed=seed,
            train_corpus=train_corpus,
            critics=critics,
            folds=folds,
            sequence_epochs=sequence_epochs,
            progress=progress,
            continue_with=continue_with,
        )


def realism_on_corpus(
    model,
    corpus: Path,
    *,
    n: int = 200,
    seed: int = 0,
    train_corpus: str | os.PathLike | None = None,
    critics: Sequence[str] = CRITICS,
    folds: int = FOLDS,
    sequence_epochs: int = 20,
    progress: bool = False,
    continue_with=None,
) -> dict:
    """``realism_test`` on the eval split of a prepared ``corpus`` (``evaluate_model`` calls this)."""
    from tunesmith.evaluate.reference import reference_melodies, training_corpus

    if n < 1:
        raise BadInputError(f"the realism test needs n >= 1 held-out tunes, not {n}")
    tunes = usable_tunes(reference_melodies(corpus, model, split="eval"))
    if len(tunes) > n:
        tunes = [tunes[i] for i in np.sort(np.random.default_rng([seed, 11]).choice(len(tunes), n, replace=False))]
    if len(tunes) < MIN_TUNES:
        return {"skipped": f"only {len(tunes)} held-out tunes have {WINDOW[1]} bars with notes (the test needs {MIN_TUNES})"}
    if train_corpus is not None:
        source = Path(train_corpus)
        train = _train_melodies(source, model)
    else:  # the model's own training corpus, else the train split beside the held-out tunes
        own = training_corpus(Path(model.model_dir)) if model.model_dir else None
        source, train = own, _train_melodies(own, model)
        if not train:
            source, train = corpus, _train_melodies(corpus, model)
    generated = continue_tunes(continue_with or model, tunes, seed=seed, progress=progress)
    index = corpus_runs(train) if train else None
    result = compare_continuations(
        tunes, generated, folds=folds, seed=seed, critics=critics, corpus_index=index, sequence_epochs=sequence_epochs
    )
    result["settings"] = {
        "n": n,
        "seed": seed,
        "primer_bars": PRIMER_BARS,
        "bars": BARS,
        "generation": "model defaults" if continue_with is None else type(continue_with).__name__,
    }
    if result["copying"] is not None:
        result["copying"]["corpus"] = str(source)
        result["copying"]["corpus_melodies"] = len(train)
    return result
