"""The ``tunesmith`` command: parse arguments, call one library function, print where things went.

No logic lives here. Each option is written once, in its command's ``options`` list, with its help text;
an option named like a parameter of the library function the command calls takes its default from that
function (shown by ``--help``) and is passed on only when the user gives it, so a default lives in one
place. Errors of the TunesmithError family are printed without a traceback and the process exits with
status 1; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib
import inspect
import json
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunesmith.core.errors import BadInputError, Interrupted, TunesmithError
from tunesmith.settings import PIPELINE_SKIPS


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def number(kind: type = int, low: float | None = None, high: float | None = None, above: bool = False, below: bool = False):
    """An argparse ``type`` for a number in a range, refused before any work with the option's own name
    (``argument --batch-size: must be at least 1, not 0``). ``above``/``below``: the bound itself is excluded."""
    from tunesmith.core.options import Bound
    from tunesmith.settings import number as bounded

    return bounded(kind, Bound(low, high, above, below))


POSITIVE = number(int, 1)
COUNT = number(int, 0)
SECONDS = number(float, 0, above=True)
FRACTION = number(float, 0, 1)
QPM = number(float, 4, 1000)


def from_settings(target: str, skip: tuple[str, ...] = ()) -> tuple[str, tuple[str, ...]]:
    """The options of a settings dataclass (``module:Class``, see ``tunesmith.settings``), one per field, added
    when the command is parsed or its help shown, so that running one command never imports another's modules."""
    return target, skip


def opt(*flags: str, **kwargs) -> tuple[tuple[str, ...], dict]:
    """One option or positional argument, as ``argparse.add_argument`` takes it."""
    return flags, kwargs


@dataclass
class Command:
    """A subcommand: its options, the library functions whose defaults they share, and what it runs."""

    path: tuple[str, ...]
    help: str
    options: list
    run: Callable[[dict, bool], None]
    defaults_from: tuple[str, ...] = ()  # "module:function" (or a dataclass) whose parameter defaults options share


COMMANDS: list[Command] = []


def command(*path: str, help: str, options: list, defaults_from: tuple[str, ...] = ()):
    def register(run):
        COMMANDS.append(Command(path, help, options, run, defaults_from))
        return run

    return register


def _defaults(targets: tuple[str, ...]) -> dict:
    """Parameter defaults of the library functions (or dataclass fields) named ``module:attribute``."""
    out: dict = {}
    for target in targets:
        module, name = target.split(":")
        obj = getattr(importlib.import_module(module), name)
        if dataclasses.is_dataclass(obj):
            out.update({f.name: f.default for f in dataclasses.fields(obj) if f.default is not dataclasses.MISSING})
        else:
            for p in inspect.signature(obj).parameters.values():
                if p.default is not inspect.Parameter.empty:
                    out.setdefault(p.name, p.default)
    return out


def _show(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _threads(options: dict) -> None:
    """``--threads`` of a generating command: set for this process (training commands pass it to the library)."""
    if options.get("threads") is not None:
        from tunesmith.core.device import use_threads

        use_threads(options["threads"])
    options.pop("threads", None)


def given(options: dict, *names: str) -> dict:
    """The options among ``names`` that the user gave (others keep the library's defaults)."""
    return {k: options[k] for k in names if k in options}


# --- corpus --------------------------------------------------------------------------------------
@command(
    "prepare",
    help="folder of MIDI/score files -> token shards + corpus.json",
    defaults_from=("tunesmith.data.corpus:prepare_corpus", "tunesmith.music.midi:ExtractionSettings"),
    options=[
        opt("source", help="a folder of MIDI/ABC/MusicXML files (searched recursively)"),
        opt("-o", "--output", dest="out_dir", required=True, help="the corpus folder to write"),
        opt("--workers", type=POSITIVE, help="processes (default: all cores); with --engine ray: CPUs of the local Ray"),
        opt("--engine", choices=("process", "ray"), help="local processes, or Ray tasks on this machine or a cluster"),
        opt("--ray-address", help="an existing Ray cluster, e.g. HEAD:6379 (default: $RAY_ADDRESS, else a local Ray)"),
        opt("--fresh", action="store_true", help="reprocess every file (by default files already in OUTPUT/parts are skipped)"),
        opt("--force", action="store_true", help="write into a folder that holds other files (only corpus files are replaced)"),
        opt("--eval-ratio", type=number(float, 0, 1, below=True), help="share of files held out for evaluation"),
        opt("--min-bars", type=POSITIVE, help="shortest melody kept, in bars"),
        opt("--max-steps", type=POSITIVE, help="longest melody kept whole, in 16th-note steps (longer ones are cut)"),
        opt("--min-unique-pitches", type=POSITIVE, help="melodies with fewer distinct pitches are dropped"),
        opt("--gap-bars", type=SECONDS, help="a rest this long (in bars) ends a melody"),
        opt(
            "--discard-polyphonic",
            action="store_true",
            help="drop a track with two onsets on one step (Magenta's default) instead of keeping the highest note",
        ),
        opt(
            "--polyphonic",
            action="store_true",
            help="keep every pitched note of every part (for --config polyphonic) instead of one melody per track",
        ),
        opt("--parts", type=int, choices=(1, 2), help="with --polyphonic: 2 = melody + accompaniment (default), 1 = one part"),
    ],
)
def _prepare(o: dict, progress: bool) -> None:
    from tunesmith.data.corpus import prepare_corpus
    from tunesmith.music.midi import ExtractionSettings
    from tunesmith.music.polyphony import PolyphonySettings

    if o.get("polyphonic"):
        settings = PolyphonySettings(**given(o, "parts", "min_bars"))
    else:
        settings = ExtractionSettings(**given(o, "min_bars", "max_steps", "min_unique_pitches", "gap_bars"))
    if o.get("discard_polyphonic") and not o.get("polyphonic"):
        settings.ignore_polyphonic_notes = False
    run_options = given(o, "eval_ratio", "workers", "engine", "ray_address", "fresh", "force")
    report = prepare_corpus(o["source"], o["out_dir"], settings=settings, progress=progress, **run_options)
    print(report.summary())
    print(f"Corpus written to {o['out_dir']} (details in corpus.json)")


# --- the melody model ----------------------------------------------------------------------------
@command(
    "melody",
    "train",
    help="train a melody model on a prepared corpus or a raw MIDI folder",
    defaults_from=("tunesmith.melody.settings:MelodyTraining",),
    options=[
        opt("data", help="a corpus made by `tunesmith prepare`, or a folder of MIDI files (prepared into MODEL/corpus)"),
        opt("-o", "--output", dest="model_dir", required=True, help="the model folder to write"),
        from_settings("tunesmith.melody.settings:MelodyTraining"),
        opt(
            "--resume",
            action="store_true",
            help="continue the model in OUTPUT from its last checkpoint (after Ctrl-C or a crash)",
        ),
        opt("--force", action="store_true", help="replace a model already in OUTPUT (default: refuse; see --resume)"),
    ],
)
def _melody_train(o: dict, progress: bool) -> None:
    from tunesmith.melody.train import train_melody_model

    data, model_dir = o.pop("data"), o.pop("model_dir")
    result = train_melody_model(data, model_dir, progress=progress, **o)
    ev = result.get("eval") or {}
    if result.get("world_size", 1) > 1:
        import torch.distributed as dist

        if dist.get_rank() != 0:
            return
        print(f"Distributed over {result['world_size']} processes; weights identical on all ranks: {result['ranks_in_sync']}")
    run_steps = result.get("steps_run", result["step"])
    trained = f"{run_steps} steps" if run_steps == result["step"] else f"{run_steps} more steps, {result['step']} in all,"
    print(
        f"Trained {trained} in {result['seconds']:.0f} s on {result['train_melodies']} melodies "
        f"({result['threads']} CPU thread{'s' if result['threads'] > 1 else ''})."
    )
    if ev:
        print(f"Held-out loss {ev['loss']:.3f} nats/step, perplexity {ev['perplexity']:.2f}, accuracy {ev['accuracy']:.3f}")
    if "best_step" in result:
        stop = " (stopped early: no better held-out loss since)" if result["stopped_early"] else ""
        print(f"Saved the weights of step {result['best_step']}, the best held-out loss {result['best_eval_loss']:.3f}{stop}.")
    print(
        f"Model in {model_dir} (loss curve: {model_dir}/plots/loss.png). Next: "
        f"tunesmith melody generate --model {model_dir} --primer C4 -n 4 -o out/"
    )


@command(
    "melody",
    "generate",
    help="continue a primer with a melody model",
    defaults_from=("tunesmith.melody.settings:GenerationSettings", "tunesmith.outputs.compose:FileRequest"),
    options=[
        opt("--model", default="default", help="a trained model folder, or 'default' (the shipped one)"),
        opt("--primer", help='"C#4", "C4 E4 G4", "[60, -2, 62, -1]", a MIDI/score file or an audio clip'),
        opt(
            "--primer-bars",
            type=POSITIVE,
            help="continue from the primer's last N bars that hold notes (default: a primer over 8 bars is cut to its last 8)",
        ),
        opt("-n", "--num-outputs", dest="n", type=POSITIVE, help="how many melodies (default: 1)"),
        opt("-o", "--output", dest="out_dir", required=True, help="folder for melody_01.mid ... and generation.json"),
        from_settings("tunesmith.melody.settings:GenerationSettings"),
        from_settings("tunesmith.outputs.compose:FileRequest"),
        opt(
            "--over-chords",
            help='write the melody over these chords, one a bar ("C G Am F") or with beats ("C:2 G:2"), or the chords of a '
            "file (song.mid: its chord or accompaniment track; tune.abc, score.musicxml: their chord symbols); "
            "they set its length",
        ),
        opt("--threads", type=POSITIVE, help="CPU threads (default: all allowed by OMP_NUM_THREADS / taskset)"),
        opt(
            "--force", action="store_true", help="write into a folder that holds other files (only melody_NN files are replaced)"
        ),
    ],
)
def _melody_generate(o: dict, progress: bool) -> None:
    from tunesmith.outputs.compose import generate_to_dir

    _threads(o)
    model, out_dir = o.pop("model"), o.pop("out_dir")
    from tunesmith.melody.polyphonic import is_polyphonic_model

    if is_polyphonic_model(model):
        _polyphonic_generate(model, out_dir, o)
        return
    report = generate_to_dir(model, o.pop("primer", None), out_dir, **o)
    for item in report["outputs"]:
        likelihood = f", log-likelihood {item['log_likelihood']:.1f}" if "log_likelihood" in item else ""
        print(f"{out_dir}/{item['files']['midi']}: {item['notes']} notes, {item['bars']:g} bars in {report['meter']}{likelihood}")
        if item.get("chords") or item.get("chords_error"):
            print(f"  chords: {' '.join(item['chords'])}" if item.get("chords") else f"  no chords: {item['chords_error']}")
    print(f"Settings in {out_dir}/generation.json")


def _polyphonic_generate(model: str, out_dir: str, o: dict) -> None:
    from tunesmith.outputs.polyphony import polyphonic_options, polyphonic_to_dir

    settings, note = polyphonic_options(o)  # o: only the options given
    if note:
        print(f"note: {note}")
    report = polyphonic_to_dir(model, o.get("primer"), out_dir, render=True, plot=True, **settings)
    for item in report["outputs"]:
        melody, accompaniment = item["notes_per_part"][:2]
        wav = f", {item['wav']}" if "wav" in item else f" (no WAV: {item.get('wav_error')})"
        print(f"{out_dir}/{item['midi']}: {item['notes']} notes ({melody} melody, {accompaniment} accompaniment), "
              f"{item['bars']} bars{wav}, {item['piano_roll']}")  # fmt: skip
    print(f"Settings in {out_dir}/generation.json")


_EDIT_HELP = (
    "rewritten by sampling-importance-resampling: many candidates are sampled from the model given the bars before, "
    "each weighted by how likely the model finds the bars after it, and the outputs drawn by that weight "
    "(--method fim: the model's own fill-in-the-middle, for models trained with it)"
)
_EDIT_OPTIONS = [
    opt("tune", help="the tune: a MIDI, ABC or MusicXML file (or notes / an event list)"),
    opt("--model", default="default", help="a trained model folder, or 'default' (the shipped one)"),
    opt("-n", "--num-outputs", dest="n", type=POSITIVE, help="how many versions (default: 4)"),
    opt("-o", "--output", dest="out_dir", required=True, help="folder for melody_01.mid ... and generation.json"),
    opt("--candidates", type=POSITIVE, help="SIR: candidates sampled per version and span (more: joins closer to both sides)"),
    opt(
        "--method",
        choices=["sir", "fim", "forward"],
        help="sir (default, any model), fim (the model's own fill-in-the-middle), forward",
    ),
    opt(
        "--over-chords",
        dest="chords",
        help='bias the rewritten bars towards these chords, one a bar ("C G Am F"), or those of a MIDI/ABC/MusicXML file',
    ),
    opt("--temperature", type=number(float, 0, 10, above=True), help="below 1: safer; above 1: more surprising"),
    opt("--key", help="keep new notes in this key, e.g. D or F#"),
    opt("--scale", help="with --key: major, minor, dorian, ..."),
    opt("--meter", help="the tune's time signature, e.g. 6/8 (for tunes without one)"),
    opt("--seed", type=number(int, 0), help="same seed, same versions"),
    opt("--format", dest="formats", type=_csv, help="notation beside each MIDI file: abc,musicxml,svg"),
    opt("--threads", type=POSITIVE, help="CPU threads (default: all allowed by OMP_NUM_THREADS / taskset)"),
    opt("--force", action="store_true", help="write into a folder that holds other files (only melody_NN files are replaced)"),
]


@command(
    "melody",
    "infill",
    help=f"rewrite chosen bars of a tune, keeping every other bar; {_EDIT_HELP}",
    defaults_from=("tunesmith.melody.edit:infill",),
    options=[
        *_EDIT_OPTIONS[:1],
        opt("--bars", required=True, help="the bars to rewrite, from 1: 5-6, or several spans: 3,7-8"),
        *_EDIT_OPTIONS[1:],
    ],
)
def _melody_infill(o: dict, progress: bool) -> None:
    _edit("infill", o)


@command(
    "melody",
    "vary",
    help="variations of a tune that keep its form (restated bars) and its cadences; " + _EDIT_HELP,
    defaults_from=("tunesmith.melody.edit:vary", "tunesmith.melody.edit:infill"),
    options=[
        *_EDIT_OPTIONS[:1],
        opt(
            "--strength",
            choices=("ornament", "light", "medium", "new"),
            help="how much to rewrite: a few bars ... a new tune on the same plan",
        ),
        *_EDIT_OPTIONS[1:],
    ],
)
def _melody_vary(o: dict, progress: bool) -> None:
    _edit("vary", o)


def _edit(edit: str, o: dict) -> None:
    from tunesmith.melody.edit import format_bars
    from tunesmith.outputs.compose import edit_to_dir

    _threads(o)
    model, tune, out_dir = o.pop("model"), o.pop("tune"), o.pop("out_dir")
    report = edit_to_dir(edit, model, tune, out_dir, o.pop("n", 4), **o)
    for item in report["outputs"]:
        done = f"bars {format_bars(item['infilled'])} rewritten" if item.get("infilled") else ""
        print(f"{out_dir}/{item['files']['midi']}: {item['notes']} notes, {item['bars']:g} bars in {report['meter']}; {done}")
    print(f"Settings in {out_dir}/generation.json")


# --- hear and see --------------------------------------------------------------------------------
@command(
    "render",
    help="MIDI -> audio with a real instrument",
    defaults_from=("tunesmith.audio.render:render",),
    options=[
        opt("input", nargs="+", help="MIDI/score file(s); many in one call load the SoundFont once"),
        opt("-o", "--output", required=True, help="a WAV/FLAC/OGG file, or a folder with several inputs or instruments"),
        opt("--format", choices=["wav", "flac", "ogg"], default="wav", help="audio format of files written into a folder"),
        opt(
            "--instrument",
            help="a name (piano, guitar, music-box ...), a GM program 0-127, or a,b,c for several (default: the file's own)",
        ),
        opt("--soundfont", help="a .sf2/.sf3 file (default: the General MIDI SoundFont)"),
        opt("--preset", help="BANK:PROG in the SoundFont"),
        opt("--sample-rate", type=number(int, 8000, 192000), help="samples per second"),
        opt("--force", action="store_true", help="replace output files that exist (default: refuse; never an input)"),
    ],
)
def _render(o: dict, progress: bool) -> None:
    from tunesmith.audio.soundfont import font_copies, preload_soundfont

    if "numpy" not in sys.modules:  # a fresh process: rendering does no linear algebra, and NumPy's BLAS threads
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # would only spin for a while beside the font loaders
    preload_soundfont(o.get("soundfont"), font_copies())  # first: the font loads while NumPy and the rest import
    from tunesmith.audio.render import render_files

    instruments = _csv(o["instrument"]) if o.get("instrument") else None
    extra = given(o, "soundfont", "preset", "sample_rate", "force")
    paths = render_files(o["input"], o["output"], instruments, suffix=f".{o['format']}", **extra)
    print("\n".join(f"Wrote {p}" for p in paths))


@command(
    "plot",
    help="piano roll (interactive HTML, or PNG)",
    defaults_from=("tunesmith.outputs.plots:save_piano_roll_png",),
    options=[
        opt("input", help="a MIDI/score file"),
        opt("-o", "--output", required=True, help="an .html file (interactive) or a .png"),
        opt("--png", action="store_true", help="write a PNG whatever the suffix"),
        opt("--width", type=number(int, 16, 20000), help="PNG width in pixels"),
        opt("--height", type=number(int, 16, 20000), help="PNG height in pixels"),
        opt("--force", action="store_true", help="replace OUTPUT if it exists (default: refuse; never the input)"),
    ],
)
def _plot(o: dict, progress: bool) -> None:
    from tunesmith.outputs.plots import save_piano_roll_html, save_piano_roll_png

    if o.get("png") or o["output"].lower().endswith(".png"):
        path = save_piano_roll_png(o["input"], o["output"], **given(o, "width", "height", "force"))
    else:
        path = save_piano_roll_html(o["input"], o["output"], **given(o, "force"))
    print(f"Wrote {path}")


NOTATION_OPTIONS = [
    opt("input", help="a MIDI/ABC/MusicXML melody"),
    opt("--key", help="key signature to write, e.g. G or Em (default: the file's, else estimated)"),
    opt("--title", help="title written above the music (default: the file name)"),
    opt("--chords", action="store_true", help="add chord symbols chosen by tunesmith harmonize"),
    opt("--force", action="store_true", help="replace OUTPUT if it exists (default: refuse; never the input)"),
]


@command(
    "score",
    help="engraved score (SVG, PNG or PDF) of a MIDI/ABC/MusicXML melody",
    options=[
        *NOTATION_OPTIONS,
        opt("-o", "--output", required=True, help="OUT.svg, OUT.png or OUT.pdf (PNG/PDF need cairosvg)"),
        opt("--primer-steps", type=COUNT, help="draw this many leading 16th-note steps in orange as the primer"),
    ],
)
def _score(o: dict, progress: bool) -> None:
    _notation(o, score=True)


@command(
    "export",
    help="MIDI/ABC/MusicXML melody -> ABC or MusicXML (by the output suffix)",
    options=[*NOTATION_OPTIONS, opt("-o", "--output", required=True, help="OUT.abc, OUT.musicxml or OUT.mxl")],
)
def _export(o: dict, progress: bool) -> None:
    _notation(o, score=False)


def _notation(o: dict, score: bool) -> None:
    from tunesmith.core.folders import output_file
    from tunesmith.music.export import export_melodies, format_of, load_melodies
    from tunesmith.outputs.score import save_score, score_format

    (score_format if score else format_of)(o["output"])  # a wrong suffix is named before anything else
    suffix = (Path(o["output"]).suffix.lower(),)
    with output_file(o["output"], suffix, inputs=[o["input"]], what="score" if score else "file", force=o.get("force", False)):
        melodies = load_melodies(o["input"])  # the output is claimed first: checked and locked before this work
        if score:
            if len(melodies) > 1:
                print(f"Engraving the first of the {len(melodies)} tunes in {o['input']} (export keeps them all)")
            melodies = melodies[:1]
        if melodies[0].meta.get("track_candidates", 0) > 1:
            print(str(melodies[0].meta["track_choice"]).capitalize())
        if o.get("primer_steps"):
            for melody in melodies:
                melody.primer_steps = o["primer_steps"]
        chords = None
        if o.get("chords"):
            from tunesmith.music.harmony import harmonize

            chords = [harmonize(melody, key=o.get("key")).chords for melody in melodies]
        kwargs = dict(key=o.get("key"), title=o.get("title"))
        if score:
            print(f"Wrote {save_score(melodies[0], o['output'], chords=chords[0] if chords else None, **kwargs)}")
            return
        for path in export_melodies(melodies, o["output"], chords=chords, **kwargs):
            print(f"Wrote {path}")


@command(
    "harmonize",
    help="add chords to a melody: two-track MIDI (or ABC/MusicXML by suffix)",
    defaults_from=("tunesmith.music.harmony:harmonize_file",),
    options=[
        opt("input", help="a MIDI/ABC/MusicXML melody"),
        opt("-o", "--output", required=True, help="OUT.mid (melody + chords track), OUT.abc or OUT.musicxml"),
        opt("--key", help="harmonise in this key, e.g. D or Bm (default: estimated; needed for atonal lines)"),
        opt("--per", choices=("auto", "bar", "half"), help="chord slot: a bar, half a bar, or chosen by the meter"),
        opt("--chord-instrument", help="instrument of the chord track (name or GM program)"),
        opt("--force", action="store_true", help="replace OUTPUT if it exists (default: refuse; never the input)"),
    ],
)
def _harmonize(o: dict, progress: bool) -> None:
    from tunesmith.music.harmony import harmonize_file

    result = harmonize_file(o["input"], o["output"], **given(o, "key", "per", "chord_instrument", "force"))
    for line in result.report():
        print(line)
    print(f"Wrote {o['output']}")


@command(
    "spectrogram",
    help="log-frequency spectrogram PNG of an audio file",
    options=[
        opt("input", help="an audio file"),
        opt("-o", "--output", required=True, help="the PNG to write"),
        opt("--force", action="store_true", help="replace OUTPUT if it exists (default: refuse; never the input)"),
    ],
)
def _spectrogram(o: dict, progress: bool) -> None:
    from tunesmith.outputs.plots import save_spectrogram

    print(f"Wrote {save_spectrogram(o['input'], o['output'], **given(o, 'force'))}")


@command(
    "loss-curve",
    help="loss curves of a model directory (PNG + HTML in MODEL/plots)",
    options=[opt("model", help="a trained model folder")],
)
def _loss_curve(o: dict, progress: bool) -> None:
    from tunesmith.core.figures import save_loss_curve

    paths = save_loss_curve(o["model"])
    print("\n".join(f"Wrote {p}" for p in paths.values()) or f"{o['model']}: log.jsonl has no rows to plot yet")


@command(
    "video",
    help="MP4: scrolling piano roll + rendered audio",
    defaults_from=("tunesmith.outputs.video:make_video",),
    options=[
        opt("input", help="a MIDI/score file"),
        opt("-o", "--output", dest="path", required=True, help="the .mp4 to write"),
        opt("--instrument", help="a name, a GM program 0-127"),
        opt("--soundfont", help="a .sf2/.sf3 file (default: the General MIDI SoundFont)"),
        opt("--fps", type=number(int, 1, 240), help="frames per second"),
        opt("--size", default="960x540", help="WIDTHxHEIGHT, both even"),
        opt("--force", action="store_true", help="replace OUTPUT if it exists (default: refuse; never the input)"),
    ],
)
def _video(o: dict, progress: bool) -> None:
    from tunesmith.outputs.video import make_video

    width, _, height = o.pop("size").lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise BadInputError("--size: give WIDTHxHEIGHT, e.g. 960x540")
    print(f"Wrote {make_video(o.pop('input'), o.pop('path'), width=int(width), height=int(height), **o)}")


# --- the audio model and the bridge --------------------------------------------------------------
@command(
    "audio",
    "train",
    help="train the audio model on the magnitude spectra of clips",
    defaults_from=("tunesmith.audio_model.model:AudioConfig",),
    options=[
        opt("clips", nargs="+", help="audio files or folders of them"),
        opt("-o", "--output", dest="model_dir", required=True, help="the model folder to write"),
        opt(
            "--config", help="JSON/TOML file; MAGNet names (loss_type, rnn_number_units, opt, ...) accepted; options win over it"
        ),
        opt("--seed", type=COUNT, help="same seed, same model"),
        opt("--resume", action="store_true", help="continue the model in OUTPUT from its last checkpoint"),
        opt("--force", action="store_true", help="replace a model already in OUTPUT (default: refuse; see --resume)"),
        from_settings("tunesmith.audio_model.model:AudioConfig"),
        opt(
            "--threads",
            type=POSITIVE,
            help="CPU threads (default: 1 for LSTMs up to 256 units; honours OMP_NUM_THREADS and taskset)",
        ),
    ],
)
def _audio_train(o: dict, progress: bool) -> None:
    from tunesmith.audio_model.model import audio_config_from_file
    from tunesmith.audio_model.train import train_audio_model

    config = audio_config_from_file(o.pop("config")) if o.get("config") else None
    o.pop("config", None)
    clips, model_dir = o.pop("clips"), o.pop("model_dir")
    result = train_audio_model(clips, model_dir, config, progress=progress, **o)
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=2, default=str))
    print(f"Model in {model_dir}. Next: tunesmith audio generate --model {model_dir} --seed-clip CLIP -o out/")


@command(
    "audio",
    "generate",
    help="new audio from a seed clip with an audio model",
    defaults_from=("tunesmith.audio_model.settings:AudioGeneration",),
    options=[
        opt("--model", dest="model_dir", default="default", help="a trained audio model folder, or 'default' (the shipped one)"),
        opt("--seed-clip", required=True, help="the clip whose first frames start the generation"),
        from_settings("tunesmith.audio_model.settings:AudioGeneration"),
        opt("-o", "--output", dest="out_dir", required=True, help="folder for the WAVs, spectrograms and generation.json"),
        opt("--threads", type=POSITIVE, help="CPU threads (default: all allowed by OMP_NUM_THREADS / taskset)"),
        opt(
            "--force", action="store_true", help="write into a folder that holds other files (only output_NN files are replaced)"
        ),
    ],
)
def _audio_generate(o: dict, progress: bool) -> None:
    from tunesmith.outputs.audio_generation import generate_audio

    _threads(o)
    out_dir = o["out_dir"]
    report = generate_audio(o.pop("model_dir"), o.pop("seed_clip"), o.pop("out_dir"), **o)
    for item in report.get("outputs", []):
        print(item if isinstance(item, str) else item.get("wav", item))
    print(f"Settings in {out_dir}/generation.json")


@command(
    "transcribe",
    help="audio -> monophonic melody MIDI",
    defaults_from=("tunesmith.audio.transcribe:transcribe",),
    options=[
        opt("input", help="an audio file"),
        opt("-o", "--output", required=True, help="the MIDI file to write"),
        opt("--method", help="auto, or a transcription method by name"),
        opt("--max-seconds", type=SECONDS, help="read at most this much of the clip"),
        opt("--force", action="store_true", help="replace OUTPUT if it exists (default: refuse; never the input)"),
    ],
)
def _transcribe(o: dict, progress: bool) -> None:
    from tunesmith.audio.transcribe import transcribe_to_file

    melody = transcribe_to_file(o["input"], o["output"], **given(o, "method", "max_seconds", "force"))
    print(f"{melody.summary()}\nWrote {o['output']}")


@command(
    "pipeline",
    help="clip -> audio model -> primer -> melodies -> renders, plots, gallery",
    defaults_from=("tunesmith.settings:PipelineSettings", "tunesmith.melody.settings:GenerationSettings"),
    options=[
        opt("clip", help="an audio clip"),
        opt("-o", "--output", dest="out_dir", required=True, help="folder for everything, with an index.html gallery"),
        from_settings("tunesmith.settings:PipelineSettings"),
        from_settings("tunesmith.melody.settings:GenerationSettings", skip=PIPELINE_SKIPS),
        from_settings("tunesmith.outputs.compose:FileRequest", skip=("render", "plot", "video", "soundfont")),
        opt("--threads", type=POSITIVE, help="CPU threads for every step (default: chosen per step; honours OMP_NUM_THREADS)"),
        opt(
            "--force",
            action="store_true",
            help="write into a folder that holds other files (only the pipeline's own file names are replaced)",
        ),
    ],
)
def _pipeline(o: dict, progress: bool) -> None:
    from tunesmith.pipeline import run_pipeline

    result = run_pipeline(o.pop("clip"), o.pop("out_dir"), progress=progress, **o)
    print(f"Gallery: {result['index']}")


# --- models, evaluation, demo, web ---------------------------------------------------------------
@command(
    "demo",
    help="music in one command from the shipped model",
    defaults_from=("tunesmith.demo:run_demo",),
    options=[
        opt("-o", "--output", dest="out_dir", help="folder for the demo gallery"),
        opt("--seed", type=COUNT, help="same seed, same melodies"),
        opt("--force", action="store_true", help="write into a folder that holds other files (only the demo's are replaced)"),
    ],
)
def _demo(o: dict, progress: bool) -> None:
    from tunesmith.demo import run_demo

    run_demo(progress=progress, **o)


@command(
    "doctor",
    help="what this install uses for each part, and what would be better",
    options=[opt("--json", action="store_true", help="the report as JSON")],
)
def _doctor(o: dict, progress: bool) -> None:
    from tunesmith.doctor import as_json, report

    print(json.dumps(as_json(), indent=1) if o.get("json") else report())


@command("models", help="list bundled and local models", options=[])
def _models(o: dict, progress: bool) -> None:
    from tunesmith.core.models import list_models

    print("\n".join(list_models()))


@command(
    "evaluate",
    help="likelihood and melody statistics of a melody model; free-running figures of an audio model",
    defaults_from=("tunesmith.evaluate:evaluate_model",),
    options=[
        opt("--model", default="default", help="a trained model folder, or 'default'"),
        opt("--data", help="prepared corpus or MIDI folder (default: the model's eval split)"),
        opt("-n", type=POSITIVE, help="melodies to generate and compare (default: 200); outputs of an audio model (default: 2)"),
        opt("--seed-clip", help="audio model: the clip to continue and compare with (default: its training clip)"),
        opt("--seconds", type=SECONDS, default=20.0, help="audio model: seconds of free-running generation"),
        opt("-o", "--output", dest="out_dir", required=True, help="folder for report.json and report.html"),
        opt("--seed", type=COUNT, help="same seed, same report"),
        opt(
            "--force",
            action="store_true",
            help="write into a folder that holds other files (only report.json/report.html are replaced)",
        ),
        opt(
            "--realism",
            type=COUNT,
            help="held-out tunes the realism test continues from their first 2 bars and tells from the real ones (0: skip it)",
        ),
    ],
)
def _evaluate(o: dict, progress: bool) -> None:
    from tunesmith.evaluate import evaluate_model
    from tunesmith.evaluate.audio import evaluate_audio_model, is_audio_model

    out_dir = o["out_dir"]
    if is_audio_model(o["model"]):
        report = evaluate_audio_model(
            o["model"],
            o.get("seed_clip"),
            out_dir,
            seconds=o["seconds"],
            n=o.get("n", 2),
            seed=o.get("seed", 0),
            force=o.get("force", False),
        )
        print(json.dumps({"summary": report["summary"], "goals_met": report["goals_met"]}, indent=2))
        print(f"Report: {out_dir}/audio_report.json")
        return
    o.pop("seed_clip", None), o.pop("seconds", None)
    from tunesmith.melody.polyphonic import is_polyphonic_model

    if is_polyphonic_model(o["model"]):
        from tunesmith.evaluate.polyphony import polyphonic_report

        report = polyphonic_report(o["model"], out_dir, o.get("data"), pieces=o.get("n") or 20, seed=o.get("seed") or 0,
                                   force=o.get("force", False))  # fmt: skip
        print(json.dumps({k: report[k] for k in ("likelihood", "real", "generated")}, indent=2))
        print(f"Report: {out_dir}/report.json")
        return
    report = evaluate_model(o.pop("model"), o.pop("out_dir"), progress=progress, **o)
    print(json.dumps(report["likelihood"], indent=2))
    real = report.get("realism")
    if real and "skipped" not in real:
        for name, row in real["critics"].items():
            print(
                f"Realism ({name} critic): accuracy {row['accuracy']:.2f} [{row['accuracy_ci'][0]:.2f}, "
                f"{row['accuracy_ci'][1]:.2f}], AUC {row['auc']:.2f}; real vs real {row['real_vs_real']['accuracy']:.2f} "
                "(0.5 = cannot tell generated from real)"
            )
    elif real:
        print(f"Realism test not run: {real['skipped']}")
    for warning in report.get("warnings", ()):
        print(f"warning: {warning}")
    print(f"Report: {out_dir}/report.html")


@command(
    "compare",
    help="the evaluation of several models in one table",
    defaults_from=("tunesmith.evaluate:compare_models",),
    options=[
        opt("models", nargs="+", help="model folders (or 'default')"),
        opt("--data", help="prepared corpus or MIDI folder (default: each model's eval split)"),
        opt("-n", type=POSITIVE, help="melodies to generate per model"),
        opt("-o", "--output", dest="out_dir", help="also write the reports into this folder"),
        opt("--force", action="store_true", help="write into a folder that holds other files (only reports are replaced)"),
    ],
)
def _compare(o: dict, progress: bool) -> None:
    from tunesmith.evaluate import compare_models

    print(compare_models(o.pop("models"), **o))


@command(
    "web",
    help="the local web studio",
    defaults_from=("tunesmith.web.server:serve",),
    options=[
        opt("--host", help="address to listen on (keep 127.0.0.1 unless you know why)"),
        opt("--port", type=number(int, 0, 65535), help="port to listen on"),
        opt("--max-upload-mb", type=SECONDS, help="largest upload accepted"),
        opt("--workdir", help="folder for uploads, jobs and results (default: ~/.tunesmith/studio)"),
        opt("--keep-results", type=COUNT, help="finished jobs kept in the work folder (oldest go first)"),
        opt("--max-work-mb", type=number(float, 0), help="size limit of results and uploads; 0: no limit"),
        opt(
            "--data-root",
            help="the folder whose sub-folders the page may train on (nothing outside it is read); "
            "default: no folders, uploads only",
        ),
    ],
)
def _web(o: dict, progress: bool) -> None:
    from tunesmith.web.server import serve

    serve(**o)


# --- parser --------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """An argparse parser whose options from settings dataclasses are added only when it parses or shows help, and
    whose ``--help`` shows the library's defaults, so running a command never imports the modules of the others."""

    defaults_from: tuple[str, ...] = ()
    lazy: list = []

    def complete(self) -> argparse.ArgumentParser:
        """Add the options still waiting in ``lazy`` (``from_settings``); returns the parser."""
        from tunesmith.settings import add_options

        waiting, self.lazy = self.lazy, []
        for target, skip in waiting:
            module, name = target.split(":")
            add_options(self, getattr(importlib.import_module(module), name), skip=skip)
        return self

    def parse_known_args(self, args=None, namespace=None):
        self.complete()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self.complete()
        defaults = _defaults(self.defaults_from) if self.defaults_from else {}
        for action in self._actions:
            shown = action.default if action.default is not argparse.SUPPRESS else defaults.get(action.dest)
            text = action.help or ""
            if not action.option_strings or "default:" in text or action.help == argparse.SUPPRESS:
                continue
            if shown not in (None, False, ()) and not isinstance(action, argparse._StoreTrueAction):
                action.help = f"{text} (default: {_show(shown)})".strip()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tunesmith", description="Train small music models on your own material; hear and see the results.")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    groups: dict[tuple[str, ...], argparse._SubParsersAction] = {(): p.add_subparsers(dest="command", required=True)}
    group_help = {("melody",): "the melody model", ("audio",): "the MAGNet-style audio model"}
    for cmd in COMMANDS:
        parent = cmd.path[:-1]
        if parent not in groups:
            holder = groups[parent[:-1]].add_parser(parent[-1], help=group_help.get(parent))
            groups[parent] = holder.add_subparsers(dest=f"{parent[-1]}_command", required=True)
        s = groups[parent].add_parser(cmd.path[-1], help=cmd.help, description=cmd.help)
        s.defaults_from = cmd.defaults_from
        s.lazy = []
        for flags, kwargs in cmd.options:
            if isinstance(flags, str):  # from_settings: built when this command is parsed
                s.lazy.append((flags, kwargs))
                continue
            kwargs = dict(kwargs)
            if flags[0].startswith("-") and not kwargs.get("required") and "default" not in kwargs:
                kwargs["default"] = argparse.SUPPRESS  # absent: the library's default applies
            if "--output" in flags:
                kwargs.setdefault("metavar", "OUTPUT")
            s.add_argument(*flags, **kwargs)
        s.set_defaults(_command=cmd)
    return p


def run(args: argparse.Namespace) -> None:
    options = {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "quiet" and not k.endswith("command")}
    args._command.run(options, not args.quiet)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tunesmith.core.progress import set_quiet

    set_quiet(args.quiet)
    warnings.formatwarning = lambda message, category, *a, **k: f"warning: {message}\n"
    try:
        run(args)
    except Interrupted as exc:  # Ctrl-C that the library turned into a message (training: what was saved)
        print(f"error: {exc}", file=sys.stderr)
        return 130
    except TunesmithError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a last guard: a file-system refusal the checks did not foresee, said plainly
        import errno

        where = f" ({exc.filename})" if exc.filename else ""
        what = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else exc.strerror or str(exc)
        print(f"error: {what}{where}", file=sys.stderr)
        return 1
    return 0


def console() -> None:
    """The ``tunesmith`` command: run, then exit without the interpreter's last garbage collections, which
    walk every object once more (~30 ms) to free memory the process's exit frees anyway."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console()
