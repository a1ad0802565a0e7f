"""A small background job runner: long work (training, audio generation, the pipeline) runs on a
thread pool so the web server keeps answering; the page polls ``JobRunner.get(id).to_dict()``."""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tunesmith.errors import TunesmithError

MAX_LOG_ROWS = 2000  # rows kept per job for the live loss curve


@dataclass
class Job:
    """One unit of background work: status, progress in [0, 1], log rows, result or error, cancel flag."""

    kind: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "queued"  # queued | running | done | error | cancelled
    progress: float = 0.0
    message: str = ""
    log: list[dict] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, progress: float | None = None, message: str | None = None, row: dict | None = None) -> None:
        """Thread-safe progress report from the worker."""
        with self.lock:
            if progress is not None:
                self.progress = min(1.0, max(0.0, float(progress)))
            if message is not None:
                self.message = message
            if row is not None and len(self.log) < MAX_LOG_ROWS:
                self.log.append(row)

    @property
    def cancelled(self) -> bool:
        return self.stop_event.is_set()

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
                "created": self.created,
                "finished": self.finished,
            }


class JobRunner:
    """``submit(kind, fn)`` runs ``fn(job)`` on a worker thread; ``fn``'s return value becomes ``job.result``."""

    def __init__(self, workers: int = 2, keep: int = 200):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tunesmith-job")
        self.jobs: dict[str, Job] = {}
        self.keep = keep
        self.lock = threading.Lock()

    def submit(self, kind: str, fn: Callable[[Job], Any]) -> Job:
        job = Job(kind)
        with self.lock:
            self.jobs[job.id] = job
            self._forget_old()
        self.pool.submit(self._run, job, fn)
        return job

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        job = self.get(job_id)
        if job is not None:
            job.stop_event.set()
            with job.lock:
                if job.status == "queued":
                    job.status, job.finished = "cancelled", time.time()
        return job

    def shutdown(self) -> None:
        for job in list(self.jobs.values()):
            job.stop_event.set()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: Job, fn: Callable[[Job], Any]) -> None:
        with job.lock:
            if job.status == "cancelled":
                return
            job.status = "running"
        try:
            result = fn(job)
            status, error = ("cancelled" if job.cancelled else "done"), None
        except TunesmithError as exc:
            result, status, error = None, "error", str(exc)
        except ImportError as exc:
            result, status, error = None, "error", f"this part of tunesmith is not installed yet ({exc})"
        except Exception as exc:  # a job must never take the server down; the page shows the message
            traceback.print_exc()
            result, status, error = None, "error", f"{type(exc).__name__}: {exc}"
        with job.lock:
            job.result, job.status, job.error, job.finished = result, status, error, time.time()
            if status == "done":
                job.progress = 1.0

    def _forget_old(self) -> None:
        finished = [j for j in self.jobs.values() if j.finished is not None]
        for job in sorted(finished, key=lambda j: j.created)[: max(0, len(self.jobs) - self.keep)]:
            self.jobs.pop(job.id, None)
