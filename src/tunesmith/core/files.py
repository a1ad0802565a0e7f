"""Atomic file writes: a reader never sees a half-written file, a crash leaves the old one intact.

Every temp file is hidden in the target's folder and carries its writer's pid (``.NAME.PID-XXXX.tmp.SUFFIX``),
so the temp files of a killed writer are told apart from a live one's and deleted by the next run.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tunesmith.core.errors import DiskFullError

TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[^.]*\.tmp")
FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in FULL


def disk_full_error(path: str | os.PathLike, kept: str | None = None) -> DiskFullError:
    """The one "disk full" message: the path, the space left there, and what was kept."""
    path = Path(path)
    where = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    try:
        free = f"{shutil.disk_usage(where).free / 2**20:.1f} MB free"
    except OSError:
        free = "no space left"
    kept = kept or f"the previous {path.name}, if any, is kept whole"
    error = DiskFullError(f"disk full while writing {path} ({free} there); free some space and run again ({kept})")
    error.path = path
    return error


def temp_path(path: str | os.PathLike, suffix: str | None = None) -> Path:
    """A new empty hidden temp file beside ``path``, named with this process's pid (see remove_stale_temps)."""
    path = Path(path)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results should be readable like any new file
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, kept: str | None = None) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success fsync it and rename it over ``path``.

    A full disk raises DiskFullError naming ``path`` (``kept`` says what stayed whole, for the message).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, name=path.name)  # a killed earlier writer of this very file
    tmp_path = temp_path(path)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
        fsync_dir(path.parent)  # make the rename durable too
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise disk_full_error(path, kept) from exc
        raise
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def fsync_dir(directory: str | os.PathLike) -> None:
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temps(directory: str | os.PathLike, name: str | None = None, *, legacy: bool = False) -> list[Path]:
    """Delete temp files that a killed writer left in ``directory`` (of the file ``name`` only, if given).

    A temp file whose writer (the pid in its name) still runs is left alone, so this is safe beside
    a concurrent run. ``legacy``: also delete pid-less ``.*.tmp*`` files (older versions' temps); only in
    a folder that is wholly tunesmith's (a corpus, a model), where no other program's hidden files live.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    pattern = f".{glob_escape(name)}.*.tmp*" if name else ".*.tmp*"
    stale = []
    for p in directory.glob(pattern):
        match = TEMP_NAME.match(p.name)
        if (match and _alive(int(match["pid"]))) or (not match and not legacy):
            continue
        if p.is_file() or p.is_symlink():
            p.unlink(missing_ok=True)
            stale.append(p)
    return stale


def glob_escape(text: str) -> str:
    import glob

    return glob.escape(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
