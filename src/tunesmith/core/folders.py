"""Where a run may write: one policy for every output path, checked before any work starts.

* A run that fills a folder (``prepare``, ``melody``/``audio train``, ``melody``/``audio generate``, ``pipeline``,
  ``evaluate``, ``compare``, ``demo``) writes only into a folder that is new, empty, or already its own kind of
  output. A kind is recognised by its marker file's content, never by a file name alone: ``corpus.json`` (or
  ``parts/state.json``) that prepare wrote, a model's ``config.json``, ``generation.json``, the pipeline's
  ``results.json``, an evaluation's ``report.json`` / ``audio_report.json``, ``compare.json``, ``demo.json``, each
  with its ``"kind"`` (or the keys older versions wrote). A generation folder is also recognised by holding
  only names that kind writes (``melody_01.mid``). Anything else is refused; ``force=True`` (``--force``) writes
  there anyway. Either way a run deletes or replaces only files with its own kind's names (``melody_03.mid`` of an
  earlier ``-n 4``, the pipeline's ``index.html``), never anything else.
* A trained model is never replaced by a new training run: continue it (``resume``) or start over (``force``).
* A command that writes one file (render, transcribe, score, export, harmonize, plot, spectrogram, video) needs
  that file's suffix and never replaces its own input. An existing file at that path is not replaced unless
  ``force=True`` (``--force``): "PATH exists; pass --force to replace it, or choose another name". Inside a
  folder that a run has claimed (above), that run's folder policy applies to the files it writes there.
* One run per output at a time: a folder's lock file (``.tunesmith.lock``), a single file's hidden
  ``.NAME.tunesmith.lock`` beside it (removed at the end), each an flock held for the run; a second run at the
  same folder or file is refused at once. The operating system drops a lock when its process ends, killed or not.
* Every file is written atomically (``tunesmith.core.files``): a temp file beside it, renamed over it when whole.
* ``-o`` that is a file where a folder is needed (or a folder where a file is), lies under a file, or is not
  writable is refused before any work, with the path in the message.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tunesmith.core.errors import OutputError

LOCK_NAME = ".tunesmith.lock"
FILE_LOCK_SUFFIX = ".tunesmith.lock"  # a single file's lock: .NAME.tunesmith.lock beside it


@dataclass(frozen=True)
class Kind:
    """One kind of output folder: its name for messages and the file names it writes (regexes, whole name).

    ``marker``: the JSON file whose ``"kind"`` (or, from older versions, all of ``marker_keys``) says a folder is of
    this kind; a kind with a marker is recognised by it alone, so a user's ``index.html`` is never taken for ours.
    """

    name: str
    names: tuple[str, ...]
    marker: str | None = None
    marker_keys: tuple[str, ...] = ()

    def owns(self, name: str) -> bool:
        return any(re.fullmatch(pattern, name) for pattern in self.names)

    def marks(self, folder: Path) -> bool:
        """Whether ``folder``'s marker file is this kind's (read, not guessed from its name)."""
        data = _read_json(folder / self.marker) if self.marker else None
        if not isinstance(data, dict):
            return False
        if "kind" in data:
            return data["kind"] == self.name
        return bool(self.marker_keys) and all(k in data for k in self.marker_keys)


SHARD = r"(train|eval)-\d{5}\.(events\.npy|offsets\.npy|steps_per_bar\.npy|steps_per_beat\.npy|sources\.json)"
# parts/ counts by its state.json (see folder_kind)
CORPUS = Kind("corpus", (SHARD, r"corpus\.json", r"\.corpus-staging", r"parts"), "corpus.json", ("files_found", "shards"))
MODEL_FILES = (r"model\.safetensors", r"config\.json", r"train_state\.safetensors", r"log\.jsonl", r"plots")
MELODY_MODEL = Kind("melody model", (*MODEL_FILES, r"corpus"))
AUDIO_MODEL = Kind("audio model", MODEL_FILES)
MELODY_OUTPUT = r"melody_\d+(_[A-Za-z0-9-]+)?\.(mid|wav|flac|ogg|html|png|mp4|svg|abc|musicxml)"  # melody_03_guitar.wav
# static/: the bokeh JS the piano-roll pages share (core.figures.share_bokeh_js)
MELODY_GENERATION = Kind("melody generation", (MELODY_OUTPUT, r"generation\.json", r"static"))
AUDIO_GENERATION = Kind("audio generation", (r"output_\d+\.(wav|png)", r"seed\.png", r"generation\.json"))
PIPELINE = Kind(
    "pipeline",
    (
        r"seed\.wav",
        r"(seed|regenerated)_spectrogram\.png",
        r"regenerated",
        r"audio-model",
        r"primer\.(mid|html|png|svg)",
        MELODY_OUTPUT,
        r"generation\.json",
        r"static",
        r"index\.html",
        r"results\.json",
    ),
    "results.json",
    ("clip", "settings", "melodies"),
)
MELODY_EVALUATION = Kind("melody evaluation", (r"report\.json", r"report\.html"), "report.json", ("likelihood", "comparison"))
AUDIO_EVALUATION = Kind(
    "audio evaluation", (r"output_\d+\.wav", r"audio_report\.json"), "audio_report.json", ("seed_clip", "goals_met")
)
# a comparison's sub-folders are named after its models: each is a melody evaluation, claimed on its own
COMPARISON = Kind("model comparison", (r"compare\.md", r"compare\.json"), "compare.json", ("models", "n"))
DEMO = Kind("demo", (r"primer_\d+", r"static", r"index\.html", r"demo\.json"), "demo.json")
KINDS = {
    k.name: k
    for k in (
        CORPUS,
        MELODY_MODEL,
        AUDIO_MODEL,
        MELODY_GENERATION,
        AUDIO_GENERATION,
        PIPELINE,
        MELODY_EVALUATION,
        AUDIO_EVALUATION,
        COMPARISON,
        DEMO,
    )
}


# files that say whose a folder is: one that is there but not recognised (folder_kind) is a file of the user's
MARKERS = (*(k.marker for k in KINDS.values() if k.marker), "config.json", "generation.json")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (json.JSONDecodeError, OSError, UnicodeDecodeError):
        return None


def _hidden(name: str) -> bool:
    """Our lock and temp files, and the file managers' litter: never a reason to refuse a folder."""
    if name == LOCK_NAME or name.startswith(".") and (".tmp" in name or name.endswith(FILE_LOCK_SUFFIX)):
        return True
    return name in (".DS_Store", "Thumbs.db", "desktop.ini")


def folder_kind(folder: str | os.PathLike) -> str | None:
    """The kind of output ``folder`` holds, from its marker file's content or else its file names; None: not ours (or empty)."""
    folder = Path(folder)
    for kind in KINDS.values():  # the pipeline's results.json first: its folder holds a generation.json too
        if kind.marker and kind.marks(folder):
            return kind.name
    state = _read_json(folder / "parts" / "state.json")  # an interrupted prepare: no corpus.json yet
    if isinstance(state, dict) and {"format", "extraction", "settings"} <= state.keys():
        return CORPUS.name
    config = folder / "config.json"
    if config.is_file():
        data = _read_json(config)
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind == "polyphonic":  # the polyphonic model (melody/polyphonic.py) keeps a melody model's files
            return MELODY_MODEL.name
        return f"{kind} model" if kind in ("melody", "audio") else None
    generation = folder / "generation.json"
    if generation.is_file():
        data = _read_json(generation)
        if not isinstance(data, dict):
            return None
        if data.get("kind") in (MELODY_GENERATION.name, AUDIO_GENERATION.name):
            return data["kind"]
        if "primer_events" in data:  # written before generation.json had its "kind"
            return MELODY_GENERATION.name
        return AUDIO_GENERATION.name if {"seed_clip", "outputs"} <= data.keys() else None
    names = [p.name for p in folder.iterdir() if not _hidden(p.name)] if folder.is_dir() else []
    if not names:
        return None
    by_names = (k for k in KINDS.values() if not k.marker)  # a kind with a marker is known by it alone
    return next((k.name for k in by_names if all(k.owns(n) for n in names)), None)


def foreign_files(folder: Path, kind: Kind) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not _hidden(p.name) and not kind.owns(p.name))


# --- what this run holds ----------------------------------------------------------------------------
# The folders and files this thread's run has claimed (output_dir, output_file): a nested claim of the same path
# (the pipeline's folder, then the generation inside it) is the same run, not a second one; a file written
# inside a claimed folder follows that folder's policy. Threads (the web studio's jobs) each start with none.
_CLAIMED: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("tunesmith_claimed", default=())


def _key(path: Path) -> str:
    return os.path.realpath(path)


def claimed(path: str | os.PathLike, *, within: bool = False) -> bool:
    """Whether this run holds ``path`` (``within``: or a folder above it)."""
    key = _key(Path(path))
    return any(key == c or within and key.startswith(c.rstrip(os.sep) + os.sep) for c in _CLAIMED.get())


@contextlib.contextmanager
def _claim(path: Path) -> Iterator[None]:
    token = _CLAIMED.set((*_CLAIMED.get(), _key(path)))
    try:
        yield
    finally:
        _CLAIMED.reset(token)


# --- checks -----------------------------------------------------------------------------------------
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


def exists_error(path: Path) -> OutputError:
    return OutputError(f"{path} exists; pass --force to replace it, or choose another name")


def check_output_file(
    path: str | os.PathLike, suffixes: Iterable[str], *, inputs: Iterable = (), what: str = "output", force: bool = False
) -> Path:
    """Refuse, before any work, an output file path with the wrong suffix, that is a folder, under a file,
    not writable, one of the ``inputs``, or (unless ``force``, or inside a folder this run claimed) that exists."""
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
    if (path.exists() or path.is_symlink()) and not force and not claimed(path, within=True):
        raise exists_error(path)
    return path


def _check_parents(path: Path) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{path}: {parent} is a file, so nothing can be written below it; choose another path")
            return


def _make_folder(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents; returns those created (deepest first), to remove after a failure."""
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(path, exc) from exc
    return created


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed run created, where they hold nothing (or only a lock no other run holds)."""
    for folder in folders:
        with contextlib.suppress(OSError):
            if [p.name for p in folder.iterdir()] == [LOCK_NAME]:
                fd = os.open(folder / LOCK_NAME, os.O_RDWR)
                try:
                    if _flock(fd):
                        (folder / LOCK_NAME).unlink()
                finally:
                    os.close(fd)
            folder.rmdir()


def write_marker(folder: str | os.PathLike, kind: str) -> None:
    """Write ``kind``'s marker file in ``folder`` (``{"kind": ..., "complete": false}``) unless it is there: a run
    of several stages writes it before its first file, so a run stopped half-way is still known as this kind's."""
    from tunesmith.core.files import write_json

    spec = KINDS[kind]
    if spec.marker and not spec.marks(Path(folder)):
        write_json(Path(folder) / spec.marker, {"kind": spec.name, "complete": False})


# --- locks ------------------------------------------------------------------------------------------
def _flock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; False if another holder has it."""
    try:
        import fcntl
    except ImportError:  # Windows: a byte-range lock on the file's first byte, held until the descriptor closes
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold ``folder``'s lock for the block; another holder makes this raise OutputError at once.

    Claimed already by this run (``output_dir`` of the same folder, nested): the block runs under that lock."""
    folder = Path(folder)
    if claimed(folder):
        yield folder
        return
    lock_path = folder / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise _os_error(folder, exc) from exc
    try:
        if not _flock(fd):
            raise OutputError(
                f"{folder} is in use by another tunesmith run (it holds {LOCK_NAME}); wait for it to finish, "
                "or choose another output folder"
            ) from None
        yield folder
    finally:
        os.close(fd)  # the lock goes with the descriptor (and with the process, however it ends)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of the single output file ``path`` (``.NAME.tunesmith.lock`` beside it) for the block;
    another holder makes this raise OutputError at once. The lock file is removed at the end. Claimed already
    by this run (``output_file`` of the same path, nested): the block runs under that lock."""
    path = Path(path)
    if claimed(path):
        yield path
        return
    lock_path = path.parent / f".{path.name}{FILE_LOCK_SUFFIX}"
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise _os_error(path.parent, exc) from exc
        if not _flock(fd):
            os.close(fd)
            raise OutputError(f"{path} is being written by another tunesmith run; wait for it to finish, or choose another name")
        try:  # its last holder may have removed the lock file between our open and our lock: take the current one
            same = os.path.samestat(os.fstat(fd), os.stat(lock_path))
        except OSError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()  # while still held: a waiting run then finds the file gone and takes a new one
        os.close(fd)


def _os_error(path: Path, exc: OSError) -> OutputError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"{path} is not writable ({exc.strerror}); choose an output folder you can write to (-o)")
    if exc.errno == errno.ENOSPC:
        return OutputError(f"disk full: cannot create anything in {path}; free some space and run again")
    return OutputError(f"cannot write into {path} ({exc.strerror or exc}); choose another output folder (-o)")


# --- claims -----------------------------------------------------------------------------------------
@contextlib.contextmanager
def output_dir(path: str | os.PathLike, kind: str, *, force: bool = False, lock: bool = True) -> Iterator[Path]:
    """Claim ``path`` for a run of ``kind`` (see the module docstring): checked, created, locked for the block."""
    spec = KINDS[kind]
    path = check_output_dir(path)
    created = _make_folder(path)
    try:
        with folder_lock(path) if lock else contextlib.nullcontext(path):
            found = folder_kind(path)
            if not force and found != kind:
                others = []
                if found is None:  # a kind with a marker owns nothing in a folder without it: all is the user's
                    others = foreign_files(path, Kind("none", ())) if spec.marker else foreign_files(path, spec)
                    others = sorted({*others, *(n for n in MARKERS if (path / n).exists())})  # not ours by content
                if found is not None or others:
                    listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
                    what = f"holds a {found}" if found else f"holds other files ({listed})"
                    raise OutputError(
                        f"{path} {what}, not a {kind}; choose an empty or new folder for the output, "
                        f"or pass --force to write the {kind} there anyway (only {kind} files are ever replaced)"
                    )
            with _claim(path):
                yield path
    except BaseException:
        _remove_empty(created)  # a run refused or failed before writing: no empty folder left behind
        raise


@contextlib.contextmanager
def output_file(
    path: str | os.PathLike, suffixes: Iterable[str], *, inputs: Iterable = (), what: str = "output", force: bool = False
) -> Iterator[Path]:
    """Claim the single output file ``path`` for the block: checked (``check_output_file``), its folder created,
    locked against a second run at the same file. The caller writes it atomically (``tunesmith.core.files``)."""
    path = check_output_file(path, suffixes, inputs=inputs, what=what, force=force)
    created = _make_folder(path.parent)
    try:
        with file_lock(path):
            if path.exists() and not force and not claimed(path, within=True):
                raise exists_error(path)  # another run finished it between the check and the lock
            with _claim(path):  # what this run writes there itself (harmonize -> export) is the same run
                yield path
    except BaseException:
        _remove_empty(created)
        raise


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


def writes_file(suffixes: Iterable[str], *, what: str, path: str = "path", inputs: Iterable[str] = ("obj",), before=None):
    """Decorate a function that writes one output file: the call claims it first (``output_file``, before any work)
    and takes a keyword ``force`` (replace an existing file). ``path``/``inputs``: names of the function's arguments
    that hold the output path and what it reads; ``before(path)``: the function's own first check of the path."""
    import functools
    import inspect

    suffixes, inputs = tuple(suffixes), tuple(inputs)

    def wrap(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def run(*args, force: bool = False, **kwargs):
            bound = signature.bind_partial(*args, **kwargs).arguments
            if before is not None:
                before(Path(bound[path]))
            sources = [bound[name] for name in inputs if name in bound]
            with output_file(bound[path], suffixes, inputs=sources, what=what, force=force):
                return function(*args, **kwargs)

        params = list(signature.parameters.values())
        at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
        params.insert(at, inspect.Parameter("force", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=bool))
        run.__signature__ = signature.replace(parameters=params)
        return run

    return wrap
