"""Run every benchmark, write benchmarks/results.json and a Markdown table (benchmarks/results.md).

    .venv/bin/python benchmarks/run_all.py [--quick] [--only prepare,render]
Run it on an otherwise idle machine: the figures are wall-clock times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    "prepare",
    "melody_train",
    "melody_generate",
    "model_compare",
    "speed_options",
    "audio_train",
    "audio_generate",
    "audio_free_running",
    "render",
    "install_paths",
    "video",
    "threads",
    "time_to_quality",
    "transcribe",
    "pipeline",
    "harmony",
    "reliability",
    "form",
    "faults",
    "realism",
    "key",
    "startup",
    "edit",
    "chords",
]
# the full (non-quick) figures: quality runs and same-run reference measurements
FULL_ARGS = {
    "melody_train": ["--quality", "--quality-configs", "basic_rnn,lookback_rnn", "--precision", "bf16"],
    "model_compare": ["--seconds", "150", "--configs", "attention_rnn,lookback_rnn,transformer"],
    "audio_train": ["--with-reference"],
    "audio_free_running": ["--with-magnet"],
}


# what kind of figure each one is: same-run ratios survive a busy machine, lone wall-clock figures do not
NOTES = {
    "threads": "same-run ratios: each round runs 1 thread, 2 threads and the default back to back, as fresh CLI processes",
    "time_to_quality": "wall clock of one run per config (evaluation time excluded), as shipped (own thread choice)",
    "render": "render_cli: fresh CLI processes, wall clock and CPU seconds; the CPU figure survives load better",
    "video": "a fresh CLI process, wall clock and CPU seconds (with ffmpeg); the CPU figure survives load better",
}


def _load(r: dict) -> str:
    value = r.get("machine", {}).get("load_average_1min")
    return f"{value:.1f} at the start" if isinstance(value, int | float) else "not recorded"


def headline(name: str, r: dict) -> str:
    """One line a person can read from a benchmark's JSON."""
    try:
        if name == "prepare":
            best = max(r["results"].values(), key=lambda x: x["files_per_s"])
            return f"{best['files_per_s']:.0f} files/s ({r['speedup_vs_magenta']}x Magenta)"
        if name == "melody_train":
            t = r["throughput_basic_rnn"]
            text = (
                f"basic_rnn {t['fp32']['real_steps_per_s']:,} real steps/s fp32, {t['bf16']['real_steps_per_s']:,} bf16 "
                f"({t['bf16']['vs_magenta']}x Magenta)"
            )
            if "quality" in r:
                text += "; held-out " + ", ".join(f"{k} {v['loss']:.3f}" for k, v in r["quality"]["configs"].items())
            return text
        if name == "melody_generate":
            rows = [
                f"{k} ({v['config']}) sampling {v['sample_seconds']} s, beam 4 {v['beam4_seconds']} s"
                for k, v in r["results"].items()
            ]
            return f"{r['outputs']}x128 steps: " + "; ".join(rows)
        if name == "audio_train":
            f, ref = r["figures"], r["figures"].get("reference", {})
            return (
                f"{f['default']['s_per_epoch_mean']} s/epoch ({ref.get('speedup_default', '?')}x reference), "
                f"seed variant {f['seed_variant']['s_per_epoch_mean']} s/epoch ({ref.get('speedup_seed_variant', '?')}x); "
                f"held-out MSE {f['default']['held_out_mse']} vs persistence {f['default']['persistence_mse']}; "
                + (
                    f"fresh-process peak {f['memory']['peak_mb_clip']} MB ({ref.get('peak_rss_ratio', '?')}x below "
                    f"reference; torch's bare step {f['memory']['torch_bare_step_mb']} MB)"
                    if "memory" in f
                    else f"peak RSS {f['peak_rss_mb']} MB"
                )
            )
        if name == "audio_generate":
            f = r["figures"]
            return (
                f"20 s of audio: RTF {f['real_time_factor']} (Griffin-Lim {f['griffin_lim_s']} s); GL 800x32 "
                f"{f['gl_800_frames_32_iter_s']['ours']} s vs librosa {f['gl_800_frames_32_iter_s']['librosa']} s"
            )
        if name == "audio_free_running":
            f = r["figures"]

            def line(case: str) -> str:
                c = f[case]
                return (
                    f"{case}: silent {c['worst_silent_seconds']} s, span {c['worst_level_span_db']} dB (clip "
                    f"{c['clip_level_span_db']}), log-mel {c['worst_mel_l1_db']} dB, flux {c['min_flux_ratio']}, "
                    f"pair corr {c['pair_corr']}"
                )

            return f"{r['seconds']:g} s free-running: " + "; ".join(line(k) for k in ("default", "trained", "magnet") if k in f)
        if name == "transcribe":
            auto = {k: v for k, v in r["figures"].items() if k.endswith("/auto")}
            return "; ".join(f"{k} F1 {v['f1']} at {v['realtime_factor']}x" for k, v in auto.items())
        if name == "render":
            text = f"{r['render']['realtime_factor']}x real time; piano roll 1,000 notes {r['piano_roll']['total_seconds']} s"
            if "render_cli" in r:
                c = r["render_cli"]
                text += (
                    f"; CLI with start-up, 2-min 4-track file: {c['realtime_factor_wall_best']}x wall best of "
                    f"{len(c['one_file'])} (median {c['realtime_factor_wall_median']}x; {c['realtime_factor_cpu_best']}x CPU; "
                    f"start-up floor {c['startup_floor']['wall_seconds_best']} s), {c['files_in_one_call']} files in one call "
                    f"{c['many_realtime_factor_wall']}x"
                )
            return text
        if name == "install_paths":
            parts = []
            for instrument, paths in r["figures"].items():
                pip, debian = paths.get("pip", {}), paths.get("debian", {})
                font = paths.get("builtin_fluidr3", {})
                parts.append(
                    f"{instrument}: pip path {pip.get('realtime_factor')}x vs Debian {debian.get('realtime_factor')}x real time, "
                    f"log-mel {pip.get('log_mel_distance_db')} dB / spectral corr {pip.get('spectral_correlation')} "
                    f"(built-in synth on FluidR3: {font.get('log_mel_distance_db')} dB / {font.get('spectral_correlation')})"
                )
            return "; ".join(parts)
        if name == "video":
            d = r["default"]
            return (
                f"{d['video_seconds']:.0f} s song: {d['realtime_factor_wall']}x real time wall, {d['realtime_factor_cpu']}x "
                f"per CPU-second (load {d['load_before']})"
            )
        if name == "threads":
            text = "; ".join(
                f"{k}: default {v.get('default_threads')} thread(s) = {v.get('default_vs_best')}x best ({v['best']})"
                for k, v in r["summary"].items()
            )
            if "basic_rnn_vs_magenta_all_rounds" in r:
                m = r["basic_rnn_vs_magenta_all_rounds"]
                text += (
                    f"; basic_rnn as shipped vs Magenta, same round: {', '.join(map(str, m['ratios']))} (median {m['median']}x)"
                )
            return text
        if name == "time_to_quality":
            return "; ".join(
                f"{k} {v['seconds_to_target']} s ({v['vs_magenta_time']}x faster than Magenta)"
                if v["reached"]
                else f"{k} not reached in {r['budget_seconds']:.0f} s"
                for k, v in r["results"].items()
            )
        if name == "speed_options":
            return "; ".join(
                f"{m}: "
                + ", ".join(f"{k} {v['real_steps_per_s']:,}" for k, v in opts.items() if "error" not in v)
                + " real steps/s"
                for m, opts in r["results"].items()
            )
        if name == "model_compare":
            rows = [f"{k} {v['heldout_loss']:.3f} ({v['steps']} steps)" for k, v in r["results"].items()]
            rel = r.get("transformer_vs_attention_rnn", {}).get("relative_loss_reduction")
            return (
                f"held-out after {r['seconds_per_config']:.0f} s each: "
                + ", ".join(rows)
                + (f"; transformer {rel:.0%} lower than attention_rnn" if rel is not None else "")
            )
        if name == "harmony":
            h, ref = r["heldout"], r["reference_tunes_with_chords"]
            return (
                f"{h['tunes']} held-out tunes: {h['strong_beat_chord_tones']:.0%} strong-beat chord tones, "
                f"cadence {h['cadence_share']:.0%}, {h['changes_per_bar']} changes/bar "
                f"(tunes with chords: {ref['changes_per_bar']})"
            )
        if name == "form":
            figures = r["figures"]
            return (
                "default model, default settings, bars 2-9 vs held-out tunes (ratio): "
                + ", ".join(f"{k} {v['generated']:.3f} vs {v['reference']:.3f} ({v['ratio']:.2f}x)" for k, v in figures.items())
                + f"; MGEval mean OA {r['overlap_mean_oa']:.3f}"
            )
        if name == "startup":
            c = r["commands"]
            audio = c.get("audio generate --seconds 20", {})
            return (
                f"fresh processes, median s (bare numpy {r['bare_python_import_numpy_s']}): "
                + ", ".join(f"{k} {v['median_s']}" for k, v in c.items())
                + f"; audio 20 s RTF {audio.get('real_time_factor_shell')} from the shell, "
                f"{audio.get('real_time_factor_library')} generating"
            )
        if name == "pipeline":
            return f"{r['seconds']} s for {r['outputs']} outputs"
        if name == "chords":
            rows = [(k, r[k]) for k in ("harmonized_heldout", "human_chords") if r.get(k, {}).get("beats")]
            return "chords heard in a played accompaniment, per beat: " + "; ".join(
                f"{k} ({v['tunes']} tunes) root {v['root_agreement']}, triad {v['triad_agreement']}" for k, v in rows
            )
        if name == "reliability":
            d = r["data_safety"]
            text = f"data safety: {d['cases_tried']} cases tried, {d['tracebacks']} tracebacks, {d['data_lost']} data lost"
            if "crashes" in r:
                kills = r["kill_resume"]
                text += f"; {r['crashes']} crashes on mutated files; kill -9 resumes bit-identical: " + ", ".join(
                    f"{k} {v['kills_survived']}/{v['kills']}" for k, v in kills.items() if "kills" in v
                )
            return text
    except (KeyError, TypeError, StopIteration):
        pass
    return json.dumps(r)[:160]


def form_table(r: dict | None) -> list[str]:
    """The form figures side by side: generated by the shipped default, the held-out tunes, the training tunes."""
    if not r or "error" in r:
        return []
    train = r.get("train_tunes", {})
    rows = [
        "",
        f"Form, bars 2-9 ({r['settings']['n']} melodies from primer C4, {r['settings']['steps']} new steps, default settings; "
        "`bench_form.py --train-tunes`):",
        "",
        "| figure | shipped default | held-out tunes | training tunes | ratio generated / held-out |"
        + "".join(f" Magenta {m} | ratio |" for m in r.get("magenta", {})),
        "|---|---:|---:|---:|---:|" + "---:|---:|" * len(r.get("magenta", {})),
    ]
    for name, v in r["figures"].items():
        t = train.get(name)
        theirs = "".join(
            f" {m['figures'][name]['generated']:.3f} | {m['figures'][name]['ratio']:.2f} |" for m in r.get("magenta", {}).values()
        )
        rows.append(
            f"| {name} | {v['generated']:.3f} | {v['reference']:.3f} | {'' if t is None else f'{t:.3f}'} | {v['ratio']:.2f} |"
            + theirs
        )
    rows.append(f"| MGEval mean OA vs held-out | {r['overlap_mean_oa']:.3f} | | | |" + " | |" * len(r.get("magenta", {})))
    if r.get("magenta_note"):
        rows += ["", r["magenta_note"]]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only")
    parser.add_argument("--table", action="store_true", help="only rewrite results.md from results.json (after a merge)")
    args = parser.parse_args()
    if args.table:
        write_table(json.loads((HERE / "results.json").read_text()), HERE / "results.md")
        return
    names = args.only.split(",") if args.only else SCRIPTS
    out = HERE / ("results.quick.json" if args.quick else "results.json")
    results = json.loads(out.read_text()) if args.only and out.is_file() else {}  # --only updates those entries
    for name in names:
        script = HERE / f"bench_{name}.py"
        start = time.perf_counter()
        extra = ["--quick"] if args.quick else FULL_ARGS.get(name, [])
        proc = subprocess.run([sys.executable, str(script), *extra], capture_output=True, text=True)
        if proc.returncode != 0:
            results[name] = {"error": proc.stderr[-2000:]}
            continue
        results[name] = json.loads(proc.stdout[proc.stdout.index("{") :])
        results[name]["wall_seconds"] = round(time.perf_counter() - start, 1)
    out.write_text(json.dumps(results, indent=2) + "\n")
    write_table(results, out.with_suffix(".md"))


def write_table(results: dict, path: Path) -> None:
    lines = ["| benchmark | figure |", "|---|---|"]
    lines += [f"| {n} | {headline(n, r) if 'error' not in r else 'FAILED'} |" for n, r in results.items()]
    notes = [f"- {n}: {NOTES[n]} (load {_load(results[n])})" for n in results if n in NOTES and "error" not in results[n]]
    lines += ["", "How to read them:", *notes] if notes else []
    lines += form_table(results.get("form"))
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
