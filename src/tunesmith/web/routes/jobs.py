"""Job routes: the history, one job's progress and log, and Cancel."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query

from tunesmith.web.studio import Studio, current_studio

router = APIRouter()


@router.get("/api/jobs")
def job_list(limit: int = Query(50, ge=1, le=1000), studio: Studio = Depends(current_studio)):
    """The job history, newest first, without the log rows (the page asks each job for those)."""
    jobs = []
    for job in studio.runner.list()[:limit]:
        data = job.to_dict()
        data.pop("log")
        jobs.append(data)
    return {"jobs": jobs}


@router.get("/api/jobs/{job_id}")
def job_status(job_id: str, since: int = Query(0, ge=0), studio: Studio = Depends(current_studio)):
    job = studio.runner.get(job_id)
    if job is None:
        raise HTTPException(404, "no such job (the oldest results are removed to keep the work folder small)")
    return job.to_dict(since=since)


@router.post("/api/jobs/{job_id}/cancel")
def job_cancel(job_id: str, studio: Studio = Depends(current_studio)):
    job = studio.runner.cancel(job_id)
    if job is None:
        raise HTTPException(404, "no such job")
    return job.to_dict()
