"""Free-running figures of generated audio against the clip the model learned from.

A one-step, teacher-forced error says little about what a user hears: generation runs hundreds of
steps on its own output and can fall silent, swell into one tone, or freeze into a drone while that
error looks fine. These figures look at the generated audio itself, all on a 64-band log-mel
spectrogram at 22,050 Hz (n_fft 2048, hop 512), the same as ``shared/tools/audio_quality.py``:

* ``level_span_db``: max - min of the per-second RMS level (dB), next to the clip's own span.
* ``silent_seconds``: seconds more than 30 dB below the output's own loud level (its 90th percentile
  per-second level): a collapse to silence.
* ``mel_l1_db``: the mean over bands of ``|mean log-mel(output) - mean log-mel(clip)|`` after matching
  the overall level (medians): how far the long-term spectrum is from the clip's.
* ``flux_ratio``: median frame-to-frame log-mel change of the output over the clip's (a drone -> ~0,
  the clip's own motion -> 1).
* ``pair_corr``: correlation of the log-mel spectrograms of the first two outputs (identical -> 1).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ANALYSIS_SR = 22050
SILENT_BELOW_DB = 30.0


def _as_audio(audio, sample_rate: int | None = None) -> np.ndarray:
    """A file path, a ``(samples, rate)`` tuple or samples at ``sample_rate`` -> mono float32 at 22,050 Hz."""
    import librosa

    from tunesmith.audio.io import load_audio

    if isinstance(audio, (str, os.PathLike)):
        samples, _ = load_audio(audio, ANALYSIS_SR)
        return samples
    if isinstance(audio, tuple):
        audio, sample_rate = audio
    samples = np.asarray(audio, dtype=np.float32)
    if sample_rate is None:
        raise ValueError("audio given as samples needs its sample_rate")
    if sample_rate != ANALYSIS_SR:
        samples = librosa.resample(samples, orig_sr=sample_rate, target_sr=ANALYSIS_SR)
    return np.ascontiguousarray(samples, dtype=np.float32)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """``(64 bands, frames)`` power log-mel in dB of 22,050 Hz samples (n_fft 2048, hop 512)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=samples, sr=ANALYSIS_SR, n_fft=2048, hop_length=512, n_mels=64)
    return 10 * np.log10(mel + 1e-10)


def per_second_db(samples: np.ndarray) -> np.ndarray:
    """RMS level (dB) of each whole second (a last part shorter than half a second is left out)."""
    w = ANALYSIS_SR
    return np.array(
        [10 * np.log10(np.mean(samples[i : i + w].astype(np.float64) ** 2) + 1e-12) for i in range(0, len(samples) - w // 2, w)]
    )


def _flux(mel: np.ndarray) -> float:
    return float(np.median(np.abs(np.diff(mel, axis=1)).mean(axis=0)))


def free_running_figures(clip, outputs: list, sample_rate: int | None = None) -> dict:
    """The figures above for ``outputs`` (paths or sample arrays at ``sample_rate``) against ``clip``.

    Returns ``{"outputs": [per-output figures], "summary": worst-case figures and pair_corr}``.
    """
    ref = _as_audio(clip, sample_rate)
    ref_mel = log_mel(ref)
    ref_levels = per_second_db(ref)
    ref_span = float(ref_levels.max() - ref_levels.min())
    ref_flux = _flux(ref_mel)
    rows, mels = [], []
    for out in outputs:
        x = _as_audio(out, sample_rate)
        levels = per_second_db(x)
        loud = float(np.percentile(levels, 90))
        mel = log_mel(x)
        shift = np.median(ref_mel) - np.median(mel)  # match the overall level before comparing spectral shape
        rows.append(
            {
                "seconds": round(len(x) / ANALYSIS_SR, 2),
                "level_span_db": round(float(levels.max() - levels.min()), 1),
                "silent_seconds": int((levels < loud - SILENT_BELOW_DB).sum()),
                "mel_l1_db": round(float(np.abs((mel + shift).mean(axis=1) - ref_mel.mean(axis=1)).mean()), 2),
                "flux_ratio": round(_flux(mel) / ref_flux, 3),
                "finite": bool(np.isfinite(x).all()),
            }
        )
        mels.append(mel)
    pair = None
    if len(mels) >= 2:
        n = min(mels[0].shape[1], mels[1].shape[1])
        pair = round(float(np.corrcoef(mels[0][:, :n].ravel(), mels[1][:, :n].ravel())[0, 1]), 3)
    summary = {
        "clip_level_span_db": round(ref_span, 1),
        "worst_level_span_db": max(r["level_span_db"] for r in rows),
        "worst_silent_seconds": max(r["silent_seconds"] for r in rows),
        "worst_mel_l1_db": max(r["mel_l1_db"] for r in rows),
        "min_flux_ratio": min(r["flux_ratio"] for r in rows),
        "max_flux_ratio": max(r["flux_ratio"] for r in rows),
        "pair_corr": pair,
    }
    return {"outputs": rows, "summary": summary}


# the goal of issue 19, over 20 s: what "keeps making music" means in these figures
GOALS = {
    "silent_seconds": "0 silent seconds",
    "level_span_db": "level span within the clip's own + 12 dB",
    "mel_l1_db": "mean log-mel distance <= 7 dB",
    "pair_corr": "outputs differ (log-mel correlation < 0.95)",
}


def meets_goals(summary: dict) -> dict[str, bool]:
    """Which of the free-running goals a summary of ``free_running_figures`` meets."""
    pair = summary["pair_corr"]
    return {
        "silent_seconds": summary["worst_silent_seconds"] == 0,
        "level_span_db": summary["worst_level_span_db"] <= summary["clip_level_span_db"] + 12,
        "mel_l1_db": summary["worst_mel_l1_db"] <= 7.0,
        "pair_corr": pair is None or pair < 0.95,
    }


def is_audio_model(model) -> bool:
    """True when ``model`` (a directory or a bundled name) holds an audio model (its config says so)."""
    from tunesmith.assets import resolve_model_dir
    from tunesmith.core import checkpoint
    from tunesmith.core.errors import ModelError

    try:
        return checkpoint.load_config(resolve_model_dir(model))["kind"] == "audio"
    except ModelError:
        return False


def training_clip(model) -> Path | None:
    """The first clip the model learned from that still exists (its config records them); the shipped
    default learned from the example clip."""
    from tunesmith.assets import BUNDLED, example_clip, resolve_model_dir
    from tunesmith.core import checkpoint

    model_dir = resolve_model_dir(model)
    if model_dir.resolve() == BUNDLED["audio-default"].resolve():
        return example_clip()
    clips = [Path(p) for p in checkpoint.load_config(model_dir).get("clips", [])]
    return next((p for p in clips if p.is_file()), None)


def evaluate_audio_model(
    model_dir,
    seed_clip=None,
    out_dir: str | os.PathLike | None = None,
    *,
    seconds: float = 20.0,
    n: int = 2,
    seed: int = 0,
    force: bool = False,
    **generation,
) -> dict:
    """Generate ``n`` outputs of ``seconds`` from ``seed_clip`` with the model's defaults (or ``generation``
    overrides) and measure them against the seed clip (default: the first clip the model learned from);
    with ``out_dir``, the WAVs and ``audio_report.json`` are written there: a folder that is new, empty or an earlier
    audio evaluation's (``force=True``: any, replacing only those names), checked and locked before any work."""
    import contextlib

    from tunesmith.core.folders import AUDIO_EVALUATION, output_dir

    claim = output_dir(out_dir, AUDIO_EVALUATION.name, force=force) if out_dir is not None else contextlib.nullcontext()
    with claim:
        return _evaluate_audio_model(model_dir, seed_clip, out_dir, seconds, n, seed, generation)


def _evaluate_audio_model(model_dir, seed_clip, out_dir, seconds: float, n: int, seed: int, generation: dict) -> dict:
    import time

    from tunesmith.audio_model.generate import load_audio_model
    from tunesmith.core.errors import BadInputError
    from tunesmith.core.files import atomic_path, write_json

    if seed_clip is None:
        seed_clip = training_clip(model_dir)
        if seed_clip is None:
            raise BadInputError(f"{model_dir}: its training clips are not recorded or gone; give a seed clip (--seed-clip)")
    model = load_audio_model(model_dir)
    started = time.perf_counter()
    clips = model.generate(seed_clip, seconds=seconds, n=n, seed=seed, **generation)
    elapsed = time.perf_counter() - started
    rate = model.config.sample_rate
    figures = free_running_figures(seed_clip, clips, rate)
    report = {
        "kind": "audio evaluation",
        "model": str(model_dir),
        "seed_clip": str(seed_clip),
        "seconds": seconds,
        "n": n,
        "seed": seed,
        "generation": generation,
        "real_time_factor": round(elapsed / (seconds * n), 4),
        **figures,
        "goals_met": meets_goals(figures["summary"]),
    }
    if out_dir is not None:
        import soundfile as sf

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for i, audio in enumerate(clips, 1):
            with atomic_path(out / f"output_{i:02d}.wav") as tmp:
                sf.write(str(tmp), audio, rate, subtype="PCM_16", format="WAV")
        write_json(out / "audio_report.json", report)
    return report
