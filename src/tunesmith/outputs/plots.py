"""Pictures of music: piano rolls (bokeh HTML + PNG) and spectrograms (the loss curve is in core/figures.py).

A *piano roll* draws each note as a bar: time runs left to right, pitch bottom to top, as in
Magenta/note_seq's bokeh plot. Notes that came from a primer are drawn in another colour than the
generated continuation. Every HTML page embeds bokeh's JavaScript (INLINE resources), so it opens
offline; PNGs are drawn with matplotlib's Agg canvas at the exact pixel size asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.core.errors import BadInputError
from tunesmith.core.figures import (
    GENERATED_COLOR,
    PRIMER_COLOR,
    figure_html,
    new_figure,
    one_drawing_at_a_time,
    save_figure,
    share_bokeh_js,
)
from tunesmith.core.files import write_text
from tunesmith.core.folders import writes_file
from tunesmith.music.melody import DEFAULT_STEPS_PER_QUARTER, Melody
from tunesmith.music.notes import pitch_to_name

PITCH_NAMES = tuple(pitch_to_name(p) for p in range(128))


@dataclass
class NoteArrays:
    """Notes as parallel arrays in seconds (what every plot and the video draw)."""

    pitch: np.ndarray
    start: np.ndarray
    end: np.ndarray
    velocity: np.ndarray
    primer: np.ndarray  # bool: the note came from the primer
    primer_end: float  # seconds; 0 when there is no primer

    def __len__(self) -> int:
        return int(self.pitch.size)

    @property
    def duration(self) -> float:
        return float(self.end.max()) if len(self) else 0.0


def note_arrays(obj, primer_steps: int | None = None) -> NoteArrays:
    """Melody/Score/MIDI bytes/path -> NoteArrays; ``primer_steps`` defaults to ``Melody.primer_steps``.

    For a Score, ``primer_steps`` counts 16th notes (4 steps per quarter) from the start.
    """
    from tunesmith.music.midi import as_score

    if isinstance(obj, NoteArrays):
        return obj
    if isinstance(obj, Melody):
        notes = obj.notes()
        step = obj.seconds_per_step()
        steps = obj.primer_steps if primer_steps is None else primer_steps
        pitch = np.array([n.pitch for n in notes], np.int64)
        start = np.array([n.start for n in notes], np.float64) * step
        end = np.array([n.end for n in notes], np.float64) * step
        velocity = np.array([n.velocity for n in notes], np.int64)
        primer_end = steps * step
    else:
        score = as_score(obj)
        seconds = score.to("second")
        tracks = [t.notes.numpy() for t in seconds.tracks if len(t.notes)]
        if tracks:
            pitch = np.concatenate([t["pitch"] for t in tracks]).astype(np.int64)
            start = np.concatenate([t["time"] for t in tracks]).astype(np.float64)
            end = start + np.concatenate([t["duration"] for t in tracks]).astype(np.float64)
            velocity = np.concatenate([t["velocity"] for t in tracks]).astype(np.int64)
        else:
            pitch = velocity = np.zeros(0, np.int64)
            start = end = np.zeros(0, np.float64)
        primer_end = 0.0
        if primer_steps:
            ticks = int(primer_steps * score.tpq / DEFAULT_STEPS_PER_QUARTER)
            primer_end = _ticks_to_seconds(score, ticks)
    return NoteArrays(pitch, start, end, velocity, start < primer_end - 1e-9, float(primer_end))


def _ticks_to_seconds(score, ticks: int) -> float:
    """Seconds at tick ``ticks`` following the score's tempo map."""
    tempos = sorted(((t.time, t.mspq) for t in score.tempos), key=lambda x: x[0]) or [(0, 500000)]
    if tempos[0][0] > 0:
        tempos.insert(0, (0, 500000))
    seconds, last_tick, mspq = 0.0, 0, tempos[0][1]
    for tick, tempo in tempos[1:]:
        if tick >= ticks:
            break
        seconds += (tick - last_tick) * mspq / 1e6 / score.tpq
        last_tick, mspq = tick, tempo
    return seconds + (ticks - last_tick) * mspq / 1e6 / score.tpq


# --- bokeh piano roll ---------------------------------------------------------------------
def piano_roll_figure(
    obj, title: str | None = None, primer_steps: int | None = None, width: int | None = 1000, height: int = 400
):
    """An interactive bokeh piano roll: hover a note for its name, start, end and velocity."""
    from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, Span
    from bokeh.plotting import figure

    notes = note_arrays(obj, primer_steps)
    if not len(notes):
        raise BadInputError(f"nothing to plot: {_what(obj)} has no notes")
    low, high = int(notes.pitch.min()) - 2, int(notes.pitch.max()) + 2
    size = {"width": width} if width else {"sizing_mode": "stretch_width"}
    fig = figure(
        title=title or _default_title(obj, notes),
        height=height,
        **size,
        x_axis_label="time (s)",
        y_axis_label="pitch",
        x_range=(0, max(notes.duration, notes.primer_end) * 1.02),
        y_range=(low - 0.5, high + 0.5),
        tools="pan,wheel_zoom,box_zoom,reset,save",
        active_drag="pan",
        active_scroll="wheel_zoom",
    )
    groups = [("primer", notes.primer, PRIMER_COLOR), ("generated", ~notes.primer, GENERATED_COLOR)]
    if not notes.primer.any():
        groups = [("notes", ~notes.primer, GENERATED_COLOR)]
    renderers = []
    for label, mask, color in groups:
        if not mask.any():
            continue
        source = ColumnDataSource(
            dict(
                left=notes.start[mask],
                right=notes.end[mask],
                bottom=notes.pitch[mask] - 0.4,
                top=notes.pitch[mask] + 0.4,
                pitch=notes.pitch[mask],
                name=[PITCH_NAMES[p] for p in notes.pitch[mask]],
                start=np.round(notes.start[mask], 3),
                end=np.round(notes.end[mask], 3),
                velocity=notes.velocity[mask],
                alpha=0.45 + 0.55 * notes.velocity[mask] / 127,
            )
        )
        renderers.append(
            fig.quad(
                left="left",
                right="right",
                bottom="bottom",
                top="top",
                source=source,
                fill_color=color,
                fill_alpha="alpha",
                line_color="black",
                line_width=0.5,
                legend_label=label,
            )
        )
    fig.add_tools(
        HoverTool(
            renderers=renderers,
            tooltips=[
                ("note", "@name (@pitch)"),
                ("start", "@start{0.000} s"),
                ("end", "@end{0.000} s"),
                ("velocity", "@velocity"),
            ],
        )
    )
    if notes.primer_end > 0:
        fig.add_layout(
            Span(location=notes.primer_end, dimension="height", line_color=PRIMER_COLOR, line_dash="dashed", line_width=1.5)
        )
    ticks = [p for p in range(max(low, 0), min(high, 127) + 1) if p % 12 == 0] or [max(low, 0)]
    if high - low <= 24:
        ticks = list(range(max(low, 0), min(high, 127) + 1))
    fig.yaxis.ticker = FixedTicker(ticks=ticks)
    fig.yaxis.major_label_overrides = {p: PITCH_NAMES[p] for p in ticks}
    fig.ygrid.ticker = FixedTicker(ticks=[p + 0.5 for p in range(max(low, 0), min(high, 127) + 1) if p % 12 == 11])
    fig.legend.location = "top_right"
    fig.legend.click_policy = "hide"
    return fig


def _default_title(obj, notes: NoteArrays) -> str:
    name = getattr(obj, "name", "") or (Path(obj).name if isinstance(obj, str | os.PathLike) else "")
    return f"{name + ': ' if name else ''}{len(notes)} notes, {notes.duration:.1f} s"


def _what(obj) -> str:
    """The input named for a message: its path, or what it is."""
    from tunesmith.music.midi import source_name

    return source_name(obj)


@writes_file((".html", ".htm"), what="piano roll")
def save_piano_roll_html(obj, path: str | os.PathLike, *, js_dir: str | os.PathLike | None = None, **kwargs) -> Path:
    """Write the interactive piano roll as an HTML file: self-contained, or, with ``js_dir``, loading bokeh's
    JS from the copy shared by all pages under that folder (a gallery of many melodies stays small).
    An existing file is replaced only with ``force=True`` (``tunesmith.core.folders``)."""
    fig = piano_roll_figure(obj, **kwargs)
    js_url = None
    if js_dir is not None:
        share_bokeh_js(js_dir)
        js_url = Path(os.path.relpath(Path(js_dir), Path(path).parent)).as_posix() + "/"
    return write_text(path, figure_html(fig, title=fig.title.text or "piano roll", js_url=js_url))


# --- matplotlib piano roll ----------------------------------------------------------------
@writes_file((".png",), what="piano roll")
@one_drawing_at_a_time
def save_piano_roll_png(
    obj, path: str | os.PathLike, width: int = 1200, height: int = 400, title: str | None = None, primer_steps: int | None = None
) -> Path:
    """Write a static piano roll PNG of exactly ``width`` x ``height`` pixels (an existing file: ``force=True``)."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    notes = note_arrays(obj, primer_steps)
    if not len(notes):
        raise BadInputError(f"nothing to plot: {_what(obj)} has no notes")
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    x0, x1, y0, y1 = notes.start, notes.end, notes.pitch - 0.4, notes.pitch + 0.4
    verts = np.stack([np.stack([x0, y0], 1), np.stack([x0, y1], 1), np.stack([x1, y1], 1), np.stack([x1, y0], 1)], 1)
    colors = np.where(notes.primer[:, None], _rgb(PRIMER_COLOR), _rgb(GENERATED_COLOR))
    alpha = 0.45 + 0.55 * notes.velocity / 127
    ax.add_collection(PolyCollection(verts, facecolors=np.column_stack([colors, alpha]), edgecolors="black", linewidths=0.4))
    low, high = int(notes.pitch.min()) - 2, int(notes.pitch.max()) + 2
    ax.set_xlim(0, max(notes.duration, notes.primer_end) * 1.02)
    ax.set_ylim(low - 0.5, high + 0.5)
    ticks = [p for p in range(max(low, 0), min(high, 127) + 1) if p % 12 == 0 or high - low <= 24]
    ax.set_yticks(ticks, [PITCH_NAMES[p] for p in ticks], fontsize=7 if len(ticks) > 12 else 9)
    ax.set_xlabel("time (s)")
    ax.set_title(title or _default_title(obj, notes), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    if notes.primer.any():
        ax.axvline(notes.primer_end, color=PRIMER_COLOR, linestyle="--", linewidth=1)
        ax.legend(
            handles=[Patch(color=PRIMER_COLOR, label="primer"), Patch(color=GENERATED_COLOR, label="generated")],
            loc="upper right",
            fontsize=8,
        )
    fig.tight_layout()
    return save_figure(fig, path)


def _rgb(hex_color: str) -> np.ndarray:
    return np.array([int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)])


def plot_piano_roll(obj, path: str | os.PathLike | None = None, png: bool = False, **kwargs):
    """Convenience: the bokeh figure (``path=None``), else write HTML (or PNG with ``png=True`` / a .png path)."""
    if path is None:
        return piano_roll_figure(obj, **kwargs)
    if png or Path(path).suffix.lower() == ".png":
        return save_piano_roll_png(obj, path, **kwargs)
    return save_piano_roll_html(obj, path, **kwargs)


# --- spectrogram --------------------------------------------------------------------------
def stft_db(audio: np.ndarray, n_fft: int = 2048, hop: int = 512, top_db: float = 90.0) -> np.ndarray:
    """Magnitude STFT in dB relative to the peak, [bins, frames] (numpy: no numba start-up cost)."""
    audio = np.pad(np.asarray(audio, np.float32), (n_fft // 2, n_fft // 2))
    if audio.size < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.size))
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop]
    magnitude = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)).T
    db = 20 * np.log10(np.maximum(magnitude, 1e-10) / max(float(magnitude.max()), 1e-10))
    return np.maximum(db, -top_db)


@writes_file((".png",), what="spectrogram", inputs=("audio_or_path",))
@one_drawing_at_a_time
def save_spectrogram(
    audio_or_path,
    path: str | os.PathLike,
    sample_rate: int | None = None,
    title: str | None = None,
    width: int = 1200,
    height: int = 500,
) -> Path:
    """Log-frequency spectrogram (dB, relative to the peak) of an audio array or file, as a PNG (an existing
    file: ``force=True``)."""
    if isinstance(audio_or_path, np.ndarray):
        if sample_rate is None:
            raise BadInputError("save_spectrogram of an array needs sample_rate")
        audio, sr = audio_or_path, int(sample_rate)
    else:
        from tunesmith.audio.io import load_audio

        audio, sr = load_audio(audio_or_path, None)  # the one reader: same formats and messages everywhere
        title = title or Path(audio_or_path).name
    audio = np.asarray(audio, np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    n_fft = 2048
    hop = max(512, int(np.ceil(audio.size / (2 * width))))  # at most ~2 frames per pixel column
    db = stft_db(audio, n_fft, hop)
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    times = np.arange(db.shape[1]) * hop / sr
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(times, freqs[1:], db[1:], shading="auto", cmap="magma", vmin=-90, vmax=0, rasterized=True)
    ax.set_yscale("log")
    ax.set_ylim(max(freqs[1], 20), sr / 2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    fig.colorbar(mesh, ax=ax, format="%+2.0f dB")
    ax.set_title(title or "spectrogram", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
