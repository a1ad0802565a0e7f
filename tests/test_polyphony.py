"""Polyphony (issue #33): the event format, prepare --polyphonic and its bad inputs, the polyphonic config's
training and resume, generation from typed chords and MIDI, the statistics, and the shipped polyphonic default.

Every file here is a real Standard MIDI File written with symusic (or bytes that are not one) and read back
through the same reader as a user's files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import symusic
import torch

from tunesmith.assets import MODELS
from tunesmith.core.errors import BadInputError, CorpusError, TrainingError
from tunesmith.data.corpus import prepare_corpus
from tunesmith.evaluate.polyphony import polyphony_statistics
from tunesmith.melody.polyphonic import (
    PolyphonicConfig,
    PolyphonicTransformer,
    continue_tokens,
    generate_polyphonic,
    load_polyphonic_model,
)
from tunesmith.melody.train import train_melody_model
from tunesmith.music import polyphony as poly
from tunesmith.music.midi import read_score

TINY = {"d_model": 32, "heads": 2, "transformer_layers": 1, "train_window": 32, "batch_size": 4, "warmup_steps": 2}


def _score(tracks, *, tpq=480, meters=((0, 4, 4),), tempos=((0, 120.0),)):
    """tracks: [(name, program, is_drum, [(pitch, start_quarters, length_quarters, velocity)])]."""
    score = symusic.Score(tpq)
    for at, qpm in tempos:
        score.tempos.append(symusic.Tempo(int(at * tpq), float(qpm)))
    for at, num, den in meters:
        score.time_signatures.append(symusic.TimeSignature(int(at * tpq), num, den))
    for name, program, drum, notes in tracks:
        track = symusic.Track(name, program, drum)
        for pitch, start, length, velocity in notes:
            track.notes.append(symusic.Note(int(round(start * tpq)), int(round(length * tpq)), pitch, velocity))
        score.tracks.append(track)
    return score


def _piano_piece(bars=4, offset=0):
    """Right hand: 16ths and triplet 8ths over a left hand of half-note chords."""
    right, left = [], []
    for bar in range(bars):
        t = 4 * bar
        for i in range(4):  # four 16ths
            right.append((72 + (i + offset) % 5, t + i / 4, 0.25, 90))
        for i in range(3):  # a triplet of 8ths
            right.append((76 - i, t + 1 + i / 3, 1 / 3, 80))
        right.append((79, t + 2, 2, 100))
        for root in (48, 53):
            for pitch in (root, root + 4, root + 7):
                left.append((pitch + offset % 3, t + (0 if root == 48 else 2), 2, 60))
    return [("right hand", 0, False, right), ("left hand", 0, False, left)]


def _write(path: Path, score: symusic.Score) -> Path:
    score.dump_midi(str(path))
    return path


def test_encoding_round_trips_triplets_and_sixteenths_exactly(tmp_path):
    path = _write(tmp_path / "piano.mid", _score(_piano_piece(2)))
    extraction = poly.extract_polyphony(read_score(path))
    piece = extraction.piece
    assert extraction.skip_reason is None and len(piece) == 2 * (4 + 3 + 1 + 6)
    tokens = poly.encode(piece)
    assert tokens.dtype == np.int16 and tokens[0] == poly.BOS and tokens[-1] == poly.EOS
    back = poly.decode(tokens, strict=True)
    for name in ("part", "pitch", "start", "duration"):
        assert np.array_equal(getattr(back, name), getattr(piece, name)), name
    assert set(np.unique(piece.start % 12)) == {0, 3, 4, 6, 8, 9}  # 16ths (3, 6, 9) and triplets (4, 8) on the grid
    assert sorted(set(piece.part[piece.pitch >= 72].tolist())) == [0]  # the right hand is the melody part
    assert poly.bar_count(tokens) == 2


def test_meter_changes_give_bars_of_their_own_length():
    notes = [(60 + i % 7, i, 1, 80) for i in range(4 + 4 + 3 + 3)]  # a quarter each: 2 bars of 4/4, 2 of 3/4
    score = _score([("p", 0, False, notes)], meters=((0, 4, 4), (8, 3, 4)))
    piece = poly.extract_polyphony(score, poly.PolyphonySettings(parts=1)).piece
    assert piece.meters == [(0, (4, 4)), (96, (3, 4))]
    tokens = poly.encode(piece, 1)
    at = np.flatnonzero(tokens == poly.BAR).tolist() + [len(tokens) - 1]
    shifts = np.where((tokens >= poly.SHIFT0) & (tokens < poly.VEL0), tokens - poly.SHIFT0 + 1, 0)
    assert [int(shifts[a:b].sum()) for a, b in zip(at, at[1:])] == [48, 48, 36, 36]
    meters = tokens[(tokens >= poly.METER0) & (tokens < poly.SHIFT0)] - poly.METER0
    assert [poly.METERS[m] for m in meters] == ["4/4", "3/4"]
    assert poly.decode(tokens).meters == piece.meters


def test_bad_inputs_are_repaired_or_skipped_with_a_named_reason(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _write(src / "piano.mid", _score(_piano_piece(4)))
    _write(src / "drums.mid", _score([("kit", 0, True, [(36, i, 0.5, 100) for i in range(16)])]))
    _write(src / "tiny.mid", _score([("p", 0, False, [(60, 0, 1, 80), (64, 1, 1, 80)])]))
    (src / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (src / "text.mid").write_text("not midi at all")
    # 64 tracks, each doubling one voice of the piece, plus a drum track kept out
    many = [(f"t{i}", i % 100, False, _piano_piece(4)[i % 2][3]) for i in range(64)]
    many.append(("drums", 0, True, [(38, i, 0.25, 90) for i in range(16)]))
    _write(src / "many.mid", _score(many))
    # one pitch struck again before it ends, extreme velocities, and a tempo map of 300 changes
    overlapping = [(60, 0, 4, 1), (60, 1, 4, 127), (60, 1, 2, 64), (64, 0, 8, 127)] + [
        (67 + i % 5, i / 2, 0.5, 1 + (i * 37) % 127) for i in range(16)
    ]
    tempos = [(i * 0.1, 60 + (i * 7) % 180) for i in range(300)]
    _write(src / "faults.mid", _score([("p", 0, False, overlapping)], tempos=tempos))
    report = prepare_corpus(src, tmp_path / "corpus", settings=poly.PolyphonySettings(), workers=1, progress=False)
    reasons = {item["file"]: item["reason"] for item in report.skipped}
    assert reasons["drums.mid"] == "drums_only"
    assert reasons["tiny.mid"] == "too_short"
    assert reasons["text.mid"] == "not_midi"
    assert reasons["broken.mid"] in ("corrupt", "not_midi")
    assert set(reasons) == {"drums.mid", "tiny.mid", "text.mid", "broken.mid"}  # piano, many, faults kept
    stats = report.extraction_stats
    assert stats["overlapping_notes_cut"] >= 1 and stats["duplicate_notes_dropped"] >= 64 - 2
    assert stats["drum_notes_dropped"] == 16 + 16 and stats["tempo_changes"] >= 299
    info = json.loads((tmp_path / "corpus" / "corpus.json").read_text())
    assert info["encoding"] == "polyphonic" and info["settings"]["steps_per_quarter"] == 12
    # the 64-track file: every distinct note of every track kept once, in the two parts
    many_piece = poly.extract_polyphony(read_score(src / "many.mid")).piece
    one = poly.extract_polyphony(read_score(src / "piano.mid")).piece
    assert len(many_piece) == len(one) and set(many_piece.part.tolist()) == {0, 1}
    # the faults file: onsets stay on the beat grid despite the tempo map; no two notes of one pitch overlap
    faults = poly.extract_polyphony(read_score(src / "faults.mid")).piece
    assert set((faults.start % 6).tolist()) == {0}
    for part in (0, 1):
        chosen = (faults.pitch == 60) & (faults.part == part)
        s, d = faults.start[chosen], faults.duration[chosen]
        assert np.all(s[:-1] + d[:-1] <= s[1:])
    assert faults.velocity.min() >= 1 and faults.velocity.max() <= 127
    # nothing lost on a rerun: every file's result is reused
    again = prepare_corpus(src, tmp_path / "corpus", settings=poly.PolyphonySettings(), workers=1, progress=False)
    assert again.files_reused == again.files_found and again.melodies == report.melodies


def test_only_drums_is_a_clear_error(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _write(src / "drums.mid", _score([("kit", 0, True, [(36, i, 0.5, 100) for i in range(16)])]))
    with pytest.raises(CorpusError, match="(?s)0 polyphonic pieces.*drums_only"):
        prepare_corpus(src, tmp_path / "corpus", settings=poly.PolyphonySettings(), workers=1, progress=False)


@pytest.fixture(scope="module")
def poly_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("poly")
    src = root / "src"
    src.mkdir()
    for i in range(12):
        _write(src / f"piece{i:02d}.mid", _score(_piano_piece(6, offset=i)))
    prepare_corpus(src, root / "corpus", settings=poly.PolyphonySettings(), workers=1, progress=False, eval_ratio=0.25)
    return root / "corpus"


def test_polyphonic_config_trains_resumes_identically_and_keeps_monophony_apart(poly_corpus, tmp_path):
    common = dict(eval_every=3, checkpoint_every=3, progress=False, threads=1, **TINY)
    whole = train_melody_model(poly_corpus, tmp_path / "whole", "polyphonic", steps=6, **common)
    assert whole["step"] == 6 and "loss" in whole["eval"] and whole["eval"]["nats_per_note"] > 0
    train_melody_model(poly_corpus, tmp_path / "split", "polyphonic", steps=3, **common)
    train_melody_model(poly_corpus, tmp_path / "split", "polyphonic", steps=6, resume=True, **common)
    a, _ = load_polyphonic_model(tmp_path / "whole")
    b, _ = load_polyphonic_model(tmp_path / "split")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
    saved = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert saved["kind"] == "polyphonic" and saved["config"]["d_model"] == 32
    assert (tmp_path / "whole" / "plots" / "loss.png").is_file()
    with pytest.raises(TrainingError, match="--config polyphonic"):
        train_melody_model(poly_corpus, tmp_path / "mono", "basic_rnn", steps=2, progress=False)


def test_the_polyphonic_model_refuses_a_melody_corpus(tmp_path):
    folk = sorted((Path(__file__).parent / "data" / "folk").glob("*.mid"))[:3]
    prepare_corpus(folk[0].parent, tmp_path / "mono", files=folk, workers=1, progress=False)
    with pytest.raises(TrainingError, match="prepare SOURCE -o CORPUS --polyphonic"):
        train_melody_model(tmp_path / "mono", tmp_path / "model", "polyphonic", steps=2, progress=False)


def test_generation_holds_meter_bars_key_and_seed():
    torch.manual_seed(0)
    net = PolyphonicTransformer(PolyphonicConfig(**{k: v for k, v in TINY.items() if k in ("d_model", "heads")}))
    net.eval()
    pieces = generate_polyphonic(net, "C4 E4 G4 | F4 A4 C5", 3, bars=5, key="C", meter="3/4", seed=7, top_p=0.9)
    again = generate_polyphonic(net, "C4 E4 G4 | F4 A4 C5", 3, bars=5, key="C", meter="3/4", seed=7, top_p=0.9)
    for p, q in zip(pieces, again):
        assert np.array_equal(p.pitch, q.pitch) and np.array_equal(p.start, q.start)
    for piece in pieces:
        assert piece.meters[0][1] == (3, 4)
        assert piece.primer_steps == 2 * 36
        new = piece.start >= piece.primer_steps
        assert set((piece.pitch[new] % 12).tolist()) <= {0, 2, 4, 5, 7, 9, 11}
        assert piece.end <= 5 * 36  # exactly 5 bars of 3/4: nothing rings past the last
        assert np.array_equal(piece.pitch[~new][:3], [67, 64, 60])  # the primer kept, top note first
    tokens = continue_tokens(net, poly.encode(poly.piece_from_chords("C4 E4 G4"))[:-1], 48, 3, n=2, seed=1)
    for t in tokens:
        assert poly.bar_count(t) == 3  # primer's bar + 2 more; the bar line that would open the 4th is not written
        poly.decode(t, strict=True)  # every NOTE has its DUR


def test_bad_primers_and_settings_are_clear_errors(tmp_path):
    net = PolyphonicTransformer(PolyphonicConfig(d_model=32, heads=2, transformer_layers=1))
    with pytest.raises(BadInputError, match="not a note name"):
        generate_polyphonic(net, "C4 E4 | X9")
    with pytest.raises(BadInputError, match="no such primer file"):
        generate_polyphonic(net, str(tmp_path / "missing.mid"))
    with pytest.raises(BadInputError, match="temperature"):
        generate_polyphonic(net, "C4 E4 G4", temperature=0)
    with pytest.raises(BadInputError, match="more bars"):
        generate_polyphonic(net, "C4 | D4 | E4", bars=2)


def test_statistics_of_a_known_piece():
    # one bar: a held C major triad (accompaniment) under four quarter-note melody notes
    chords = [(1, p, 0, 48, 64) for p in (48, 52, 55)]
    melody = [(0, p, 12 * i, 12, 64) for i, p in enumerate((72, 74, 76, 72))]
    part, pitch, start, dur, vel = (np.asarray(x) for x in zip(*(chords + melody)))
    stats = polyphony_statistics([poly.PolyPiece(part, pitch, start, dur, vel)])
    assert stats["notes_at_once"] == 4.0
    assert stats["melody_motion"] == pytest.approx((2 + 2 + 4) / 3)
    assert stats["bass_motion"] == 0.0 and stats["onsets_per_bar"] == 4.0
    assert stats["range"]["melody_span"] == 4 and stats["range"]["accompaniment_span"] == 7
    assert stats["chord_vocabulary"] == 2  # {C E G} at three onsets, {C D E G} under the D


@pytest.mark.skipif(not (MODELS / "polyphonic-default" / "config.json").is_file(), reason="not trained yet")
@pytest.mark.skipif(not (MODELS / "polyphonic-default" / "report.json").is_file(), reason="not trained yet")
def test_the_shipped_polyphonic_default_is_small_and_continues_chords(tmp_path):
    from tunesmith.outputs.polyphony import polyphonic_to_dir

    folder = MODELS / "polyphonic-default"
    assert (folder / "model.safetensors").stat().st_size < 3 * 1024 * 1024
    report = json.loads((folder / "report.json").read_text())
    assert report["heldout"]["loss"] < 3.0 and "Bach" in report["corpus"]["source"]
    out = polyphonic_to_dir("polyphonic-default", "C4 E4 G4 | F4 A4 C5", tmp_path / "out", 1, bars=4, seed=0)
    item = out["outputs"][0]
    assert item["notes_per_part"][0] > 0 and item["notes_per_part"][1] > 0
    score = symusic.Score(str(tmp_path / "out" / item["midi"]))
    assert [t.name for t in score.tracks] == ["melody", "accompaniment"]
    assert (tmp_path / "out" / item["piano_roll"]).stat().st_size > 1000


def test_a_midi_primer_is_continued_from_its_last_bars(tmp_path):
    primer = _write(tmp_path / "primer.mid", _score(_piano_piece(3)))
    net = PolyphonicTransformer(PolyphonicConfig(d_model=32, heads=2, transformer_layers=1))
    net.eval()
    (piece,) = generate_polyphonic(net, str(primer), 1, primer_bars=2, bars=4, seed=0)
    kept = piece.start < piece.primer_steps
    source = poly.extract_polyphony(read_score(primer)).piece
    last_two = source.start >= 48  # bars 2-3 of the primer, now bars 1-2
    assert piece.primer_steps == 96 and kept.sum() == last_two.sum()
    assert np.array_equal(np.sort(piece.pitch[kept]), np.sort(source.pitch[last_two]))
    assert piece.end <= 4 * 48


def test_the_command_line_end_to_end(poly_corpus, tmp_path, capsys):
    from tunesmith.cli import main

    model = tmp_path / "model"
    assert main(["--quiet", "melody", "train", str(poly_corpus), "-o", str(model), "--config", "polyphonic",
                 "--steps", "2", "--batch-size", "2", "--eval-every", "1"]) == 0  # fmt: skip
    out = tmp_path / "out"
    assert main(["--quiet", "melody", "generate", "--model", str(model), "--primer", "C4 E4 G4 | F4 A4 C5",
                 "--bars", "3", "--meter", "3/4", "--seed", "1", "-o", str(out)]) == 0  # fmt: skip
    generation = json.loads((out / "generation.json").read_text())
    assert generation["model_kind"] == "polyphonic" and (out / "melody_01.mid").is_file()
    score = symusic.Score(str(out / "melody_01.mid"))
    assert score.time_signatures[0].numerator == 3 and len(score.tracks) == 2
    report = tmp_path / "report"
    assert main(["--quiet", "evaluate", "--model", str(model), "-n", "3", "-o", str(report)]) == 0
    saved = json.loads((report / "report.json").read_text())
    assert saved["likelihood"]["loss"] > 0 and saved["real"]["pieces"] >= 1
    assert main(["--quiet", "melody", "generate", "--model", str(model), "--primer", "C4 | X9", "-o", str(out)]) == 1
    assert "not a note name" in capsys.readouterr().err
