"""Where a run may write: one policy for every output path, checked before any work starts.

* A run that fills a folder (``prepare``, ``melody``/``audio train``, ``melody``/``audio generate``) writes only
  into a folder that is new, empty, or already its own kind of output (recognised by its files:
  ``corpus.json``, a model's ``config.json``, ``generation.json``, or only names that kind writes). Anything
  else is refused; ``force=True`` (``--force``) writes there anyway. Either way a run deletes or replaces only
  files with its own kind's names (``melody_03.mid`` of an earlier ``-n 4``), never anything else.
* A trained model is never replaced by a new training run: continue it (``resume``) or start over (``force``).
* One run per folder at a time: a lock file (``.tunesmith.lock``, flock) is held for the run; a second run at
  the same folder is refused at once. The operating system drops the lock when the process ends, killed or not.
* A command that writes one file (render, plot, video, transcribe, spectrogram) needs that file's suffix; it
  replaces a file of that suffix at the path given, never its own input.
* ``-o`` that is a file where a folder is needed (or a folder where a file is), lies under a file, or is not
  writable is refused before any work, with the path in the message.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import OutputError

LOCK_NAME = ".tunesmith.lock"


@dataclass(frozen=True)
class Kind:
    """One kind of output folder: its name for messages and the file names it writes (regexes, whole name)."""

    name: str
    names: tuple[str, ...]

    def owns(self, name: str) -> bool:
        return any(re.fullmatch(pattern, name) for pattern in self.names)


SHARD = r"(train|eval)-\d{5}\.(events\.npy|offsets\.npy|steps_per_bar\.npy|steps_per_beat\.npy|sources\.json)"
CORPUS = Kind("corpus", (SHARD, r"corpus\.json", r"\.corpus-staging"))  # parts/ counts by its state.json
MODEL_FILES = (r"model\.safetensors", r"config\.json", r"train_state\.safetensors", r"log\.jsonl", r"plots")
MELODY_MODEL = Kind("melody model", (*MODEL_FILES, r"corpus"))
AUDIO_MODEL = Kind("audio model", MODEL_FILES)
MELODY_OUTPUT = r"melody_\d+(_[A-Za-z0-9-]+)?\.(mid|wav|flac|ogg|html|png|mp4|svg|abc|musicxml)"  # melody_03_guitar.wav
# static/: the bokeh JS the piano-roll pages share (plots.share_bokeh_js)
MELODY_GENERATION = Kind("melody generation", (MELODY_OUTPUT, r"generation\.json", r"static"))
AUDIO_GENERATION = Kind("audio generation", (r"output_\d+\.(wav|png)", r"seed\.png", r"generation\.json"))
KINDS = {k.name: k for k in (CORPUS, MELODY_MODEL, AUDIO_MODEL, MELODY_GENERATION, AUDIO_GENERATION)}


def _hidden(name: str) -> bool:
    """Our lock and temp files, and the file managers' litter: never a reason to refuse a folder."""
    return name == LOCK_NAME or ".tmp" in name and name.startswith(".") or name in (".DS_Store", "Thumbs.db", "desktop.ini")


def folder_kind(folder: str | os.PathLike) -> str | None:
    """The kind of output ``folder`` holds, from its marker file or else its file names; None: not ours (or empty)."""
    folder = Path(folder)
    if (folder / "corpus.json").is_file() or (folder / "parts" / "state.json").is_file():
        return CORPUS.name
    config = folder / "config.json"
    if config.is_file():
        try:
            kind = json.loads(config.read_text()).get("kind")
        except (json.JSONDecodeError, OSError, AttributeError, UnicodeDecodeError):
            kind = None
        return f"{kind} model" if kind in ("melody", "audio") else None
    generation = folder / "generation.json"
    if generation.is_file():
        try:
            data = json.loads(generation.read_text())
        except (json.JSONDecodeError, OSError, UnicodeDecodeError):
            data = {}
        if isinstance(data, dict) and data.get("kind") in KINDS:
            return data["kind"]
        return MELODY_GENERATION.name if isinstance(data, dict) and "primer_events" in data else AUDIO_GENERATION.name
    names = [p.name for p in folder.iterdir() if not _hidden(p.name)] if folder.is_dir() else []
    if not names:
        return None
    return next((k.name for k in KINDS.values() if all(k.owns(n) for n in names)), None)


def foreign_files(folder: Path, kind: Kind) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not _hidden(p.name) and not kind.owns(p.name))


def check_output_dir(path: str | os.PathLike) -> Path:
    """Refuse, before any work, a folder path that is a file, lies under a file, or cannot be written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} is a file, not a folder; give a folder for the output (-o)")
    _check_parents(path)
    existing = path if path.is_dir() else next(p for p in (*path.parents, Path(".")) if p.is_dir())
    if not _writable(existing):
        raise OutputError(f"{existing} is not writable; choose an output folder you can write to (-o)")
    return path


def _writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder``: tried, not guessed from permission bits (root, read-only mounts)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".tunesmith-probe-"):
            return True
    except OSError as exc:
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)  # writable, but full: the write says "disk full"


def check_output_file(path: str | os.PathLike, suffixes: Iterable[str], *, inputs: Iterable = (), what: str = "output") -> Path:
    """Refuse, before any work, an output file path with the wrong suffix, that is a folder, under a file,
    not writable, or one of the ``inputs``. An existing file of the right suffix is replaced (atomically)."""
    path = Path(path)
    suffixes = tuple(suffixes)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name for the {what}, e.g. {path / ('out' + suffixes[0])}")
    if path.suffix.lower() not in suffixes:
        raise OutputError(f"{path}: the {what} must end in {' or '.join(suffixes)}; nothing was written")
    _check_parents(path)
    for source in inputs:
        if isinstance(source, str | os.PathLike) and Path(source).exists() and path.exists():
            with contextlib.suppress(OSError):
                if os.path.samefile(source, path):
                    raise OutputError(f"{path} is also the input; write the {what} to another file")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{path} is read-only; choose another output file")
    parent = next(p for p in (path.parent, *path.parent.parents, Path(".")) if p.is_dir())
    if not _writable(parent):
        raise OutputError(f"{parent} is not writable; write the {what} somewhere else")
    return path


def _check_parents(path: Path) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{path}: {parent} is a file, so nothing can be written below it; choose another path")
            return


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold ``folder``'s lock for the block; another holder makes this raise OutputError at once."""
    folder = Path(folder)
    lock_path = folder / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise _os_error(folder, exc) from exc
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows: no flock; the policy checks still apply
            pass
        except BlockingIOError:
            raise OutputError(
                f"{folder} is in use by another tunesmith run (it holds {LOCK_NAME}); wait for it to finish, "
                "or choose another output folder"
            ) from None
        yield folder
    finally:
        os.close(fd)  # the lock goes with the descriptor (and with the process, however it ends)


def _os_error(path: Path, exc: OSError) -> OutputError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"{path} is not writable ({exc.strerror}); choose an output folder you can write to (-o)")
    if exc.errno == errno.ENOSPC:
        return OutputError(f"disk full: cannot create anything in {path}; free some space and run again")
    return OutputError(f"cannot write into {path} ({exc.strerror or exc}); choose another output folder (-o)")


@contextlib.contextmanager
def output_dir(path: str | os.PathLike, kind: str, *, force: bool = False, lock: bool = True) -> Iterator[Path]:
    """Claim ``path`` for a run of ``kind`` (see the module docstring): checked, created, locked for the block."""
    spec = KINDS[kind]
    path = check_output_dir(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(path, exc) from exc
    with folder_lock(path) if lock else contextlib.nullcontext(path):
        found = folder_kind(path)
        if not force and found != kind:
            others = foreign_files(path, spec) if found is None else []
            if found is not None or others:
                listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
                what = f"holds a {found}" if found else f"holds other files ({listed})"
                raise OutputError(
                    f"{path} {what}, not a {kind}; choose an empty or new folder for the output, "
                    f"or pass --force to write the {kind} there anyway (only {kind} files are ever replaced)"
                )
        yield path


def remove_own_files(folder: str | os.PathLike, kind: str, keep: Iterable[str] = ()) -> list[str]:
    """Delete the files of ``kind`` in ``folder`` except ``keep``; files of other names stay."""
    import shutil

    folder, spec, keep = Path(folder), KINDS[kind], set(keep)
    removed = []
    for p in sorted(folder.iterdir()) if folder.is_dir() else []:
        if p.name in keep or not spec.owns(p.name):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)
        removed.append(p.name)
    return removed
