"""A small, careful reader of Standard MIDI File structure, for the files symusic refuses or reads as empty.

symusic (the fast C++ parser) reads whole, well-formed files. This module steps in only when it fails, or when
it finds no note although the file holds note-ons, and does one of two things:

* says in plain words what is wrong (``MidiDamage``): a header of the wrong size, SMPTE timing, a delta time
  longer than 4 bytes, a velocity of 128, data bytes with no status byte before them...;
* or rebuilds the file so that symusic can read it, and says what it mended: a file cut short (its last track
  announces more bytes than are there) is read up to the cut when little is missing; a note-on that is never
  switched off ends at the next note-on of its pitch, or at the end of its track (at least a beat after it).

A Standard MIDI File is an ``MThd`` chunk (length 6: format, number of tracks, ticks per quarter) and then
``MTrk`` chunks, each a 4-byte big-endian length and events. Every event starts with a *delta time*, a
variable-length quantity (7 bits per byte, high bit = "more bytes follow", at most 4 bytes). *Running status*
lets a channel event leave out its status byte when it repeats the previous one.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

MAX_TICK = 2**31 - 1
SALVAGE_SHARE = 0.10  # a file cut short is read up to the cut when at most this share of it (or 16 bytes) is missing
END_OF_TRACK = b"\xff\x2f\x00"


class MidiDamage(Exception):
    """The file's MIDI structure is damaged; the message says how, in plain words (no file name)."""


@dataclass
class Repair:
    data: bytes  # a clean Standard MIDI File (explicit status bytes, exact chunk lengths, every note closed)
    notes: list[str] = field(default_factory=list)  # what was mended, in plain words (for a warning)


def _vlq(data: bytes, pos: int, end: int) -> tuple[int, int] | None:
    """(value, position after it) of the variable-length quantity at ``pos``; None when the data ends first."""
    value = 0
    for k in range(4):
        if pos + k >= end:
            return None
        byte = data[pos + k]
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos + k + 1
    raise MidiDamage(f"a delta time or length at byte {pos} runs past 4 bytes (the longest MIDI allows)")


def write_vlq(value: int) -> bytes:
    """``value`` as a MIDI variable-length quantity (0x0FFFFFFF -> FF FF FF 7F): 7 bits a byte, high bit = more."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


class _Cut(Exception):
    """The track's data ends inside an event."""


def _sized(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(length, body start) of a length-prefixed meta or SysEx body at ``pos``; _Cut when it runs past ``end``."""
    got = _vlq(data, pos, end)
    if got is None or got[1] + got[0] > end:
        raise _Cut
    return got


def _events(data: bytes, start: int, end: int, track: int) -> tuple[list[tuple[int, bytes]], bool, bool]:
    """``([(absolute tick, event bytes with explicit status)], ended by a cut, has end-of-track)``."""
    events: list[tuple[int, bytes]] = []
    pos, tick, running = start, 0, None
    where = f"track {track}"
    try:
        while pos < end:
            got = _vlq(data, pos, end)
            if got is None:
                raise _Cut
            delta, pos = got
            tick += delta
            if tick > MAX_TICK:
                raise MidiDamage(f"{where} runs past {MAX_TICK:,} ticks (a delta time of {delta:,} ticks near byte {pos})")
            if pos >= end:
                raise _Cut
            status = data[pos]
            if status == 0xFF:
                if pos + 1 >= end:
                    raise _Cut
                length, body = _sized(data, pos + 2, end)
                kind = data[pos + 1]
                if kind == 0x2F:
                    return events, False, True
                events.append((tick, data[pos : pos + 2] + write_vlq(length) + data[body : body + length]))
                pos, running = body + length, None
                continue
            if status in (0xF0, 0xF7):
                length, body = _sized(data, pos + 1, end)
                events.append((tick, bytes([status]) + write_vlq(length) + data[body : body + length]))
                pos, running = body + length, None
                continue
            if status > 0xF0:
                raise MidiDamage(f"{where} holds a system message (0x{status:02X}) at byte {pos}, which no MIDI file may hold")
            if status >= 0x80:
                running, pos = status, pos + 1
            elif running is None:
                raise MidiDamage(f"{where} has note data with no status byte before it (byte {pos}: a broken running status)")
            size = 1 if running & 0xF0 in (0xC0, 0xD0) else 2
            if pos + size > end:
                raise _Cut
            values = data[pos : pos + size]
            for k, value in enumerate(values):
                if value > 0x7F:
                    what = ("pitch", "velocity")[k] if running & 0xF0 in (0x80, 0x90) else "value"
                    raise MidiDamage(f"{where} has a note {what} of {value} at byte {pos + k} (MIDI allows 0-127)")
            events.append((tick, bytes([running]) + values))
            pos += size
    except _Cut:
        return events, True, False
    return events, False, False


def _close_notes(events: list[tuple[int, bytes]], tpq: int) -> tuple[list[tuple[int, bytes]], int]:
    """Every note-on closed: a note still sounding ends at the next note-on of its pitch and channel, or at the
    end of the track (at least a beat after its start). Returns the events and how many notes were closed."""
    out: list[tuple[int, bytes]] = []
    sounding: dict[tuple[int, int], int] = {}
    closed = 0
    last = events[-1][0] if events else 0
    for tick, event in events:
        kind = event[0] & 0xF0
        if kind in (0x80, 0x90) and len(event) == 3:
            key = (event[0] & 0x0F, event[1])
            if kind == 0x90 and event[2] > 0:
                if key in sounding:
                    out.append((tick, bytes([0x80 | key[0], key[1], 0])))
                    closed += 1
                sounding[key] = tick
            else:
                sounding.pop(key, None)
        out.append((tick, event))
    for (channel, pitch), start in sounding.items():
        out.append((max(last, start + tpq), bytes([0x80 | channel, pitch, 0])))
        closed += 1
    out.sort(key=lambda item: item[0])  # stable: events of one tick keep their order
    return out, closed


def _track_bytes(events: list[tuple[int, bytes]]) -> bytes:
    body, previous = bytearray(), 0
    for tick, event in events:
        body += write_vlq(tick - previous) + event
        previous = tick
    body += b"\x00" + END_OF_TRACK
    return b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def repair(data: bytes, close_notes: bool = True) -> Repair:
    """Rebuild ``data`` as a clean Standard MIDI File, or raise :class:`MidiDamage` saying what is wrong."""
    if len(data) < 14:
        raise MidiDamage(f"the file is only {len(data)} bytes long, too short for a MIDI header (14 bytes)")
    header_length = struct.unpack(">I", data[4:8])[0]
    if header_length < 6 or 8 + header_length > len(data):
        raise MidiDamage(
            f"its header says it is {header_length:,} byte{'s' if header_length != 1 else ''} long; a MIDI header is 6 bytes"
        )
    fmt, declared_tracks, division = struct.unpack(">HHH", data[8:14])
    if division & 0x8000:
        raise MidiDamage(
            "it counts time in SMPTE frames, not in ticks per quarter note; "
            "save it again from your editor with a musical (PPQ) resolution"
        )
    if division == 0:
        raise MidiDamage("its header gives 0 ticks per quarter note (the resolution); the file is damaged")
    tracks: list[bytes] = []
    notes: list[str] = []
    closed_total = 0
    was_short = False
    pos = 8 + header_length
    while pos + 8 <= len(data) and len(tracks) < max(declared_tracks, 1):
        chunk_id = data[pos : pos + 4]
        length = struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        start, end = pos + 8, pos + 8 + length
        if chunk_id != b"MTrk":
            if not all(0x20 <= b < 0x7F for b in chunk_id):
                raise MidiDamage(
                    f"track {len(tracks) + 1} should start at byte {pos}, but the bytes there are no track chunk "
                    "(a track length earlier in the file is wrong)"
                )
            pos = end  # an unknown chunk: skipped, as the standard asks
            continue
        number = len(tracks) + 1
        short = end > len(data)
        was_short = was_short or short
        if short:
            missing = end - len(data)
            if missing > max(16, int(SALVAGE_SHARE * end)):
                raise MidiDamage(
                    f"the file is cut short: track {number} announces {length:,} bytes but only "
                    f"{len(data) - start:,} are there ({missing:,} bytes, {missing / end:.0%} of the file, are missing); "
                    "export or download it again"
                )
            end = len(data)
        events, cut, _ = _events(data, start, end, number)
        if cut and not short and pos + 8 + length < len(data) and number < declared_tracks:
            raise MidiDamage(f"track {number} ends in the middle of an event (its length field is wrong)")
        if short or cut:
            lost = struct.unpack(">I", data[pos + 4 : pos + 8])[0] - (end - start) if short else 0
            notes.append(
                f"the file is cut short ({lost:,} byte{'s' if lost != 1 else ''} of track {number} missing); read up to the cut"
                if short
                else f"track {number} ends in the middle of an event; read up to it"
            )
        if close_notes:
            events, closed = _close_notes(events, division)
            closed_total += closed
        tracks.append(_track_bytes(events))
        pos = start + length
    if len(tracks) < declared_tracks:
        if was_short:
            raise MidiDamage(
                f"the file is cut short: {declared_tracks - len(tracks)} of its {declared_tracks} tracks are missing; "
                "export or download it again"
            )
        notes.append(f"its header announces {declared_tracks} tracks but the file holds {len(tracks)}")
    if not tracks:
        raise MidiDamage("it holds no track (MTrk chunk)")
    if closed_total:
        notes.append(
            f"{closed_total} note{'s' if closed_total > 1 else ''} had no note-off; each ends at the next note of its "
            "pitch or at the end of its track"
        )
    header = b"MThd" + struct.pack(">IHHH", 6, 1 if fmt == 0 and len(tracks) > 1 else fmt, len(tracks), division)
    return Repair(header + b"".join(tracks), notes)


def has_note_ons(data: bytes) -> bool:
    """Whether the bytes hold a byte that could start a note-on (a cheap test before a full walk)."""
    return re.search(rb"[\x90-\x9f]", data[14:]) is not None
