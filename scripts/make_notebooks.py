"""Write the tutorial notebooks in examples/ (without outputs; CI executes them).

.venv/bin/python scripts/make_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

NOTEBOOKS = {
    "01_hello_tunesmith.ipynb": [
        "# Hello tunesmith\nPrimer → melodies → listen, look, render on guitar / music box / piano, save MIDI. "
        "Uses the model that ships with tunesmith: no training, no downloads.",
        'import tunesmith\nmodel = tunesmith.load_melody_model("default")\nmodel',
        "# Continue the note C#4 four times; each output shows a player and a piano roll by itself\n"
        'melodies = model.generate("C#4", n=4, steps=128, temperature=1.0, seed=0)\nmelodies[0]',
        "# Other primer forms: several note names, a Magenta event list, or a MIDI file's last bars\n"
        "from tunesmith.assets import example_midis\n"
        'by_names = model.generate("E4 G4 A4", n=1, steps=96, seed=1)[0]\n'
        'by_events = model.generate("[60, -2, 62, -1, 64]", n=1, steps=96, seed=2)[0]\n'
        "by_file = model.generate(str(example_midis()[0]), primer_bars=2, n=1, steps=160, seed=3)[0]\n"
        'print(by_names.summary(), by_events.summary(), by_file.summary(), sep="\\n")\nby_file',
        "# Beam search and a key/scale constraint\n"
        'in_d_minor = model.generate("D4", n=2, steps=96, beam_size=4, branch_factor=2, key="D", scale="minor", seed=4)\n'
        '[m.meta["log_likelihood"] for m in in_d_minor]',
        "# Render on three instruments and listen\nfrom IPython.display import Audio, display\n"
        "from tunesmith.render import render\n"
        'for instrument in ["guitar", "music-box", "piano"]:\n'
        "    samples, sr = render(melodies[0], instrument)\n"
        "    print(instrument)\n    display(Audio(samples, rate=sr))",
        "# Save MIDI, a WAV, and piano rolls (interactive HTML and PNG)\nfrom pathlib import Path\n"
        'out = Path("hello-output")\nout.mkdir(exist_ok=True)\n'
        'tunesmith.write_midi(melodies[0], out / "melody.mid")\n'
        'tunesmith.render_to_file(melodies[0], out / "melody_music_box.wav", instrument="music-box")\n'
        'tunesmith.plot_piano_roll(melodies[0], out / "melody.html")\n'
        'tunesmith.plot_piano_roll(melodies[0], out / "melody.png", png=True)\nsorted(p.name for p in out.iterdir())',
    ],
    "02_train_on_your_midi.ipynb": [
        "# Train on your own MIDI folder, then evaluate\nPoint `MIDI_FOLDER` at your own files. The example tunes "
        "that ship with tunesmith keep this run tiny; raise `STEPS` for a real model.",
        'import tunesmith\nfrom tunesmith.assets import EXAMPLES\nMIDI_FOLDER = EXAMPLES / "midi"   # <- your folder\nSTEPS = 30',
        '# Prepare: every skipped file is listed with its reason\nreport = tunesmith.prepare_corpus(MIDI_FOLDER, "my-corpus", '
        "eval_ratio=0.34)\nprint(report.summary())",
        'result = tunesmith.train_melody_model("my-corpus", "my-model", "lookback_rnn",\n'
        "                                      steps=STEPS, batch_size=2,\n"
        '                                      eval_every=10, checkpoint_every=10, seed=0)\nresult["eval"]',
        '# The model directory shows its config, figures and loss curve\nmodel = tunesmith.load_melody_model("my-model")\nmodel',
        'from IPython.display import Image\nImage("my-model/plots/loss.png")',
        "# Training continues where it stopped (after Ctrl-C or a crash) with resume=True\n"
        'more = tunesmith.train_melody_model("my-corpus", "my-model", steps=STEPS + 10, batch_size=2,\n'
        '                                    resume=True)\nmore["step"]',
        "# Evaluate: held-out likelihood and melody statistics against the held-out tunes\n"
        'report = tunesmith.evaluate_model("my-model", "my-report", n=8)\nreport["likelihood"]',
        'model.generate("G4", n=1, steps=64, seed=0)[0]',
    ],
    "03_audio_model_and_bridge.ipynb": [
        "# The audio model on your own clip, then the bridge to a melody\nA MAGNet-style LSTM learns the magnitude "
        "spectra of a clip and dreams new audio from a seed; transcription turns audio into a primer.",
        "import tunesmith\nfrom IPython.display import Audio, Image\nfrom tunesmith.assets import example_clip\n"
        "CLIP = example_clip()   # <- your clip (wav, flac, ogg, mp3)\nEPOCHS = 2\nAudio(str(CLIP))",
        'result = tunesmith.train_audio_model([CLIP], "my-audio-model", epochs=EPOCHS, seed=0, sample_rate=22050,\n'
        '                                     n_fft=1024, hop_length=256)\n{k: v for k, v in result.items() if k != "history"}',
        'audio_model = tunesmith.load_audio_model("my-audio-model")\n'
        "dreams = audio_model.generate(CLIP, seconds=3, n=2, random_chance=0.05, seed=0)\n"
        "Audio(dreams[0], rate=audio_model.config.sample_rate)",
        'tunesmith.save_spectrogram(dreams[0], "dream.png", sample_rate=audio_model.config.sample_rate)\nImage("dream.png")',
        "# The bridge: transcribe audio into a melody and continue it with the melody model\n"
        "from tunesmith.transcribe import transcribe\nprimer = transcribe(CLIP)\nprint(primer.summary())\n"
        'melody_model = tunesmith.load_melody_model("default")\n'
        "melody_model.generate(primer.with_length(min(len(primer), 64)), n=1, steps=128, seed=0)[0]",
        "# Or the whole chain in one call, with a gallery page\n"
        'results = tunesmith.run_pipeline(CLIP, "pipeline-results", audio_model="my-audio-model", n=2, seconds=3,\n'
        '                                 instruments=["guitar", "music-box"], progress=False)\nresults["index"]',
    ],
    "04_compare_configs.ipynb": [
        "# Side-by-side comparison of configs\nThe same data and the same number of steps for Magenta's basic and "
        "lookback RNNs and the Transformer, then one table. Tiny settings here; raise `STEPS` for real figures.",
        "import tunesmith\nfrom tunesmith.assets import EXAMPLES\nSTEPS = 15\n"
        'tunesmith.prepare_corpus(EXAMPLES / "midi", "cmp-corpus", eval_ratio=0.34)\n'
        'for name in ["basic_rnn", "lookback_rnn", "transformer"]:\n'
        '    r = tunesmith.train_melody_model("cmp-corpus", f"cmp-{name}", name, steps=STEPS, batch_size=2,\n'
        "                                     eval_every=STEPS)\n"
        '    print(name, round(r["eval"]["loss"], 3), "nats/step")',
        "from IPython.display import Markdown\n"
        'table = tunesmith.compare_models(["cmp-basic_rnn", "cmp-lookback_rnn", "cmp-transformer"], n=4)\nMarkdown(table)',
    ],
}


def main() -> None:
    EXAMPLES.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        # the first cell of each notebook is its introduction; the rest is code
        nb = new_notebook(cells=[new_markdown_cell(c) if i == 0 else new_code_cell(c) for i, c in enumerate(cells)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, EXAMPLES / name)
        print(f"wrote examples/{name}")


if __name__ == "__main__":
    main()
