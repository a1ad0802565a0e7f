"""Where corpus preparation runs its per-file work: inline, local processes, or Ray tasks (one machine or a cluster).

Every engine maps one picklable function over an iterator of work items and yields the results as they finish
(not in order). At most ``in_flight`` items are submitted at a time, so memory stays bounded however long the
iterator is, and the iterator itself (which hashes files) is consumed lazily, overlapping with the work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from itertools import islice

from tunesmith.core.errors import Cancelled, TunesmithError

ENGINES = ("process", "ray")


class Engine:
    """Runs ``fn`` over items; ``parallelism`` is how many items run at once (to size chunks)."""

    parallelism = 1
    stop_event = None

    def map_unordered(self, fn: Callable, items: Iterable) -> Iterator:
        for item in items:
            if self.stop_event is not None and self.stop_event.is_set():
                raise Cancelled("stopped")
            yield fn(item)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _worker_init(parent: int) -> None:
    """Workers ignore Ctrl-C (the parent decides, saves what is done and stops them: no traceback per worker)
    and die with their parent: a parent killed with SIGKILL must not leave them blocked on the task queue.
    SIGTERM ends them: a worker forked from a server (uvicorn) would otherwise keep the server's own handler."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with(parent)


def _die_with(parent: int) -> None:
    """SIGKILL this process when ``parent`` ends: prctl(PR_SET_PDEATHSIG) on Linux, else a watching thread."""
    import sys
    import threading
    import time

    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent and not _alive(parent):
        os._exit(1)  # the parent died before the line above took effect

    def watch() -> None:  # for a forkserver/spawn parent that is not our direct parent, and other systems
        while _alive(parent):
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="tunesmith-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ProcessEngine(Engine):
    """A local process pool; the default engine. Setting ``stop_event`` stops the work within a fraction of a
    second: the map raises :class:`tunesmith.core.errors.Cancelled` and ``close`` ends the workers (SIGTERM)."""

    def __init__(self, workers: int, stop_event=None):
        self.parallelism = workers
        self.stop_event = stop_event
        self.pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(os.getpid(),))

    def _stopped(self) -> bool:
        return self.stop_event is not None and self.stop_event.is_set()

    def map_unordered(self, fn: Callable, items: Iterable) -> Iterator:
        items, pending = iter(items), set()
        try:
            while True:
                if self._stopped():
                    raise Cancelled("stopped: the workers are ended")
                pending |= {self.pool.submit(fn, item) for item in islice(items, 2 * self.parallelism - len(pending))}
                if not pending:
                    return
                done, pending = wait(pending, timeout=0.2 if self.stop_event is not None else None, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        if self._stopped():  # a stopped run does not wait for the files in the workers' hands
            for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                with contextlib.suppress(OSError):
                    process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)


def import_ray():
    """Ray is an optional extra; say how to get it rather than fail with a bare ImportError."""
    try:
        import ray
    except ImportError as exc:
        raise TunesmithError(
            "the Ray engine needs Ray: pip install 'tunesmith[ray]' (or pip install 'ray>=2.9'), or use --engine process"
        ) from exc
    return ray


def _apply(fn: Callable, item):
    """Ray decorates plain functions only; this one runs any picklable callable (a partial) as a task."""
    return fn(item)


class RayEngine(Engine):
    """Ray tasks: a local Ray started for this run, or an existing cluster (``address`` or ``$RAY_ADDRESS``).

    Workers read the files by path, so on a cluster the corpus folder must be on storage every node sees
    and tunesmith must be installed on every node.
    """

    def __init__(self, workers: int | None, address: str | None = None):
        ray = self.ray = import_ray()
        address = address or os.environ.get("RAY_ADDRESS") or None
        self.started_here = not ray.is_initialized()
        if self.started_here and address is None:
            # "local" rather than None: never attach by accident to the last cluster started on this machine
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a local run sends nothing anywhere
            # recent Ray (2.60 here) turns on token auth for a new local cluster and warns about it: right, not news
            logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
            ray.init(
                address="local",
                num_cpus=workers or os.cpu_count() or 1,
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
        elif self.started_here:
            _connect(ray, address)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.parallelism = min(workers, cpus) if workers and address else cpus
        self.address = address or "local"

    def map_unordered(self, fn: Callable, items: Iterable) -> Iterator:
        ray = self.ray
        task, fn_ref = ray.remote(num_cpus=1, max_retries=2)(_apply), ray.put(fn)
        items, pending = iter(items), []
        try:
            while True:
                pending += [task.remote(fn_ref, item) for item in islice(items, 2 * self.parallelism - len(pending))]
                if not pending:
                    return
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()


def _connect(ray, address: str) -> None:
    """Join an existing cluster; a failure says what to check instead of Ray's long traceback."""
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except Exception as exc:  # ConnectionError, AuthenticationError, RuntimeError, ... depending on the Ray version
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise TunesmithError(
            f"could not join the Ray cluster at {address} ({type(exc).__name__}: {first}). Check that `ray start --head` "
            "runs there and that the address is its HOST:PORT (port 6379 by default). A cluster with token authentication "
            "(the default of recent Ray) also needs RAY_AUTH_MODE=token here and its token in ~/.ray/auth_token or "
            "$RAY_AUTH_TOKEN (see docs/cluster.md)"
        ) from exc


def open_engine(engine: str, workers: int | None, ray_address: str | None = None, stop_event=None) -> Engine:
    """The engine by name; one worker runs inline (no processes to start). ``stop_event`` (a threading.Event)
    stops the process engine's map promptly (Cancelled) and ends its workers."""
    if engine == "ray":
        return RayEngine(workers, ray_address)
    if engine != "process":
        raise TunesmithError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    if ray_address:
        raise TunesmithError("--ray-address needs --engine ray")
    workers = workers or os.cpu_count() or 1
    if workers > 1:
        return ProcessEngine(workers, stop_event)
    inline = Engine()
    inline.stop_event = stop_event
    return inline
