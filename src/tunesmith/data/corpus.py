"""Corpus ingestion: a folder of MIDI/score files -> melodies -> contiguous token shards.

``prepare_corpus`` reads every file in parallel (local processes or Ray tasks), extracts melodies the
Magenta way, and writes ``train``/``eval`` shards (memmap-able ``.npy`` arrays of events plus offsets) and
``corpus.json``. Every file that yields nothing is listed with its reason, so "0 melodies" never goes
unexplained. Results stream into ``parts/`` as they arrive (bounded memory, resumable by content hash).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from tunesmith.core.errors import BadInputError, Cancelled, CorpusError, DiskFullError
from tunesmith.core.files import atomic_path, disk_full_error, fsync_dir, remove_stale_temps, write_json
from tunesmith.core.folders import CORPUS, output_dir
from tunesmith.data.engines import open_engine
from tunesmith.data.partstore import PartStore, content_key
from tunesmith.music.meter import meter_name, meter_of_steps, meter_steps
from tunesmith.music.midi import MIDI_SUFFIXES, SCORE_SUFFIXES, ExtractionSettings, extract_melodies, read_score
from tunesmith.music.polyphony import NOTE0, PITCHES, PolyphonySettings, encode, extract_polyphony

CORPUS_SUFFIXES = MIDI_SUFFIXES + SCORE_SUFFIXES
SPLITS = ("train", "eval")
# Bump when extraction code changes what a file yields: results stored in parts/ by older code are then redone.
EXTRACTION_VERSION = 3  # 2: ABC chord symbols are no longer extracted as melodies; 3: no empty bar after a last note
READ_OK = (None, "polyphonic", "too_short", "too_few_pitches", "no_melody", "drums_only", "no_notes")
POLYPHONIC = "polyphonic"  # corpus.json "encoding" of a corpus of polyphonic token streams (music/polyphony.py)


def event_dtype(events: list[np.ndarray]):
    """int8 for melodies (Magenta events fit), int16 for polyphonic tokens (a vocabulary of ~270)."""
    return np.int16 if any(e.dtype == np.int16 for e in events) else np.int8


@dataclass
class FileResult:
    """What one file gave: melodies (event arrays) or the reason it gave none."""

    path: str
    events: list[np.ndarray] = field(default_factory=list)
    steps_per_bar: list[int] = field(default_factory=list)
    steps_per_beat: list[int] = field(default_factory=list)  # with steps_per_bar: the meter (6/8 -> 12, 6)
    tune_ids: list[str] = field(default_factory=list)  # per melody: "" for MIDI, the X: number for ABC
    stats: dict = field(default_factory=dict)
    skip_reason: str | None = None
    detail: str = ""


def find_corpus_files(root: str | os.PathLike) -> list[Path]:
    """Every file below ``root`` with a MIDI/score suffix, sorted for determinism."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise BadInputError(f"{root}: no such folder")
    # a broken link is listed too: it is reported as skipped rather than silently missing
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in CORPUS_SUFFIXES and (p.is_file() or _broken_link(p)))


def _broken_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def split_of(relative_path: str, eval_ratio: float) -> str:
    """Deterministic split by an md5 of the relative path: stable across runs, machines, worker counts."""
    key = "tunesmith-split:" + relative_path.replace(os.sep, "/")
    digest = hashlib.md5(key.encode("utf-8")).digest()
    return "eval" if int.from_bytes(digest[:4], "big") / 2**32 < eval_ratio else "train"


def process_file(path: str, settings: ExtractionSettings | PolyphonySettings) -> FileResult:
    """Read one file and extract its melodies (or, with ``PolyphonySettings``, its polyphonic token stream);
    never raises for bad files, it reports them."""
    result = FileResult(path)
    if _broken_link(Path(path)):
        result.skip_reason, result.detail = "unreadable", f"a broken link (to {os.readlink(path)})"
        return result
    if path.lower().endswith(".abc"):
        if isinstance(settings, PolyphonySettings):
            return _process_abc_polyphonic(result, settings)
        return _process_abc(result, settings)
    try:
        score = read_score(path)
    except BadInputError as exc:
        text = str(exc)
        result.skip_reason = "not_midi" if "not a MIDI" in text else "empty_file" if "empty" in text else "corrupt"
        # the reason without the path: files with equal bytes share one stored result, and the report
        # lists each under its own name
        result.detail = text.removeprefix(f"{path}: ")
        return result
    except Exception as exc:  # any parser failure is a corrupt file, never a crash of the batch
        result.skip_reason, result.detail = "corrupt", f"{type(exc).__name__}: {exc}"
        return result
    if isinstance(settings, PolyphonySettings):
        return _add_polyphony(result, score, settings)
    pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    if not pitched:
        has_drums = any(t.is_drum and len(t.notes) for t in score.tracks)
        result.skip_reason = "drums_only" if has_drums else "no_notes"
        result.detail = "only drum tracks" if has_drums else "the file holds no notes"
        return result
    extraction = extract_melodies(score, settings)
    result.stats = dict(extraction.stats)
    result.events = [m.events.astype(np.int8) for m in extraction.melodies]
    result.steps_per_bar = [m.steps_per_bar for m in extraction.melodies]
    result.steps_per_beat = [m.steps_per_beat for m in extraction.melodies]
    result.tune_ids = [""] * len(result.events)
    if not result.events:
        reasons = [
            k
            for k in ("polyphonic_tracks_discarded", "melodies_discarded_too_short", "melodies_discarded_too_few_pitches")
            if extraction.stats.get(k)
        ]
        names = {
            "polyphonic_tracks_discarded": "polyphonic",
            "melodies_discarded_too_short": "too_short",
            "melodies_discarded_too_few_pitches": "too_few_pitches",
        }
        result.skip_reason = names.get(reasons[0] if reasons else "", "no_melody")
        result.detail = ", ".join(f"{k}={extraction.stats[k]}" for k in reasons) or "no melody found"
    return result


def _process_abc(result: FileResult, settings: ExtractionSettings) -> FileResult:
    """An ABC collection: every tune is extracted on its own and split on its own."""
    from tunesmith.music.midi import read_abc_tunes

    try:
        tunes = read_abc_tunes(result.path)
    except OSError as exc:
        result.skip_reason, result.detail = "corrupt", str(exc)
        return result
    stats: Counter = Counter()
    for tune_id, score in tunes:
        extraction = extract_melodies(score, settings)
        stats.update(extraction.stats)
        for melody in extraction.melodies:
            result.events.append(melody.events.astype(np.int8))
            result.steps_per_bar.append(melody.steps_per_bar)
            result.steps_per_beat.append(melody.steps_per_beat)
            result.tune_ids.append(tune_id)
    result.stats = dict(stats)
    if not tunes:
        result.skip_reason, result.detail = "no_notes", "no parsable ABC tune (X: header) found"
    elif not result.events:
        result.skip_reason, result.detail = "no_melody", ", ".join(f"{k}={v}" for k, v in stats.items())
    return result


def _add_polyphony(result: FileResult, score, settings: PolyphonySettings, tune_id: str = "") -> FileResult:
    """One score's polyphonic token stream into ``result`` (or the reason there is none)."""
    try:
        extraction = extract_polyphony(score, settings)
    except Exception as exc:  # a score the extraction cannot place is a corrupt file, never a crash of the batch
        result.skip_reason, result.detail = "corrupt", f"{type(exc).__name__}: {exc}"
        return result
    for k, v in extraction.stats.items():
        result.stats[k] = result.stats.get(k, 0) + v
    if extraction.piece is None:
        if not result.events:
            result.skip_reason, result.detail = extraction.skip_reason, extraction.detail
        return result
    tokens = encode(extraction.piece, settings.parts)
    if tokens.size > settings.max_tokens:
        result.stats["pieces_cut"] = result.stats.get("pieces_cut", 0) + 1
        tokens = tokens[: settings.max_tokens]
    result.events.append(tokens)
    meter = extraction.piece.meters[0][1]
    from tunesmith.music.meter import meter_steps as _steps

    bar, beat = _steps(meter, settings.steps_per_quarter)
    result.steps_per_bar.append(bar)
    result.steps_per_beat.append(beat)
    result.tune_ids.append(tune_id)
    result.skip_reason = None
    return result


def _process_abc_polyphonic(result: FileResult, settings: PolyphonySettings) -> FileResult:
    from tunesmith.music.midi import read_abc_tunes

    try:
        tunes = read_abc_tunes(result.path)
    except OSError as exc:
        result.skip_reason, result.detail = "corrupt", str(exc)
        return result
    for tune_id, score in tunes:
        _add_polyphony(result, score, settings, tune_id)
    if not tunes:
        result.skip_reason, result.detail = "no_notes", "no parsable ABC tune (X: header) found"
    return result


def _process_chunk(paths: list[str], settings: ExtractionSettings) -> list[FileResult]:
    """One task's work: a few dozen files, so task overhead (pickling, Ray scheduling) stays small."""
    return [process_file(p, settings) for p in paths]


class ShardWriter:
    """Appends melodies to one split's shards, flushing every ``shard_steps`` events (bounded memory)."""

    def __init__(self, out_dir: Path, split: str, shard_steps: int = 4_000_000):
        self.out_dir, self.split, self.shard_steps = out_dir, split, shard_steps
        self.events: list[np.ndarray] = []
        self.steps_per_bar: list[int] = []
        self.steps_per_beat: list[int] = []
        self.sources: list[str] = []
        self.pending_steps = 0
        self.shards: list[dict] = []

    def add(self, events: np.ndarray, steps_per_bar: int, source: str, steps_per_beat: int) -> None:
        self.events.append(events)
        self.steps_per_bar.append(steps_per_bar)
        self.steps_per_beat.append(steps_per_beat)
        self.sources.append(source)
        self.pending_steps += events.size
        if self.pending_steps >= self.shard_steps:
            self.flush()

    def flush(self) -> None:
        if not self.events:
            return
        stem = f"{self.split}-{len(self.shards):05d}"
        lengths = np.array([e.size for e in self.events], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        for suffix, array in (
            ("events", np.concatenate(self.events).astype(event_dtype(self.events))),
            ("offsets", offsets),
            ("steps_per_bar", np.asarray(self.steps_per_bar, dtype=np.int16)),
            ("steps_per_beat", np.asarray(self.steps_per_beat, dtype=np.int16)),
        ):
            with atomic_path(self.out_dir / f"{stem}.{suffix}.npy") as tmp:
                with open(tmp, "wb") as handle:
                    np.save(handle, array)
        write_json(self.out_dir / f"{stem}.sources.json", self.sources)
        self.shards.append({"name": stem, "melodies": int(lengths.size), "steps": int(lengths.sum())})
        self.events, self.steps_per_bar, self.steps_per_beat, self.sources, self.pending_steps = [], [], [], [], 0


@dataclass
class PrepareReport:
    out_dir: str
    files_found: int
    files_read: int
    files_with_melodies: int
    melodies: dict
    steps: dict
    skipped: list[dict]
    skip_counts: dict
    extraction_stats: dict
    pitch_histogram: list[int]
    settings: dict
    eval_ratio: float
    seconds: float
    shards: dict
    files_processed: int = 0  # read and extracted by this run
    files_reused: int = 0  # content already processed (an earlier run, or a duplicate file): not read again
    engine: str = "process"
    meters: dict = field(default_factory=dict)  # melodies per time signature, most common first ("6/8": 43)
    encoding: str = "melody"  # "melody": Magenta events; "polyphonic": tokens of tunesmith.music.polyphony

    @property
    def what(self) -> str:
        return "pieces" if self.encoding == POLYPHONIC else "melodies"

    def summary(self) -> str:
        lines = [
            f"Read {self.files_read} of {self.files_found} files in {self.seconds:.1f} s "
            f"({self.files_found / max(self.seconds, 1e-9):.0f} files/s).",
            f"{self.what.capitalize()}: {self.melodies['train']} train, {self.melodies['eval']} eval "
            f"({self.steps['train'] + self.steps['eval']:,} steps) from {self.files_with_melodies} files.",
        ]
        if self.meters:
            lines.append("Meters: " + ", ".join(f"{name} {count}" for name, count in self.meters.items()) + f" {self.what}.")
        if self.files_reused:
            lines.append(
                f"Processed {self.files_processed} files; {self.files_reused} needed no work "
                f"(content already processed, results kept in {self.out_dir}/parts)."
            )
        if self.skip_counts:
            lines.append("Skipped files: " + ", ".join(f"{k} {v}" for k, v in sorted(self.skip_counts.items())))
            for item in self.skipped[:10]:
                lines.append(f"  {item['file']}: {item['reason']} ({item['detail']})")
            if len(self.skipped) > 10:
                lines.append(f"  ... {len(self.skipped) - 10} more listed in {self.out_dir}/corpus.json")
        return "\n".join(lines)


def prepare_corpus(
    source: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    eval_ratio: float = 0.1,
    workers: int | None = None,
    settings: ExtractionSettings | PolyphonySettings | None = None,
    progress: bool = True,
    files: Iterable[Path] | None = None,
    engine: str = "process",
    ray_address: str | None = None,
    fresh: bool = False,
    flush_files: int = 2000,
    force: bool = False,
    stop_event=None,
) -> PrepareReport:
    """Turn a folder of MIDI/score files into token shards and ``corpus.json``; returns the report.

    Results are saved in ``out_dir/parts`` as they arrive, so a run that is interrupted (Ctrl-C, kill, crash)
    or a folder that grew is finished by running the same command again: files whose content (blake2b of the
    bytes) was already processed with the same settings are not read again. ``fresh=True`` redoes everything.
    The shards are rebuilt at the end in sorted path order, so the corpus is the same whatever the engine,
    the worker count or the number of interruptions. They are built in ``out_dir/.corpus-staging`` and moved
    in once complete, so the previous corpus stays whole until then (a full disk included).

    ``out_dir`` must be new, empty or a corpus (``force=True`` writes into another folder, replacing only
    corpus files); it is locked for the run, so a second run at the same folder is refused at once.
    Setting the ``threading.Event`` ``stop_event`` stops the run within a second (the workers are ended) with
    :class:`tunesmith.core.errors.Cancelled`; the files done so far are kept in ``out_dir/parts``.
    """
    from tunesmith.core.progress import progress_bar

    started = time.perf_counter()
    settings = settings or ExtractionSettings()
    source, out_dir = Path(source), Path(out_dir)
    with output_dir(out_dir, CORPUS.name, force=force):  # checked and locked before any file is read
        paths = [os.path.abspath(p) for p in (files if files is not None else find_corpus_files(source))]
        if not paths:
            raise CorpusError(f"{source}: no MIDI or score files found (looked for {', '.join(CORPUS_SUFFIXES)})")
        base = os.path.abspath(source if source.is_dir() else source.parent)
        remove_stale_temps(out_dir, legacy=True)  # left by a killed earlier run
        store = PartStore(
            out_dir / "parts",
            {"extraction": EXTRACTION_VERSION, "settings": asdict(settings)},
            fresh=fresh,
            flush_files=flush_files,
        )
        if store.discarded_reason and progress:
            print(f"Reprocessing every file ({store.discarded_reason}).", file=sys.stderr)
        keys: dict[str, str] = {}
        bar = progress_bar(total=len(paths), desc="prepare", unit="file", disable=not progress)
        try:
            processed = _process_new_files(paths, keys, store, settings, engine, workers, ray_address, base, bar, stop_event)
        except KeyboardInterrupt:
            print(
                f"Interrupted: the results of {len(store.records)} files are saved in {out_dir / 'parts'}; "
                "run the same command again to continue.",
                file=sys.stderr,
            )
            raise
        finally:
            bar.close()
        entries = [(os.path.relpath(p, base), keys[p]) for p in paths]
        staging = out_dir / STAGING
        shutil.rmtree(staging, ignore_errors=True)  # an unfinished last stage of a killed run
        staging.mkdir()
        try:
            polyphonic = isinstance(settings, PolyphonySettings)
            report = _write_corpus(staging, entries, store, eval_ratio, settings.steps_per_quarter, polyphonic)
            report.update(
                settings=asdict(settings),
                eval_ratio=eval_ratio,
                seconds=time.perf_counter() - started,
                files_processed=processed,
                files_reused=len(paths) - processed,
                engine=engine,
                encoding=POLYPHONIC if polyphonic else "melody",
            )
            report = PrepareReport(out_dir=str(out_dir), **report)
            write_json(staging / "corpus.json", {"kind": CORPUS.name, **asdict(report)})  # the marker of our corpus
        except DiskFullError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            had = (out_dir / "corpus.json").is_file()
            kept = f"the previous corpus in {out_dir} is whole" if had else "no corpus was written"
            kept += f"; the results of all {len(paths)} files are saved in {out_dir / 'parts'}, so a rerun only writes the corpus"
            raise disk_full_error(getattr(exc, "path", staging), kept) from exc
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _commit_corpus(staging, out_dir)
    if report.melodies["train"] + report.melodies["eval"] == 0:
        what = "polyphonic pieces" if report.encoding == POLYPHONIC else "melodies"
        raise CorpusError(f"{source}: extracted 0 {what} from {len(paths)} files.\n{report.summary()}")
    return report


STAGING = ".corpus-staging"


def _commit_corpus(staging: Path, out_dir: Path) -> None:
    """Swap the finished new corpus in: the old corpus.json goes first (so a crash in between leaves no
    corpus.json over mixed shards), then the old shards, then the new shards, and corpus.json last.

    Renames take no space, so once the new corpus is complete in ``staging`` a full disk cannot break this.
    """
    (out_dir / "corpus.json").unlink(missing_ok=True)
    fsync_dir(out_dir)
    for old in out_dir.iterdir():
        if old.is_file() and CORPUS.owns(old.name) and old.name != "corpus.json":
            old.unlink()
    for new in sorted(staging.iterdir(), key=lambda p: p.name == "corpus.json"):
        os.replace(new, out_dir / new.name)
    fsync_dir(out_dir)
    with contextlib.suppress(OSError):
        staging.rmdir()


def _new_file_chunks(
    paths: list[str], keys: dict[str, str], store: PartStore, chunk: int, bar, stop_event=None
) -> Iterator[list[str]]:
    """Hash each file (lazily, while workers run) and yield chunks of those whose content is not stored yet."""
    queued: set[str] = set()
    batch: list[str] = []
    for path in paths:
        if stop_event is not None and stop_event.is_set():
            raise Cancelled(f"stopped while reading the files ({len(keys)} of {len(paths)} looked at)")
        key = keys[path] = content_key(path)
        if key in store or key in queued:  # done by an earlier run, or the same bytes under another name
            bar.update(1)
            continue
        queued.add(key)
        batch.append(path)
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def _process_new_files(
    paths: list[str],
    keys: dict[str, str],
    store: PartStore,
    settings: ExtractionSettings,
    engine: str,
    workers: int | None,
    ray_address: str | None,
    base: str,
    bar,
    stop_event=None,
) -> int:
    """Run the extraction on every file not in ``store``; results go to the store as they come. Returns the count."""
    processed = 0
    with open_engine(engine, workers, ray_address, stop_event=stop_event) as runner:
        todo = max(1, len(paths) - len(store.records))
        chunk = max(1, min(64, todo // (runner.parallelism * 4) or 1))
        try:
            for results in runner.map_unordered(
                partial(_process_chunk, settings=settings), _new_file_chunks(paths, keys, store, chunk, bar, stop_event)
            ):
                for res in results:
                    store.add(keys[res.path], os.path.relpath(res.path, base), res)
                    processed += 1
                    bar.update(1)
        finally:
            store.flush()  # whatever happens, finished files are kept
    return processed


def _write_corpus(
    out_dir: Path,
    entries: list[tuple[str, str]],
    store: PartStore,
    eval_ratio: float,
    store_steps_per_quarter: int = 4,
    polyphonic: bool = False,
) -> dict:
    """Build the train/eval shards in ``out_dir`` (the staging folder) from the stored results, in path order;
    returns the report's counts."""
    writers = {split: ShardWriter(out_dir, split) for split in SPLITS}
    skipped, skip_counts, extraction_stats = [], Counter(), Counter()
    pitch_hist = np.zeros(128, dtype=np.int64)
    meters: Counter = Counter()
    spq = store_steps_per_quarter
    files_read = files_with_melodies = 0
    for rel, key in entries:
        record = store.records[key]
        extraction_stats.update(record["stats"])
        files_read += record["skip_reason"] in READ_OK
        melodies = store.melodies(key)
        if not melodies:
            skipped.append({"file": rel, "reason": record["skip_reason"], "detail": record["detail"]})
            skip_counts[record["skip_reason"]] += 1
            continue
        files_with_melodies += 1
        for events, spb, beat, tune in melodies:
            name = f"{rel}#X{tune}" if tune else rel
            writers[split_of(name, eval_ratio)].add(events, spb, name, beat)
            meters[meter_name(meter_of_steps(spb, beat, spq))] += 1
            if polyphonic:
                notes = events[events >= NOTE0].astype(np.int64) - NOTE0
                pitch_hist += np.bincount(notes % PITCHES + 21, minlength=128)[:128]
            else:
                pitch_hist += np.bincount(events[events >= 0].astype(np.int64), minlength=128)
    for writer in writers.values():
        writer.flush()
    return {
        "files_found": len(entries),
        "files_read": files_read,
        "files_with_melodies": files_with_melodies,
        "melodies": {s: sum(sh["melodies"] for sh in writers[s].shards) for s in SPLITS},
        "steps": {s: sum(sh["steps"] for sh in writers[s].shards) for s in SPLITS},
        "skipped": skipped,
        "skip_counts": dict(skip_counts),
        "extraction_stats": dict(extraction_stats),
        "pitch_histogram": pitch_hist.tolist(),
        "shards": {s: writers[s].shards for s in SPLITS},
        "meters": dict(meters.most_common()),
    }


def load_split(corpus_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(events int8, offsets int64, steps_per_bar int16) of one split, all shards joined (events memmapped)."""
    corpus_dir = Path(corpus_dir)
    if not (corpus_dir / "corpus.json").is_file():
        raise CorpusError(f"{corpus_dir}: not a prepared corpus (no corpus.json); run `tunesmith prepare` first")
    events, offsets, spb = [], [np.zeros(1, np.int64)], []
    total = 0
    for events_path in sorted(corpus_dir.glob(f"{split}-*.events.npy")):
        stem = events_path.name[: -len(".events.npy")]
        ev = np.load(events_path, mmap_mode="r")
        off = np.load(corpus_dir / f"{stem}.offsets.npy")
        events.append(ev)
        offsets.append(off[1:] + total)
        spb.append(np.load(corpus_dir / f"{stem}.steps_per_bar.npy"))
        total += int(off[-1])
    if not events:
        return np.zeros(0, np.int8), np.zeros(1, np.int64), np.zeros(0, np.int16)
    joined = events[0] if len(events) == 1 else np.concatenate(events)
    return joined, np.concatenate(offsets), np.concatenate(spb)


def load_meters(corpus_dir: str | os.PathLike, split: str, steps_per_quarter: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(steps_per_bar, steps_per_beat) per melody of one split, in ``load_split``'s order.

    Corpora prepared before meters were stored have no ``steps_per_beat``: the meter is guessed from the bar length
    (16 -> 4/4, 12 -> 3/4, 18 -> 9/8; a 6/8 tune then counts as 3/4 until the corpus is prepared again).
    """
    corpus_dir = Path(corpus_dir)
    bars, beats = [], []
    for events_path in sorted(corpus_dir.glob(f"{split}-*.events.npy")):
        stem = events_path.name[: -len(".events.npy")]
        spb = np.load(corpus_dir / f"{stem}.steps_per_bar.npy").astype(np.int64)
        beat_path = corpus_dir / f"{stem}.steps_per_beat.npy"
        if beat_path.is_file():
            beat = np.load(beat_path).astype(np.int64)
        else:
            guess = {int(n): meter_steps(meter_of_steps(int(n), None, steps_per_quarter), steps_per_quarter)[1] for n in set(spb)}
            beat = np.asarray([guess[int(n)] for n in spb], dtype=np.int64)
        bars.append(spb)
        beats.append(beat)
    if not bars:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(bars), np.concatenate(beats)
