"""Background jobs with a history on disk: long work (generation, training, audio, the pipeline) runs on
thread pools so the web server keeps answering, and every job is kept as ``<store>/<id>.json`` (written
atomically) so a page reload or a server restart finds its results, its progress and its log again.

A job that was queued or running when the server stopped is marked ``interrupted`` when it starts again.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.core.errors import Cancelled, TunesmithError
from tunesmith.core.files import write_json

MAX_LOG_ROWS = 2000  # rows kept per job for the live loss curve
SAVE_EVERY = 1.0  # seconds between progress writes of a running job (status changes are written at once)
ACTIVE = ("queued", "running")
INTERNAL_ERROR = "something went wrong inside the studio; the terminal running `tunesmith web` shows the details"


@dataclass
class Job:
    """One unit of background work: status, progress in [0, 1], log rows, result or error, warnings, cancel flag.

    ``warnings`` are what the library said along the way (a primer moved by octaves, cut to its last bars...):
    the page shows them with the result, not only the terminal running the studio."""

    kind: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "queued"  # queued | running | done | error | cancelled | interrupted
    progress: float = 0.0
    message: str = ""
    log: list[dict] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    params: dict = field(default_factory=dict)  # what was asked (shown in the history)
    warnings: list[str] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    finished: float | None = None
    stop_event: threading.Event = field(default_factory=threading.Event, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    saver: Callable[[Job, bool], None] | None = field(default=None, repr=False)

    def update(self, progress: float | None = None, message: str | None = None, row: dict | None = None) -> None:
        """Thread-safe progress report from the worker (written to disk at most once a second)."""
        with self.lock:
            if progress is not None:
                self.progress = min(1.0, max(0.0, float(progress)))
            if message is not None:
                self.message = message
            if row is not None and len(self.log) < MAX_LOG_ROWS:
                self.log.append(row)
        if self.saver:
            self.saver(self, False)

    def warn(self, *messages: str) -> None:
        """Add warnings for the page (each once, in order)."""
        with self.lock:
            for message in messages:
                if message and message not in self.warnings:
                    self.warnings.append(message)
        if self.saver:
            self.saver(self, True)

    @property
    def cancelled(self) -> bool:
        return self.stop_event.is_set()

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def to_dict(self, since: int = 0) -> dict:
        """JSON view; ``since`` skips log rows the page already has."""
        with self.lock:
            return {
                "id": self.id,
                "kind": self.kind,
                "status": self.status,
                "progress": self.progress,
                "message": self.message,
                "log": self.log[since:],
                "log_total": len(self.log),
                "result": self.result,
                "error": self.error,
                "params": self.params,
                "warnings": list(self.warnings),
                "created": self.created,
                "finished": self.finished,
            }

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        keys = (
            "kind",
            "id",
            "status",
            "progress",
            "message",
            "log",
            "result",
            "error",
            "params",
            "warnings",
            "created",
            "finished",
        )
        return cls(**{k: data[k] for k in keys if k in data})


class JobRunner:
    """``submit(kind, fn)`` runs ``fn(job)`` on a worker thread; ``fn``'s return value becomes ``job.result``.

    Two pools, so that a quick generation never waits behind two long trainings. ``plain`` turns an error
    message into what the page may show (the studio strips server paths), ``public`` does the same for a result
    before it is stored and served; ``on_finish(job)`` runs after each job.
    """

    def __init__(
        self,
        store: Path,
        workers: int = 2,
        quick_workers: int = 2,
        plain: Callable[[str], str] = str,
        on_finish: Callable[[Job], None] | None = None,
        public: Callable[[Any], Any] | None = None,
    ):
        self.store = Path(store)
        self.store.mkdir(parents=True, exist_ok=True)
        self.pools = {
            False: ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tunesmith-job"),
            True: ThreadPoolExecutor(max_workers=quick_workers, thread_name_prefix="tunesmith-quick"),
        }
        self.plain = plain
        self.public = public  # what a result may hold when stored and served (the studio: no server paths)
        self.on_finish = on_finish
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self._saved: dict[str, float] = {}
        self._load()

    # --- the history on disk -------------------------------------------------------------------
    def _load(self) -> None:
        """Read the history; jobs that were active when the last server stopped are marked interrupted."""
        for path in sorted(self.store.glob("*.json")):
            try:
                job = Job.from_dict(json.loads(path.read_text()))
            except (OSError, ValueError, TypeError, KeyError):
                continue  # a damaged entry is skipped, never fatal
            if job.status in ACTIVE:
                job.status, job.finished = "interrupted", time.time()
                job.message = "the studio stopped while this job ran; start it again"
                self.save(job)
            self.jobs[job.id] = job

    def save(self, job: Job, force: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self._saved.get(job.id, 0.0) < SAVE_EVERY:
            return
        self._saved[job.id] = now
        try:
            write_json(self.store / f"{job.id}.json", job.to_dict())
        except (OSError, TunesmithError) as exc:  # a full disk must not stop the job itself
            print(f"note: job {job.id} not written to the history ({exc})")

    def forget(self, job_id: str) -> None:
        """Drop a finished job from the history (memory and disk)."""
        with self.lock:
            self.jobs.pop(job_id, None)
        self._saved.pop(job_id, None)
        (self.store / f"{job_id}.json").unlink(missing_ok=True)

    # --- running ---------------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        fn: Callable[[Job], Any],
        params: dict | None = None,
        quick: bool = False,
        warnings: list[str] | None = None,
    ) -> Job:
        job = Job(kind, params=params or {}, warnings=list(warnings or []), saver=self.save)
        with self.lock:
            self.jobs[job.id] = job
        self.save(job)
        self.pools[quick].submit(self._run, job, fn)
        return job

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def list(self) -> list[Job]:
        """All jobs in the history, newest first."""
        with self.lock:
            return sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)

    def cancel(self, job_id: str) -> Job | None:
        job = self.get(job_id)
        if job is not None and job.active:
            job.stop_event.set()
            with job.lock:
                if job.status == "queued":
                    job.status, job.finished, job.message = "cancelled", time.time(), "cancelled before it started"
            job.update(message="cancelling…" if job.status == "running" else None)
            self.save(job)
        return job

    def shutdown(self) -> None:
        for job in self.list():
            job.stop_event.set()
        for pool in self.pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: Job, fn: Callable[[Job], Any]) -> None:
        with job.lock:
            if job.status == "cancelled":
                return
            job.status = "running"
        self.save(job)
        message = None
        try:
            result = fn(job)
            status, error = ("cancelled" if job.cancelled else "done"), None
        except Cancelled as exc:
            result, status, error, message = None, "cancelled", None, self.plain(str(exc))
        except TunesmithError as exc:
            result, status, error = None, "error", self.plain(str(exc))
        except Exception:  # a job must never take the server down; the page shows a plain message
            traceback.print_exc()
            result, status, error = None, "error", INTERNAL_ERROR
        if self.public is not None and result is not None:
            try:
                result = self.public(result)
            except Exception:
                traceback.print_exc()
                result, status, error = None, "error", INTERNAL_ERROR
        with job.lock:
            job.result, job.status, job.error, job.finished = result, status, error, time.time()
            if message:
                job.message = message
            if status == "done":
                job.progress = 1.0
        self.save(job)
        if self.on_finish:
            try:
                self.on_finish(job)
            except Exception:
                traceback.print_exc()
