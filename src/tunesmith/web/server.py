"""The local web studio: one page over the library (generate, train, audio model, pipeline).

Thin on purpose: every action is one library call. The server only checks uploads (size, type by
content, safe names), runs long calls as background jobs, and serves result files from inside its
work folder. ``create_app(workdir)`` builds the FastAPI app from the route modules (``web/routes/``:
files, melody, audio, jobs), each handed the one ``Studio`` (``web/studio.py``) as a dependency;
``serve()`` runs it with uvicorn. Request bodies are built from the settings dataclasses (``web/requests.py``).

Training data comes from uploads, and from folders on this computer only under the one folder the user
named when starting the server (``tunesmith web --data-root DIR``); without it the folder field is off.
A folder is resolved (symlinks followed) and must stay inside that root.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from tunesmith.core.errors import TunesmithError
from tunesmith.web.helpers import LOCAL_HOSTS, STATIC, GuardRequests, LimitBody, inside, plain, safe_name
from tunesmith.web.jobs import INTERNAL_ERROR
from tunesmith.web.studio import Studio, problem

__all__ = ["create_app", "inside", "plain", "safe_name", "serve"]


def create_app(
    workdir: Path,
    max_upload_mb: float = 50.0,
    models_dir: Path | None = None,
    *,
    keep_results: int = 100,
    max_work_mb: float = 2000.0,
    allowed_hosts: list[str] | tuple[str, ...] = (),
    data_root: str | os.PathLike | None = None,
) -> FastAPI:
    """The studio app, keeping uploads, jobs and (unless ``models_dir``) trained models under ``workdir``.

    ``keep_results`` and ``max_work_mb`` bound the work folder (oldest results go first); requests must name
    this machine in their Host header (127.0.0.1, localhost, [::1] or one of ``allowed_hosts``).
    ``data_root``: the one folder whose sub-folders the page may train on; None (the default): uploads only.
    """
    studio = Studio(
        Path(workdir),
        max_upload_mb,
        models_dir,
        keep_results=keep_results,
        max_work_mb=max_work_mb,
        data_root=Path(data_root) if data_root else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        studio.runner.shutdown()

    # no /api/docs: FastAPI's docs page loads its scripts from a CDN, and the studio fetches nothing
    app = FastAPI(title="tunesmith studio", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.studio = studio
    app.add_middleware(LimitBody, max_bytes=studio.max_bytes)
    app.add_middleware(GuardRequests, allowed_hosts={*LOCAL_HOSTS, *allowed_hosts})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": plain(str(exc.detail))}, status_code=exc.status_code)

    @app.exception_handler(TunesmithError)
    async def _library_error(request: Request, exc: TunesmithError):
        return JSONResponse({"error": plain(str(exc))}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError):
        return JSONResponse({"error": f"bad request: {'; '.join(problem(e) for e in exc.errors())}"}, status_code=422)

    @app.middleware("http")
    async def _never_crash(request: Request, call_next):
        try:
            return await call_next(request)
        except Exception:  # the page shows a plain message; the details go to the terminal
            traceback.print_exc()
            return JSONResponse({"error": INTERNAL_ERROR}, status_code=500)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    from tunesmith.web.routes import audio, files, jobs, melody

    for routes in (files, melody, audio, jobs):
        app.include_router(routes.router)
    return app


def _machine_names(host: str) -> list[str]:
    """Names a browser may use for this machine when the studio listens on every interface."""
    import socket

    if host not in ("0.0.0.0", "::", ""):
        return [host]
    names = {socket.gethostname(), socket.getfqdn()}
    with contextlib.suppress(OSError):
        names |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    return sorted(names)


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    max_upload_mb: float = 50.0,
    workdir: str | os.PathLike | None = None,
    models_dir: str | os.PathLike | None = None,
    keep_results: int = 100,
    max_work_mb: float = 2000.0,
    data_root: str | os.PathLike | None = None,
) -> None:
    """Run the studio with uvicorn (local only by default); ``workdir`` defaults to ~/.tunesmith/studio.

    ``data_root``: the folder whose sub-folders the page may train on (default: none, uploads only)."""
    import uvicorn

    workdir = Path(workdir) if workdir else Path(os.environ.get("TUNESMITH_HOME", Path.home() / ".tunesmith")) / "studio"
    app = create_app(
        workdir,
        max_upload_mb=max_upload_mb,
        models_dir=Path(models_dir) if models_dir else None,
        keep_results=keep_results,
        max_work_mb=max_work_mb,
        allowed_hosts=_machine_names(host),
        data_root=data_root,
    )
    folders = f"training folders under {Path(data_root).expanduser().resolve()}" if data_root else "training from uploads only"
    print(f"tunesmith studio: http://{host}:{port}/  (work folder {workdir}; {folders}; Ctrl+C stops it)")
    started = time.perf_counter()
    uvicorn.run(app, host=host, port=port, log_level="warning")
    print(f"studio stopped after {time.perf_counter() - started:.0f} s")
