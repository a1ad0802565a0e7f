"""Drawing plumbing every figure shares, and the one figure training draws itself: the loss curve.

It lives in core/ because the training loop writes ``MODEL_DIR/plots/loss.png`` and ``loss.html`` into every
model folder it saves; matplotlib and bokeh load only when a figure is drawn. The two colours are the house
palette: the primer (orange) and what a model generated (blue), in piano rolls, videos and engraved scores alike.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

import numpy as np

from tunesmith.core.errors import BadInputError
from tunesmith.core.files import atomic_path, write_text

PRIMER_COLOR = "#e6550d"  # orange
GENERATED_COLOR = "#3182bd"  # blue

# matplotlib's object API alone is not enough for threads: tick labels such as a log axis's $10^{2}$ go through
# one shared mathtext (pyparsing) parser, and 8 spectrograms drawn at once from threads failed 31 of 40 times with
# ParseException. Every matplotlib drawing in tunesmith holds this lock (the web studio runs jobs on threads).
DRAWING_LOCK = threading.RLock()


def one_drawing_at_a_time(fn):
    """Decorator: run ``fn`` (which draws with matplotlib) while holding :data:`DRAWING_LOCK`."""

    @functools.wraps(fn)
    def locked(*args, **kwargs):
        with DRAWING_LOCK:
            return fn(*args, **kwargs)

    return locked


def figure_html(fig, title: str = "tunesmith", js_url: str | None = None) -> str:
    """An HTML page that works offline: bokeh's JS embedded (1.3 MB), or loaded from ``js_url``, a relative
    folder holding ``static/js/`` as ``share_bokeh_js`` writes it (pages of one gallery share one copy)."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE, Resources

    resources = INLINE if js_url is None else Resources(mode="server", root_url=js_url)
    html = file_html(fig, resources=resources, title=title)
    # bokeh's bundle would pull MathJax from a CDN if a label held TeX; keep the page strictly offline
    return html.replace(f'"{MATHJAX_CDN}"', '""')


MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-svg.js"


def share_bokeh_js(folder: str | os.PathLike) -> Path:
    """Write bokeh's JS once into ``FOLDER/static/js/`` (what ``figure_html(js_url=...)`` pages load)."""
    from bokeh.util.paths import bokehjs_path

    target = Path(folder) / "static" / "js" / "bokeh.min.js"
    if not target.is_file():
        code = (bokehjs_path() / "js" / "bokeh.min.js").read_text(encoding="utf-8")
        write_text(target, code.replace(f'"{MATHJAX_CDN}"', '""'))
    return target


def new_figure(width: int, height: int, dpi: int = 100):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """PNG at exactly figsize*dpi pixels (no tight bbox: that would change the size)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), dpi=dpi, format="png")
    return path


# --- loss curves --------------------------------------------------------------------------
def save_loss_curve(model_dir: str | os.PathLike) -> dict[str, Path]:
    """Draw ``MODEL_DIR/plots/loss.png`` and ``loss.html`` from the training log (train and eval loss vs step).

    Accuracy gets a second panel when the log has it. Returns ``{}`` (writes nothing) when the log is empty.
    """
    from tunesmith.core.checkpoint import read_log
    from tunesmith.core.folders import folder_kind

    model_dir = Path(model_dir)
    if model_dir.is_dir() and folder_kind(model_dir) not in ("melody model", "audio model"):  # plots/: a model's only
        raise BadInputError(f"{model_dir} is not a model folder (no config.json of a trained model); give a model's folder")
    rows = [r for r in read_log(model_dir) if "step" in r]
    series = {}
    for metric in ("loss", "accuracy"):
        for split in ("train", "eval"):
            points = [
                (r["step"], r[metric])
                for r in rows
                if r.get("split", "train") == split and isinstance(r.get(metric), int | float)
            ]
            if points:
                series[(metric, split)] = np.array(points, np.float64)
    if not series:
        return {}
    metrics = [m for m in ("loss", "accuracy") if any(k[0] == m for k in series)]
    out_dir = model_dir / "plots"
    return {
        "png": _loss_png(series, metrics, out_dir / "loss.png", model_dir.name),
        "html": _loss_html(series, metrics, out_dir / "loss.html", model_dir.name),
    }


_SPLIT_COLORS = {"train": GENERATED_COLOR, "eval": PRIMER_COLOR}


@one_drawing_at_a_time
def _loss_png(series, metrics, path: Path, name: str) -> Path:
    fig = new_figure(900, 350 * len(metrics))
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(len(metrics), 1, i + 1)
        for (m, split), xy in series.items():
            if m == metric:
                ax.plot(
                    xy[:, 0],
                    xy[:, 1],
                    marker="o" if len(xy) < 50 else None,
                    markersize=3,
                    color=_SPLIT_COLORS[split],
                    label=split,
                )
        ax.set_ylabel(metric)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if i == 0:
            ax.set_title(f"{name}: training curves", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _loss_html(series, metrics, path: Path, name: str) -> Path:
    from bokeh.layouts import column
    from bokeh.models import HoverTool
    from bokeh.plotting import figure

    figs = []
    for metric in metrics:
        fig = figure(
            title=f"{name}: {metric}",
            width=900,
            height=320,
            x_axis_label="step",
            y_axis_label=metric,
            tools="pan,wheel_zoom,box_zoom,reset,save",
        )
        for (m, split), xy in series.items():
            if m == metric:
                fig.line(xy[:, 0], xy[:, 1], color=_SPLIT_COLORS[split], legend_label=split, line_width=2)
                fig.scatter(xy[:, 0], xy[:, 1], color=_SPLIT_COLORS[split], legend_label=split, size=5)
        fig.add_tools(HoverTool(tooltips=[("step", "@x"), (metric, "@y{0.0000}")]))
        fig.legend.click_policy = "hide"
        figs.append(fig)
    return write_text(path, figure_html(column(*figs), title=f"{name} training curves"))
