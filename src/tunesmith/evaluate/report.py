"""The whole evaluation of a melody model: likelihood + generated-vs-reference statistics, as JSON and offline HTML."""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tunesmith.core.errors import BadInputError
from tunesmith.core.figures import one_drawing_at_a_time
from tunesmith.core.files import write_json, write_text
from tunesmith.evaluate.advice import evaluation_warnings
from tunesmith.evaluate.form import FORM_DESCRIPTIONS, FORM_FIGURES, compare_form, form_statistics
from tunesmith.evaluate.likelihood import likelihood_on_corpus
from tunesmith.evaluate.reference import corpus_dir, load_model, reference_melodies
from tunesmith.evaluate.statistics import (
    FEATURES,
    MAX_INTERVAL,
    NOTE_LENGTH_LABELS,
    PITCH_CLASSES,
    SCALAR_METRICS,
    _compare,
    melody_statistics,
)
from tunesmith.melody.model import count_parameters
from tunesmith.music.melody import Melody


# --- the whole evaluation -------------------------------------------------------------------------
def _primers(reference: list[Melody], count: int) -> list[Melody | str]:
    """The first bar of up to ``count`` reference melodies that start with a note in it (in their meter); else "C4"."""
    primers: list[Melody | str] = []
    for melody in reference:
        first = melody.events[: melody.steps_per_bar]
        if (first >= 0).any():
            start = int(np.flatnonzero(first >= 0)[0])
            primers.append(melody.copy(events=first[start:].copy(), name=""))
        if len(primers) == count:
            break
    return primers or ["C4"]


def _generate(model, reference: list[Melody], n: int, steps: int, seed: int) -> list[Melody]:
    primers = _primers(reference, max(1, min(10, n // 20)))  # >= 20 melodies per primer
    sizes = [n // len(primers) + (1 if g < n % len(primers) else 0) for g in range(len(primers))]
    out: list[Melody] = []
    for g, (primer, size) in enumerate(zip(primers, sizes)):
        if size:
            new = max(1, steps - (len(primer) if isinstance(primer, Melody) else 4))  # as long as the reference in all
            out.extend(model.generate(primer, n=size, steps=new, seed=seed + g))
    return out


def _evaluate(model, data, n: int, steps: int, seed: int, progress: bool, realism: int = 0) -> tuple[dict, dict]:
    from tunesmith.core.progress import progress_bar
    from tunesmith.evaluate.realism import realism_on_corpus

    if n < 1 or steps < 2:
        raise BadInputError("evaluation needs n >= 1 melodies of at least 2 steps")
    if realism < 0:
        raise BadInputError(f"realism must be 0 (no realism test) or a number of held-out tunes, not {realism}")
    model = load_model(model)
    bar = progress_bar(total=5 if realism else 4, desc="evaluate", unit="part", disable=not progress)
    with corpus_dir(model, data, progress) as corpus:
        lik = likelihood_on_corpus(model, corpus)
        bar.update(1)
        lik["data"] = str(data) if data is not None else str(corpus)
        reference = reference_melodies(corpus, model, split="eval", limit=n, steps=steps, seed=seed)
        real = realism_on_corpus(model, corpus, n=realism, seed=seed) if realism else None
        if realism:
            bar.update(1)
    generated = _generate(model, reference, n, steps, seed)
    bar.update(1)
    stats = {"generated": melody_statistics(generated), "reference": melody_statistics(reference)}
    bar.update(1)
    comparison, curves = _compare(generated, reference)
    form = compare_form(form_statistics(generated, first_bar=1), form_statistics(reference, first_bar=1))
    bar.update(1)
    bar.close()
    report = {
        "model": str(model.model_dir) if model.model_dir else None,
        "config": model.config.name,
        "params": count_parameters(model.module),
        "model_config": dataclasses.asdict(model.config),
        "settings": {
            "data": None if data is None else str(data),
            "n": n,
            "steps": steps,
            "seed": seed,
            "reference_split": "eval",
            "reference_melodies": len(reference),
        },
        "likelihood": lik,
        "statistics": stats,
        "comparison": comparison,
        "form": form,
    }
    if real is not None:
        report["realism"] = real
    report["warnings"] = evaluation_warnings(report, _fine_tuned_from(model))
    return report, curves


def _fine_tuned_from(model) -> str | None:
    from tunesmith.core.checkpoint import load_config

    return load_config(model.model_dir).get("init_from") if model.model_dir else None


def evaluate_model(
    model,
    out_dir: str | os.PathLike,
    *,
    data=None,
    n: int = 200,
    steps: int = 128,
    seed: int = 0,
    realism: int = 100,
    progress: bool = True,
    force: bool = False,
) -> dict:
    """Evaluate a melody model and write ``report.json`` and an offline ``report.html`` into ``out_dir``.

    Likelihood on held-out data, then ``n`` melodies of ``steps`` steps generated from the first bar of
    reference melodies (one primer per 20 melodies, at most 10; "C4" when none) and compared with the reference set (the
    held-out melodies, squashed like training data and cut to ``steps``). Generated melodies include their
    one-bar primer, as the reference melodies include their first bar. Form figures (``evaluate.form``) are taken
    after that first bar. ``realism``: how many held-out tunes the realism test (``evaluate.realism``) continues from
    their first 2 bars and tells from the real ones (0: no test). Returns the report dict (keys ``likelihood``,
    ``statistics``, ``comparison``, ``form``, ``realism``, plus model, config, params, settings, files).

    ``out_dir`` must be new, empty or an earlier evaluation's (known by its ``report.json``); ``force=True``
    writes into another folder, replacing only ``report.json`` and ``report.html``. It is checked and locked
    before any work.
    """
    from tunesmith.core.folders import MELODY_EVALUATION, output_dir

    with output_dir(out_dir, MELODY_EVALUATION.name, force=force):
        report, curves = _evaluate(model, data, n, steps, seed, progress, realism)
        out_dir = Path(out_dir)
        report = {"kind": MELODY_EVALUATION.name, **report, "files": {"json": "report.json", "html": "report.html"}}
        write_text(out_dir / "report.html", report_html(report, curves))
        write_json(out_dir / "report.json", report)  # last: the marker of a whole report
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


@one_drawing_at_a_time
def _histogram_figures(stats: dict) -> str:
    gen, ref = stats["generated"], stats["reference"]
    panels = [
        ("Pitch-class histogram", list(PITCH_CLASSES), "pitch_class_histogram"),
        ("Note-length histogram", list(NOTE_LENGTH_LABELS), "note_length_histogram"),
        (
            "Interval histogram (semitones)",
            [f"≤{-MAX_INTERVAL}", *map(str, range(1 - MAX_INTERVAL, MAX_INTERVAL)), f"≥{MAX_INTERVAL}"],
            "interval_histogram",
        ),
    ]
    fig = _figure(14, 3.6)
    axes = fig.subplots(1, 3, width_ratios=[1, 1, 1.6])
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.22, top=0.9, wspace=0.2)
    for ax, (title, labels, key) in zip(axes, panels):
        x = np.arange(len(labels))
        for offset, (name, values, color) in zip(
            (-0.2, 0.2), (("generated", gen[key], "#d62728"), ("reference", ref[key], "#1f77b4"))
        ):
            if values is not None:
                ax.bar(x + offset, values, width=0.4, label=name, color=color)
        ax.set_xticks(x, labels, rotation=60 if len(labels) > 12 else 30, ha="right", rotation_mode="anchor", fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("share")
        ax.legend(fontsize=8)
    return _png(fig)


@one_drawing_at_a_time
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
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, str) else _fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


LIKELIHOOD_ROWS = (
    ("loss", "loss (nats/step)"),
    ("bits_per_step", "bits/step"),
    ("perplexity", "perplexity"),
    ("accuracy", "accuracy"),
    ("note_on_loss", "note-on loss"),
    ("note_on_accuracy", "note-on accuracy"),
    ("other_loss", "hold/off loss"),
    ("other_accuracy", "hold/off accuracy"),
    ("steps", "steps"),
    ("melodies", "melodies"),
)


def report_html(report: dict, curves: dict | None = None) -> str:
    """The report as one self-contained HTML page (figures are embedded PNGs; nothing is fetched)."""
    lik, stats, comp = report["likelihood"], report["statistics"], report["comparison"]
    lik_rows = [[label, *(lik[s].get(k) if lik.get(s) else None for s in ("eval", "train"))] for k, label in LIKELIHOOD_ROWS]
    lik_rows.append(["eval - train loss", lik.get("train_eval_gap"), None])
    lik_rows.append(["overfitting (from log.jsonl)", _fmt(lik.get("overfitting")), ""])
    stat_rows = [[name.replace("_", " "), stats["generated"].get(name), stats["reference"].get(name)] for name in SCALAR_METRICS]
    comp_rows = [
        [
            name.replace("_", " "),
            r["intra_generated_mean"],
            r["intra_reference_mean"],
            r["inter_mean"],
            r["kl"],
            r["oa"],
            r["oa_generated"],
        ]
        for name, r in comp["features"].items()
    ]
    comp_rows.append(["mean", None, None, None, comp["summary"]["mean_kl"], comp["summary"]["mean_oa"], None])
    settings = report["settings"]
    title = f"tunesmith evaluation: {report['config']}"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Model <code>{_fmt(report['model'])}</code> ({report['params']:,} parameters); "
        f"{settings['n']} generated melodies of {settings['steps']} steps (seed {settings['seed']}) vs "
        f"{settings['reference_melodies']} reference melodies from the {settings['reference_split']} split.</p>",
        *(f'<p class="warning"><strong>Warning:</strong> {html.escape(w)}</p>' for w in report.get("warnings", ())),
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
    if report.get("form"):
        form_rows = [
            [
                f"{name.replace('_', ' ')}: {FORM_DESCRIPTIONS[name]}",
                *(report["form"][name][k] for k in ("generated", "reference", "ratio")),
            ]
            for name in FORM_FIGURES
        ]
        parts += [
            "<h2>Form</h2><p>Does a melody repeat, answer, keep its key and come home? Per melody after its first "
            "bar, bar length from its own meter; means over melodies. A ratio near 1 = like the reference.</p>",
            _table(["figure", "generated", "reference", "ratio"], form_rows),
        ]
    if report.get("realism"):
        parts += _realism_html(report["realism"])
    style = (
        "body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}.warning{background:#fff3cd;padding:.5em}"
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def _interval(value, ci) -> str:
    return f"{_fmt(value)} [{_fmt(ci[0])}, {_fmt(ci[1])}]"


def _ratio(row: dict):
    """A headline ratio with its bootstrap interval, where the report has one."""
    if row.get("ratio") is None or not row.get("ratio_ci"):
        return row.get("ratio")
    return _interval(row["ratio"], row["ratio_ci"])


def _realism_html(real: dict) -> list[str]:
    head = (
        "<h2>Realism</h2><p>Can a classifier tell the model's continuations from real tunes? The first 2 bars of "
        "held-out tunes were continued to 9 bars; critics compare bars 3-8 with the same tunes' real bars 3-8 "
        "(5-fold cross-validation, a tune's pair in one fold). Accuracy 0.5 = cannot tell; [95% bootstrap interval]; "
        "real vs real = the same critic on two halves of the real tunes (the noise floor).</p>"
    )
    if "skipped" in real:
        return [head, f"<p>Not run: {html.escape(real['skipped'])}.</p>"]
    critic_rows = [
        [
            f"{name}: {html.escape(row['critic'])}",
            _interval(row["accuracy"], row["accuracy_ci"]),
            _interval(row["auc"], row["auc_ci"]),
            _interval(row["real_vs_real"]["accuracy"], row["real_vs_real"]["accuracy_ci"]),
            _interval(row["real_vs_real"]["auc"], row["real_vs_real"]["auc_ci"]),
        ]
        for name, row in real["critics"].items()
    ]
    figure_rows = []
    for row in real["figures"].values():
        later = row.get("generated_later_bars")
        extra = f" (later bars: {_fmt(later)})" if later is not None else ""
        figure_rows.append([html.escape(row["description"]), f"{_fmt(row['generated'])}{extra}", row["real"], _ratio(row)])
    diff_rows = [[d["feature"].replace("_", " "), d["generated"], d["real"], d["d"]] for d in real["differences"]]
    parts = [
        head,
        f"<p>{real['tunes']} tunes.</p>",
        _table(["critic", "accuracy", "ROC AUC", "real vs real accuracy", "real vs real AUC"], critic_rows),
        _table(["figure (bars 3-8)", "generated", "real", "ratio"], figure_rows),
        "<p>What tells them apart most (standardised mean difference d, generated minus real):</p>",
        _table(["statistic", "generated", "real", "d"], diff_rows),
    ]
    copying = real.get("copying")
    if copying:
        parts.append(
            f"<p>Copying: {_fmt(copying['generated'])} of the continuations hold a run of {copying['run_notes']} notes "
            f"(intervals and lengths, any key) from the {copying['corpus_melodies']:,} training melodies; "
            f"real held-out tunes: {_fmt(copying['real'])}.</p>"
        )
    else:
        parts.append("<p>Copying: no training corpus at hand to search.</p>")
    return parts


# --- several models -------------------------------------------------------------------------------
def _model_label(model, used: set[str]) -> str:
    base = Path(model.model_dir).name if model.model_dir else model.config.name
    label, k = base, 2
    while label in used:
        label, k = f"{base}_{k}", k + 1
    used.add(label)
    return label


def compare_models(
    models: list,
    *,
    data=None,
    n: int = 100,
    out_dir: str | os.PathLike | None = None,
    steps: int = 128,
    seed: int = 0,
    force: bool = False,
    realism: int = 0,
) -> str:
    """Evaluate each model the same way and return a Markdown table, one row per model.

    With ``out_dir``: each model's report goes to ``out_dir/<name>/`` and the table to ``compare.md`` and
    ``compare.json``. ``realism``: held-out tunes for each model's realism test (0: none).
    Without ``data`` each model is judged on its own held-out split, so rows are only
    comparable when the models were trained on the same corpus (the table says so).
    """
    if not models:
        raise BadInputError("compare_models needs at least one model")
    if out_dir is None:
        return _compare_models(models, data, n, None, steps, seed, force, realism)
    from tunesmith.core.folders import COMPARISON, output_dir, write_marker

    with output_dir(out_dir, COMPARISON.name, force=force):  # checked and locked before the first model is judged
        write_marker(out_dir, COMPARISON.name)
        return _compare_models(models, data, n, out_dir, steps, seed, force, realism)


def _compare_models(models: list, data, n: int, out_dir, steps: int, seed: int, force: bool, realism: int = 0) -> str:
    rows, reports, used = [], [], set()
    for item in models:
        model = load_model(item)
        label = _model_label(model, used)
        if out_dir is not None:
            report = evaluate_model(
                model, Path(out_dir) / label, data=data, n=n, steps=steps, seed=seed, realism=realism, progress=False, force=force
            )
        else:
            report = _evaluate(model, data, n, steps, seed, False, realism)[0]
        reports.append({"name": label, **report})
        lik, gen, summ = report["likelihood"], report["statistics"]["generated"], report["comparison"]["summary"]
        ref = report["statistics"]["reference"]
        rows.append(
            [
                label,
                report["config"],
                f"{report['params']:,}",
                _fmt(lik["loss"]),
                _fmt(lik["perplexity"], 2),
                _fmt(lik["accuracy"]),
                _fmt(lik["note_on_loss"]),
                _fmt(lik["overfitting"]),
                f"{_fmt(gen['pitch_class_entropy'], 2)} / {_fmt(ref['pitch_class_entropy'], 2)}",
                f"{_fmt(gen['scale_consistency'], 2)} / {_fmt(ref['scale_consistency'], 2)}",
                f"{_fmt(gen['empty_beat_rate'], 2)} / {_fmt(ref['empty_beat_rate'], 2)}",
                _fmt(summ["mean_oa"]),
                _fmt(summ["mean_kl"]),
            ]
        )
    header = [
        "model",
        "config",
        "params",
        "held-out loss",
        "ppl",
        "acc",
        "note-on loss",
        "overfitting",
        "pc entropy gen/ref",
        "scale consistency gen/ref",
        "empty beats gen/ref",
        "mean OA",
        "mean KL",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    if data is None and len({r["likelihood"]["data"] for r in reports}) > 1:
        lines.append("\nEach model was judged on its own held-out split; pass data= to compare on the same melodies.")
    lines.append(
        f"\nloss in nats/step; {n} generated melodies per model; OA/KL average MGEval's "
        f"{len(FEATURES)} features (OA 1 = like the reference set)."
    )
    table = "\n".join(lines) + "\n"
    if out_dir is not None:
        write_text(Path(out_dir) / "compare.md", table)
        summary = {"kind": "model comparison", "data": None if data is None else str(data), "n": n, "models": reports}
        write_json(Path(out_dir) / "compare.json", summary)
    return table
