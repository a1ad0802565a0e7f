"""What the studio's routes share: safe names, paths kept inside a root, plain messages, request guards.

Nothing here knows a route: the checks an upload or a request passes before any library call.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from tunesmith.core.errors import BadInputError, Cancelled

STATIC = Path(__file__).parent / "static"
MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
AUDIO_FORMAT_SUFFIX = {"WAV": ".wav", "WAVEX": ".wav", "FLAC": ".flac", "OGG": ".ogg", "MP3": ".mp3", "AIFF": ".aiff"}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
ID_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_SEED = 2**32 - 1
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# What each upload is for, and the kinds of file that can serve it (checked at upload, not at Train).
PURPOSES = {
    "primer": ("midi", "score", "audio"),
    "training": ("midi", "zip"),
    "clip": ("audio",),
    "tune": ("midi", "score"),
}
KIND_WORDS = {
    "midi": "a MIDI file",
    "score": "an ABC or MusicXML tune",
    "zip": "a zip of MIDI files",
    "audio": "an audio clip (WAV, FLAC, OGG, MP3)",
}
# An absolute server path inside a message: the page shows only its last part.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/])(?:/[^\s/'\"(),;:]+)+/?")
MAX_FOLDER_FILES = 200_000  # files a training folder may hold (a folder too large to be one corpus is refused)
NO_DATA_ROOT = (
    "training from a folder is off: this studio was started without --data-root. Upload MIDI files or a zip, "
    "or start it again with `tunesmith web --data-root DIR` to train on folders under DIR"
)
_WARNINGS_LOCK = threading.Lock()  # warnings.catch_warnings changes process-wide state: one capture at a time


# --- small helpers (names, paths, optional library parts) ------------------------------------
def safe_name(name: str | None, default: str = "file") -> str:
    """A file name that cannot climb out of its folder: last path part, safe characters, no leading dot."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")[:80]
    return base or default


def inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it is an existing file inside ``root`` (resolved, symlinks followed), else None."""
    parts = relative.replace("\\", "/").split("/")
    if any(p in ("", ".", "..") or "\x00" in p for p in parts):
        return None
    root = root.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return target


def plain(message: str) -> str:
    """A message the page may show: server paths cut to their last part (``/home/me/x/tune.mid`` -> ``tune.mid``)."""
    return _ABSOLUTE_PATH.sub(lambda m: Path(m.group(0)).name or "a folder", message)


@contextlib.contextmanager
def caught_warnings():
    """Collect the library's warnings (primer moved by octaves, cut to its last bars...) for the page.

    Yields a list filled when the block ends, with server paths cut; the terminal still prints them.
    """
    found: list[str] = []
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield found
        finally:
            for w in caught:
                print(f"note: {w.message}")
                found.append(plain(str(w.message)))


def data_folder(root: Path | None, folder: str) -> Path:
    """The training folder ``folder`` names under ``root`` (relative to it, or absolute inside it).

    Refused: any folder when there is no root, ``..`` parts, and whatever resolves (symlinks followed)
    outside the root. ``.`` is the root itself.
    """
    if root is None:
        raise HTTPException(400, NO_DATA_ROOT)
    root = root.resolve()
    text = folder.strip().replace("\\", "/")
    shown = text or "."
    if "\x00" in text or any(part == ".." for part in text.split("/")):
        raise HTTPException(400, f"{shown}: give a folder inside the data folder {root.name}, without '..'")
    if text.startswith("~"):
        raise HTTPException(400, f"{shown}: give a folder inside the data folder {root.name} (relative to it)")
    candidate = Path(text) if text.startswith("/") else root / text.lstrip("/")
    try:
        target = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise HTTPException(400, f"{shown}: no such folder in the data folder {root.name}") from None
    if not target.is_relative_to(root):
        raise HTTPException(400, f"{shown}: outside the data folder {root.name}; give a folder inside it")
    if not target.is_dir():
        raise HTTPException(400, f"{shown}: not a folder; give a folder of MIDI files inside {root.name}")
    return target


def training_files(root: Path, folder: Path, stop_event=None, limit: int = MAX_FOLDER_FILES) -> list[Path]:
    """The MIDI/score files below ``folder``; symlinked folders are not entered and linked files that lead out of
    ``root`` are left out, so nothing outside the root is read. Stops (Cancelled) when ``stop_event`` is set."""
    from tunesmith.data.corpus import CORPUS_SUFFIXES

    root = root.resolve()
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        if stop_event is not None and stop_event.is_set():
            raise Cancelled(f"stopped while looking for MIDI files ({len(found)} found so far)")
        dirnames.sort()
        for name in filenames:
            if Path(name).suffix.lower() not in CORPUS_SUFFIXES:
                continue
            path = Path(dirpath) / name
            try:
                if path.is_symlink() and not path.resolve(strict=True).is_relative_to(root):
                    continue
                if not path.is_file():  # a pipe or device named x.mid would block the reader
                    continue
            except (OSError, RuntimeError):
                continue
            found.append(path)
            if len(found) > limit:
                raise BadInputError(
                    f"{folder.name}: more than {limit:,} MIDI/score files; give a smaller folder "
                    "(or prepare it with `tunesmith prepare` and train from the command line)"
                )
    return sorted(found)


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
    return total


def jsonable(obj: Any) -> Any:
    """Results as JSON: paths become strings, anything else unknown becomes its repr."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "item") and callable(obj.item):
        try:
            return obj.item()
        except (TypeError, ValueError):
            pass
    return repr(obj)


class LimitBody:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413, by header and while streaming."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"upload too large: the limit is {self.max_bytes / 2**20:g} MB (tunesmith web --max-upload-mb raises it)"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await JSONResponse({"error": self._message()}, status_code=413)(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, self._message())
            return message

        return await self.app(scope, limited, send)


class GuardRequests:
    """ASGI middleware against other web sites reaching the studio through the user's browser.

    * The Host header must name this machine (127.0.0.1, localhost, [::1] or a host given to ``serve``):
      a page that re-points its own DNS name at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
    * A request that changes something (POST...) must come from the studio's own page: a cross-site
      ``Sec-Fetch-Site`` or an ``Origin`` other than the studio's own address is refused.
    """

    def __init__(self, app, allowed_hosts: set[str]):
        self.app = app
        self.allowed = {h.lower().strip("[]") for h in allowed_hosts}

    @staticmethod
    def _hostname(netloc: str) -> str:
        netloc = netloc.strip().lower()
        if netloc.startswith("["):
            return netloc[1 : netloc.find("]")] if "]" in netloc else netloc
        return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        if self._hostname(host) not in self.allowed:
            message = (
                f"this studio answers only at its own address ({', '.join(sorted(self.allowed))}); "
                "the Host header named another site, which is how DNS-rebinding attacks look"
            )
            return await JSONResponse({"error": message}, status_code=400)(scope, receive, send)
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            site = headers.get("sec-fetch-site")
            origin = headers.get("origin")
            foreign = site in ("cross-site", "same-site")
            if origin is not None:
                parts = urlsplit(origin)
                foreign = foreign or origin == "null" or parts.netloc.lower() != host.lower()
            if foreign:
                message = "refused: this request came from another web site; use the studio's own page"
                return await JSONResponse({"error": message}, status_code=403)(scope, receive, send)
        return await self.app(scope, receive, send)


def plural(count: int, one: str, many: str) -> str:
    """``1 melody``, ``2 melodies``."""
    return f"{count} {one if count == 1 else many}"


def redraw_loss(model_dir: Path) -> None:
    """Redraw the loss curve after the move out of the temp folder, so its title names the model."""
    from tunesmith.core.figures import save_loss_curve

    try:
        save_loss_curve(model_dir)
    except Exception as exc:  # a plot never loses a trained model
        print(f"note: loss curve not redrawn ({exc})")


def train_in(tmp: Path, job, train, *args, on_log, **kwargs) -> dict:
    """Run a library training (``train(*args, **kwargs)``) into the hidden folder ``tmp`` with the job's Cancel and
    progress; on any failure, a stop included, that folder goes (a stopped training still returns its model)."""
    try:
        return train(*args, progress=False, stop_event=job.stop_event, on_log=on_log, **kwargs)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
