"""The ``tunesmith`` command: parse arguments, call one library function, print where things went.

No logic lives here. Errors of the TunesmithError family are printed without a traceback and the
process exits with status 1; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from tunesmith.errors import TunesmithError


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _ints(text: str) -> list[int]:
    return [int(t) for t in _csv(text)]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tunesmith", description="Train small music models on your own material; hear and see the results."
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("prepare", help="folder of MIDI/score files -> token shards + corpus.json")
    s.add_argument("source")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--workers", type=int, help="processes (default: all cores); with --engine ray: CPUs of the local Ray")
    s.add_argument(
        "--engine",
        choices=("process", "ray"),
        default="process",
        help="local processes (default) or Ray tasks, on this machine or a cluster (pip install 'tunesmith[ray]')",
    )
    s.add_argument("--ray-address", help="an existing Ray cluster, e.g. HEAD:6379 (default: $RAY_ADDRESS, else a local Ray)")
    s.add_argument(
        "--fresh",
        action="store_true",
        help="reprocess every file; by default files already processed into OUTPUT/parts are skipped",
    )
    s.add_argument("--eval-ratio", type=float, default=0.1)
    s.add_argument("--min-bars", type=int, default=7)
    s.add_argument("--max-steps", type=int, default=512)
    s.add_argument("--min-unique-pitches", type=int, default=5)
    s.add_argument("--gap-bars", type=float, default=1.0)
    s.add_argument(
        "--discard-polyphonic",
        action="store_true",
        help="drop a track with two onsets on one step (Magenta's melody_rnn default) instead of keeping the highest",
    )

    melody = sub.add_parser("melody", help="the Melody RNN").add_subparsers(dest="melody_command", required=True)
    t = melody.add_parser("train", help="train on a prepared corpus or a raw MIDI folder")
    t.add_argument("data")
    t.add_argument("-o", "--output", required=True)
    t.add_argument(
        "--config",
        default="transformer",
        help="transformer (best per minute of training) | basic_rnn | lookback_rnn | attention_rnn",
    )
    t.add_argument("--steps", type=int)
    t.add_argument("--epochs", type=int)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true")
    t.add_argument("--eval-every", type=int, default=100)
    t.add_argument("--checkpoint-every", type=int, default=100)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--layers", type=_ints, help="LSTM sizes, e.g. 128,128")
    t.add_argument("--dropout", type=float)
    t.add_argument("--learning-rate", "--lr", type=float, dest="learning_rate")
    t.add_argument("--min-note", type=int)
    t.add_argument("--max-note", type=int)
    t.add_argument("--steps-per-quarter", type=int)
    t.add_argument("--attention-length", type=int)
    t.add_argument("--device")
    t.add_argument("--max-seconds", type=float, help="stop after this much wall time (checkpoint kept)")
    t.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="auto: bf16 autocast where the CPU/GPU does it fast (1.35x here, same loss), else fp32",
    )

    g = melody.add_parser("generate", help="continue a primer")
    g.add_argument("--model", default="default")
    g.add_argument("--primer", help='"C#4", "C4 E4 G4", "[60, -2, 62, -1]", a MIDI/score file or an audio clip')
    g.add_argument(
        "--primer-bars",
        type=int,
        help="continue from the primer's last N bars that hold notes (default: a primer over 8 bars is cut to its last 8)",
    )
    g.add_argument("--meter", help="the primer's time signature, e.g. 6/8 or 3/4 (note-name primers are 4/4 otherwise)")
    g.add_argument("-n", "--num-outputs", type=int, default=1)
    g.add_argument("--steps", type=int, help="new steps after the primer (default 128; a step is a 16th note)")
    g.add_argument("--bars", type=int, help="a melody of N whole bars in the primer's meter, primer included")
    g.add_argument(
        "--form",
        default="auto",
        help="sections that restate: auto (default: each 8-bar strain restates its opening, as folk tunes do), "
        "e.g. AABB, ABAC, AA'BB' (' = new last bar), or none",
    )
    g.add_argument(
        "--end-on-tonic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="close on the tonic (of --key, else of the tune) on the last bar's downbeat (default: on)",
    )
    g.add_argument("-o", "--output", required=True)
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-k", type=int)
    g.add_argument("--top-p", type=float)
    g.add_argument("--beam-size", type=int, default=1)
    g.add_argument("--branch-factor", type=int, default=1)
    g.add_argument("--steps-per-iteration", type=int, default=1)
    g.add_argument("--key")
    g.add_argument("--scale", default="major")
    g.add_argument("--qpm", type=float)
    g.add_argument("--exclude-primer", action="store_true")
    g.add_argument("--strict", action="store_true", help="refuse a primer outside the model's range")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--render", type=_csv, help="instruments, e.g. guitar,music-box,piano")
    g.add_argument("--soundfont")
    g.add_argument("--plot", action="store_true")
    g.add_argument("--video", action="store_true")

    r = sub.add_parser("render", help="MIDI -> audio with a real instrument")
    r.add_argument("input")
    r.add_argument("-o", "--output", required=True, help="WAV/FLAC/OGG file, or a folder when several instruments")
    r.add_argument("--instrument", default=None, help="name, GM program, or a,b,c for several (default: the file's own)")
    r.add_argument("--soundfont")
    r.add_argument("--preset", help="BANK:PROG in the SoundFont")
    r.add_argument("--sample-rate", type=int, default=44100)

    pl = sub.add_parser("plot", help="piano roll (interactive HTML, or PNG)")
    pl.add_argument("input")
    pl.add_argument("-o", "--output", required=True)
    pl.add_argument("--png", action="store_true")
    pl.add_argument("--width", type=int, default=1200)
    pl.add_argument("--height", type=int, default=400)

    sp = sub.add_parser("spectrogram", help="log-frequency spectrogram PNG of an audio file")
    sp.add_argument("input")
    sp.add_argument("-o", "--output", required=True)

    lc = sub.add_parser("loss-curve", help="loss curves of a model directory (PNG + HTML in MODEL/plots)")
    lc.add_argument("model")

    v = sub.add_parser("video", help="MP4: scrolling piano roll + rendered audio")
    v.add_argument("input")
    v.add_argument("-o", "--output", required=True)
    v.add_argument("--instrument", default="music-box")
    v.add_argument("--soundfont")
    v.add_argument("--fps", type=int, default=30)

    audio = sub.add_parser("audio", help="the MAGNet-style audio model").add_subparsers(dest="audio_command", required=True)
    at = audio.add_parser("train")
    at.add_argument("clips", nargs="+")
    at.add_argument("-o", "--output", required=True)
    at.add_argument("--config", help="JSON/TOML file; MAGNet names (loss_type, rnn_number_units, opt, ...) accepted")
    at.add_argument("--epochs", type=int)
    at.add_argument("--seed", type=int, default=0)
    at.add_argument("--resume", action="store_true")
    at.add_argument("--sr", type=int, dest="sample_rate")
    at.add_argument("--n-fft", type=int)
    at.add_argument("--hop", type=int, dest="hop_length")
    at.add_argument("--sequence-length", type=int)
    at.add_argument("--layers", type=int)
    at.add_argument("--units", type=int)
    at.add_argument("--rnn", choices=["lstm", "gru"])
    at.add_argument("--loss")
    at.add_argument("--optimizer", "--opt", dest="optimizer")
    at.add_argument("--lr", type=float, dest="learning_rate")
    at.add_argument("--weight-decay", type=float)
    at.add_argument("--batch-size", type=int)
    at.add_argument("--normalisation")
    ag = audio.add_parser("generate")
    ag.add_argument("--model", default="audio-default")
    ag.add_argument("--seed-clip", required=True)
    ag.add_argument("--seed-offset", type=float, default=0.0)
    ag.add_argument("--seconds", type=float, default=20.0)
    ag.add_argument("-n", "--num-outputs", type=int, default=1)
    ag.add_argument("--random-chance", type=float, default=0.0)
    ag.add_argument("--impulse-scale", type=float, default=1.0)
    ag.add_argument("--griffin-lim-iters", type=int, default=32)
    ag.add_argument("--seed", type=int, default=0)
    ag.add_argument("-o", "--output", required=True)

    tr = sub.add_parser("transcribe", help="audio -> monophonic melody MIDI")
    tr.add_argument("input")
    tr.add_argument("-o", "--output", required=True)
    tr.add_argument("--method", default="auto")
    tr.add_argument("--max-seconds", type=float, default=120.0)

    pp = sub.add_parser("pipeline", help="clip -> audio model -> primer -> melodies -> renders, plots, gallery")
    pp.add_argument("clip")
    pp.add_argument("--audio-model", default="audio-default", help="a model dir, 'audio-default', 'train' or 'none'")
    pp.add_argument("--melody-model", default="default")
    pp.add_argument("--primer", help="use this primer instead of transcribing the regenerated audio")
    pp.add_argument("--instrument", type=_csv, default=["guitar", "music-box", "piano"])
    pp.add_argument("-n", "--num-outputs", type=int, default=5)
    pp.add_argument("--steps", type=int, default=128)
    pp.add_argument("--temperature", type=float, default=1.0)
    pp.add_argument("--seconds", type=float, default=10.0)
    pp.add_argument("--max-seconds", type=float, default=60.0)
    pp.add_argument("--audio-epochs", type=int, default=20)
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("-o", "--output", required=True)

    d = sub.add_parser("demo", help="music in one command from the shipped model")
    d.add_argument("-o", "--output", default="tunesmith-demo")
    d.add_argument("--seed", type=int, default=0)

    sub.add_parser("models", help="list bundled and local models")

    e = sub.add_parser("evaluate", help="likelihood and melody statistics of a model")
    e.add_argument("--model", default="default")
    e.add_argument("--data", help="prepared corpus or MIDI folder (default: the model's eval split)")
    e.add_argument("-n", type=int, default=200)
    e.add_argument("-o", "--output", required=True)
    e.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("compare", help="the evaluation of several models in one table")
    c.add_argument("models", nargs="+")
    c.add_argument("--data")
    c.add_argument("-n", type=int, default=100)
    c.add_argument("-o", "--output")

    w = sub.add_parser("web", help="the local web studio")
    w.add_argument("--host", default="127.0.0.1")
    w.add_argument("--port", type=int, default=7860)
    w.add_argument("--max-upload-mb", type=float, default=50.0)
    w.add_argument("--workdir", default=None)
    return p


def run(args: argparse.Namespace) -> None:  # noqa: C901 - a flat dispatch table is the clearest form here
    progress = not args.quiet
    cmd = args.command
    if cmd == "prepare":
        from tunesmith.music.corpus import prepare_corpus
        from tunesmith.music.midi import ExtractionSettings

        settings = ExtractionSettings(
            min_bars=args.min_bars,
            max_steps=args.max_steps,
            min_unique_pitches=args.min_unique_pitches,
            gap_bars=args.gap_bars,
            ignore_polyphonic_notes=not args.discard_polyphonic,
        )
        report = prepare_corpus(
            args.source,
            args.output,
            eval_ratio=args.eval_ratio,
            workers=args.workers,
            settings=settings,
            progress=progress,
            engine=args.engine,
            ray_address=args.ray_address,
            fresh=args.fresh,
        )
        print(report.summary())
        print(f"Corpus written to {args.output} (details in corpus.json)")
    elif cmd == "melody" and args.melody_command == "train":
        from tunesmith.melody.train import train_melody_model

        overrides = {
            k: getattr(args, k)
            for k in (
                "batch_size",
                "layers",
                "dropout",
                "learning_rate",
                "min_note",
                "max_note",
                "steps_per_quarter",
                "attention_length",
            )
        }
        if args.steps is None and args.epochs is None:
            args.steps = 1000
        result = train_melody_model(
            args.data,
            args.output,
            args.config,
            steps=args.steps,
            epochs=args.epochs,
            seed=args.seed,
            resume=args.resume,
            eval_every=args.eval_every,
            checkpoint_every=args.checkpoint_every,
            progress=progress,
            device=args.device,
            max_seconds=args.max_seconds,
            precision=args.precision,
            **overrides,
        )
        ev = result.get("eval") or {}
        if result.get("world_size", 1) > 1:
            import torch.distributed as dist

            if dist.get_rank() != 0:
                return
            print(f"Distributed over {result['world_size']} processes; weights identical on all ranks: {result['ranks_in_sync']}")
        print(f"Trained {result['step']} steps in {result['seconds']:.0f} s on {result['train_melodies']} melodies.")
        if ev:
            print(f"Held-out loss {ev['loss']:.3f} nats/step, perplexity {ev['perplexity']:.2f}, accuracy {ev['accuracy']:.3f}")
        print(
            f"Model in {args.output} (loss curve: {args.output}/plots/loss.png). Next: "
            f"tunesmith melody generate --model {args.output} --primer C4 -n 4 -o out/"
        )
    elif cmd == "melody" and args.melody_command == "generate":
        from tunesmith.compose import generate_to_dir

        report = generate_to_dir(
            args.model,
            args.primer,
            args.output,
            args.num_outputs,
            render=args.render,
            plot=args.plot,
            video=args.video,
            primer_bars=args.primer_bars,
            soundfont=args.soundfont,
            steps=args.steps,
            bars=args.bars,
            form=None if args.form.lower() == "none" else args.form,
            end_on_tonic=args.end_on_tonic,
            meter=args.meter,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            beam_size=args.beam_size,
            branch_factor=args.branch_factor,
            steps_per_iteration=args.steps_per_iteration,
            key=args.key,
            scale=args.scale,
            qpm=args.qpm,
            exclude_primer=args.exclude_primer,
            strict=args.strict,
            seed=args.seed,
        )
        for item in report["outputs"]:
            print(
                f"{args.output}/{item['files']['midi']}: {item['notes']} notes, {item['bars']:g} bars in {report['meter']}, "
                f"log-likelihood {item['log_likelihood']:.1f}"
            )
        print(f"Settings in {args.output}/generation.json")
    elif cmd == "render":
        from tunesmith.render import render_many, render_to_file

        instruments = _csv(args.instrument) if args.instrument else [None]
        if len(instruments) == 1:
            path = render_to_file(
                args.input,
                args.output,
                instrument=instruments[0],
                soundfont=args.soundfont,
                preset=args.preset,
                sample_rate=args.sample_rate,
            )
            print(f"Wrote {path}")
        else:
            paths = render_many(
                args.input,
                instruments,
                args.output,
                Path(args.input).stem,
                soundfont=args.soundfont,
                sample_rate=args.sample_rate,
            )
            for inst, path in paths.items():
                print(f"{inst}: {path}")
    elif cmd == "plot":
        from tunesmith.plots import save_piano_roll_html, save_piano_roll_png

        if args.png or args.output.lower().endswith(".png"):
            path = save_piano_roll_png(args.input, args.output, width=args.width, height=args.height)
        else:
            path = save_piano_roll_html(args.input, args.output)
        print(f"Wrote {path}")
    elif cmd == "spectrogram":
        from tunesmith.plots import save_spectrogram

        print(f"Wrote {save_spectrogram(args.input, args.output)}")
    elif cmd == "loss-curve":
        from tunesmith.plots import save_loss_curve

        paths = save_loss_curve(args.model)
        print("\n".join(f"Wrote {p}" for p in paths.values()) or f"{args.model}: log.jsonl has no rows to plot yet")
    elif cmd == "video":
        from tunesmith.video import make_video

        print(f"Wrote {make_video(args.input, args.output, instrument=args.instrument, soundfont=args.soundfont, fps=args.fps)}")
    elif cmd == "audio":
        _run_audio(args, progress)
    elif cmd == "transcribe":
        from tunesmith.music.midi import write_midi
        from tunesmith.transcribe import transcribe

        melody = transcribe(args.input, method=args.method, max_seconds=args.max_seconds)
        write_midi(melody, args.output)
        print(f"{melody.summary()}\nWrote {args.output}")
    elif cmd == "pipeline":
        from tunesmith.pipeline import run_pipeline

        result = run_pipeline(
            args.clip,
            args.output,
            audio_model=args.audio_model,
            melody_model=args.melody_model,
            primer=args.primer,
            instruments=args.instrument,
            n=args.num_outputs,
            steps=args.steps,
            temperature=args.temperature,
            seconds=args.seconds,
            max_seconds=args.max_seconds,
            audio_epochs=args.audio_epochs,
            seed=args.seed,
            progress=progress,
        )
        print(f"Gallery: {result['index']}")
    elif cmd == "demo":
        from tunesmith.demo import run_demo

        run_demo(args.output, seed=args.seed, progress=progress)
    elif cmd == "models":
        from tunesmith.models import list_models

        for line in list_models():
            print(line)
    elif cmd == "evaluate":
        from tunesmith.evaluate import evaluate_model

        report = evaluate_model(args.model, args.output, data=args.data, n=args.n, seed=args.seed, progress=progress)
        print(json.dumps(report["likelihood"], indent=2))
        print(f"Report: {args.output}/report.html")
    elif cmd == "compare":
        from tunesmith.evaluate import compare_models

        print(compare_models(args.models, data=args.data, n=args.n, out_dir=args.output))
    elif cmd == "web":
        from tunesmith.web.server import serve

        serve(host=args.host, port=args.port, max_upload_mb=args.max_upload_mb, workdir=args.workdir)


def _run_audio(args: argparse.Namespace, progress: bool) -> None:
    if args.audio_command == "train":
        from tunesmith.audio_model.model import audio_config_from_file
        from tunesmith.audio_model.train import train_audio_model

        keys = (
            "sample_rate",
            "n_fft",
            "hop_length",
            "sequence_length",
            "layers",
            "units",
            "rnn",
            "loss",
            "optimizer",
            "learning_rate",
            "weight_decay",
            "batch_size",
            "normalisation",
        )
        overrides = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
        config = audio_config_from_file(args.config) if args.config else None
        result = train_audio_model(
            args.clips,
            args.output,
            config,
            epochs=args.epochs,
            resume=args.resume,
            seed=args.seed,
            progress=progress,
            **overrides,
        )
        print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=2, default=str))
        print(f"Model in {args.output}. Next: tunesmith audio generate --model {args.output} --seed-clip CLIP -o out/")
    else:
        from tunesmith.audio_model.generate import generate_audio

        report = generate_audio(
            args.model,
            args.seed_clip,
            args.output,
            seconds=args.seconds,
            n=args.num_outputs,
            seed_offset=args.seed_offset,
            random_chance=args.random_chance,
            impulse_scale=args.impulse_scale,
            griffin_lim_iters=args.griffin_lim_iters,
            seed=args.seed,
        )
        for item in report.get("outputs", []):
            print(item if isinstance(item, str) else item.get("wav", item))
        print(f"Settings in {args.output}/generation.json")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tunesmith.progress import set_quiet

    set_quiet(args.quiet)
    warnings.formatwarning = lambda message, category, *a, **k: f"warning: {message}\n"
    try:
        run(args)
    except TunesmithError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
