"""Per-file extraction results, saved as they arrive and keyed by content hash: what makes ``prepare`` resumable.

``OUT/parts/`` holds numbered parts. A part is the melodies of a batch of files in the shard layout
(``part-NNNNN.events/offsets/steps_per_bar/steps_per_beat.npy``) plus ``part-NNNNN.json``, the list of file records
(content key, path, where its melodies are, skip reason, extraction stats). The JSON is written last, so it
is the part's commit mark: a run killed at any point leaves whole parts, and arrays without their JSON are
deleted at the next start. ``state.json`` names the extraction settings; parts made with other settings are
discarded, because their melodies would differ.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from pathlib import Path

import numpy as np

from tunesmith.core.files import remove_stale_temps, write_bytes, write_json
from tunesmith.music.midi import MIDI_SUFFIXES

PART_FORMAT = 2  # 2: per-melody steps_per_beat (the meter) stored too
ARRAYS = ("events", "offsets", "steps_per_bar", "steps_per_beat")
PART_NAME = re.compile(
    r"part-\d{5}\.(json|events\.npy|offsets\.npy|steps_per_bar\.npy|steps_per_beat\.npy)"
)  # only these are ours


def save_npy(path: Path, array: np.ndarray) -> Path:
    """``np.save`` atomically, through Python's own file writes: numpy's writer reports a full disk as
    "39092 requested and 8064 written" (no errno), Python's as ENOSPC, which becomes "disk full while writing PATH"."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return write_bytes(path, buffer.getbuffer())


def content_key(path: str | Path) -> str:
    """blake2b of the file's bytes plus how it is parsed (MIDI, or the score suffix): equal keys give equal melodies."""
    path = Path(path)
    suffix = path.suffix.lower()
    kind = "midi" if suffix in MIDI_SUFFIXES else suffix.lstrip(".")
    digest = hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError:  # unreadable now: processed (and reported) every run, never matched to stored content
        return f"unreadable:{path}"
    return f"{digest.hexdigest()}-{kind}"


class PartStore:
    """Reads the records of earlier runs, appends new results in parts, and serves any file's melodies back."""

    def __init__(
        self,
        directory: Path,
        fingerprint: dict,
        *,
        fresh: bool = False,
        flush_files: int = 2000,
        flush_steps: int = 1_000_000,
        flush_seconds: float = 30.0,
    ):
        self.dir = Path(directory)
        self.flush_files, self.flush_steps, self.flush_seconds = flush_files, flush_steps, flush_seconds
        self.records: dict[str, dict] = {}  # content key -> record (with "part")
        self.discarded_reason = self._open(fingerprint, fresh)
        self._arrays: dict[str, tuple[np.ndarray, ...]] = {}
        numbers = (int(p.stem.split("-")[1]) for p in self.dir.glob("part-*.json") if PART_NAME.fullmatch(p.name))
        self._next = 1 + max(numbers, default=-1)
        self._pending: list[tuple[dict, list[np.ndarray], list[int], list[int]]] = []
        self._pending_steps = 0
        self._last_flush = time.monotonic()

    def _open(self, fingerprint: dict, fresh: bool) -> str | None:
        """Load compatible parts; wipe them when asked or when the settings differ (returns why, for the log)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.dir, legacy=True)
        state = self.dir / "state.json"
        stored = json.loads(state.read_text()) if state.is_file() else None
        wanted = {"format": PART_FORMAT, **fingerprint}
        reason = "--fresh" if fresh else None if stored in (None, wanted) else "the extraction settings changed"
        if reason or stored is None:
            for old in self.dir.glob("part-*"):
                if PART_NAME.fullmatch(old.name):
                    old.unlink()
            write_json(state, wanted)
        committed = {p.name[: -len(".json")] for p in self.dir.glob("part-*.json") if PART_NAME.fullmatch(p.name)}
        for array in self.dir.glob("part-*.npy"):
            if PART_NAME.fullmatch(array.name) and array.name.split(".")[0] not in committed:  # killed before its JSON
                array.unlink()
        for name in sorted(committed):
            for record in json.loads((self.dir / f"{name}.json").read_text())["files"]:
                self.records[record["key"]] = {**record, "part": name}
        return reason if stored is not None else None

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def add(self, key: str, file: str, result) -> None:
        """Queue one file's result (a corpus.FileResult); parts are written by count, size and age."""
        record = {
            "key": key,
            "file": file,
            "melodies": len(result.events),
            "skip_reason": result.skip_reason,
            "detail": result.detail,
            "stats": result.stats,
        }
        if any(result.tune_ids):
            record["tune_ids"] = list(result.tune_ids)
        self._pending.append((record, result.events, result.steps_per_bar, result.steps_per_beat))
        self._pending_steps += sum(e.size for e in result.events)
        if (
            len(self._pending) >= self.flush_files
            or self._pending_steps >= self.flush_steps
            or time.monotonic() - self._last_flush >= self.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        """Write the queued results as one part (arrays first, then the JSON that commits them)."""
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        name = f"part-{self._next:05d}"
        events, spb, beat, records, first = [], [], [], [], 0
        for record, melody_events, melody_spb, melody_beat in self._pending:
            records.append({**record, "first": first})
            events += melody_events
            spb += melody_spb
            beat += melody_beat
            first += len(melody_events)
        lengths = np.array([e.size for e in events], dtype=np.int64)
        arrays = {
            "events": np.concatenate(events) if events else np.zeros(0, np.int8),  # int8 melodies, int16 polyphony
            "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            "steps_per_bar": np.asarray(spb, dtype=np.int16),
            "steps_per_beat": np.asarray(beat, dtype=np.int16),
        }
        for suffix, array in arrays.items():
            save_npy(self.dir / f"{name}.{suffix}.npy", array)
        write_json(self.dir / f"{name}.json", {"files": records})
        for record in records:
            self.records[record["key"]] = {**record, "part": name}
        self._next += 1
        self._pending, self._pending_steps = [], 0

    def melodies(self, key: str) -> list[tuple[np.ndarray, int, int, str]]:
        """``[(events, steps_per_bar, steps_per_beat, tune_id)]`` of the file with this key, from its part (memory-mapped)."""
        record = self.records[key]
        if record["melodies"] == 0:
            return []
        part = record["part"]
        if part not in self._arrays:
            self._arrays[part] = tuple(
                np.load(self.dir / f"{part}.{a}.npy", mmap_mode="r" if a == "events" else None) for a in ARRAYS
            )
        events, offsets, spb, beat = self._arrays[part]
        tune_ids = record.get("tune_ids") or [""] * record["melodies"]
        return [
            (np.array(events[offsets[i] : offsets[i + 1]]), int(spb[i]), int(beat[i]), tune_ids[i - record["first"]])
            for i in range(record["first"], record["first"] + record["melodies"])
        ]
