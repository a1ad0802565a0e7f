"""Progress bars: tqdm on a terminal or in a notebook, silent in logs and with --quiet."""

from __future__ import annotations

import os
import sys

_QUIET = False


def set_quiet(quiet: bool) -> None:
    global _QUIET
    _QUIET = quiet


def progress_bar(total=None, desc="", unit="it", disable=False, **kwargs):
    from tqdm.auto import tqdm

    off = disable or _QUIET or os.environ.get("TUNESMITH_QUIET") == "1" or not _interactive()
    return tqdm(total=total, desc=desc, unit=unit, disable=off, dynamic_ncols=True, leave=False, **kwargs)


def _interactive() -> bool:
    if "ipykernel" in sys.modules:
        return True
    return sys.stderr.isatty()
