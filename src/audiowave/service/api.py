"""The HTTP API (FastAPI). Plain FastAPI so it runs under uvicorn in tests; Ray Serve wraps it as ingress."""

import asyncio
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, File, Form, Header, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from audiowave import __version__
from audiowave.api_models import AccountView, ConsentIn, ErasureView, FeedbackIn, JobView, TokenOut
from audiowave.audio_io import probe
from audiowave.config import Settings
from audiowave.errors import InputError, ModelUnavailableError
from audiowave.pipeline import STAGES, parse_stages
from audiowave.report.facts import facts_of
from audiowave.report.html import html_report
from audiowave.report.markdown import markdown_report
from audiowave.report.prose import compose_prose
from audiowave.schema import AnalysisResult
from audiowave.service.auth import AuthError, issue_token, user_for_key, user_for_token
from audiowave.service.db import Job, User
from audiowave.service.feedback import check_feedback
from audiowave.service.jobs import JobService, NotFound
from audiowave.service.outages import OUTAGES
from audiowave.service.privacy import account_info, erase_user, export_user, set_consent
from audiowave.service.services import Services

CHUNK = 1 << 20
log = logging.getLogger("audiowave.api")


class ApiError(HTTPException):
    def __init__(self, status: int, error: str, reason: str, headers: dict | None = None) -> None:
        super().__init__(status, detail={"error": error, "reason": reason}, headers=headers)


def job_view(job: Job, with_result: bool) -> JobView:
    links = {"self": f"/v1/analyze/{job.id}"}
    if job.status == "done":
        links.update({name: f"/v1/files/{job.id}/out/{name}" for name in sorted(job.artifacts or {})})
    return JobView(
        job_id=job.id,
        kind="recipe" if (job.options or {}).get("kind") == "suggest" else "analysis",
        source_job=(job.options or {}).get("source_job", ""),
        status=job.status,
        stage=job.stage,
        percent=job.percent,
        priority=job.priority,
        attempts=job.attempts,
        filename=job.filename,
        error=job.error,
        created_at=job.created_at.isoformat(),
        finished_at=job.finished_at.isoformat() if job.finished_at else None,
        links=links,
        result=job.result if with_result and job.status == "done" else None,
    )


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Audiowave API",
        version=__version__,
        description="Audio production forensics. Authenticate with `X-API-Key` or `Authorization: Bearer`.",
    )
    jobs = JobService(services)
    limits_settings = Settings(max_duration_s=services.settings.max_duration_s)

    @app.middleware("http")
    async def _measure(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        labels = {"endpoint": getattr(route, "path", "unmatched"), "method": request.method}
        elapsed = time.perf_counter() - started
        asyncio.get_running_loop().run_in_executor(None, _record, labels, str(response.status_code), elapsed)
        return response

    def _record(labels: dict[str, str], status: str, seconds: float) -> None:
        services.metrics.inc("audiowave_http_requests", {**labels, "status": status})
        services.metrics.observe("audiowave_http_request_duration_seconds", labels, seconds)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, dict) else {"error": "http_error", "reason": str(exc.detail)}
        return JSONResponse(detail, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    async def _dependency_down(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable: %s", exc)
        return JSONResponse(
            {"error": "unavailable", "reason": "a backing service is unavailable; retry shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    for outage in OUTAGES:
        app.add_exception_handler(outage, _dependency_down)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"error": "internal", "reason": f"internal error ({type(exc).__name__})"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": "invalid_request", "reason": reasons}, status_code=422)

    def current_user(
        x_api_key: Annotated[str | None, Header()] = None, authorization: Annotated[str | None, Header()] = None
    ) -> User:
        bearer = (authorization or "").removeprefix("Bearer ").strip()
        if not (x_api_key or bearer):
            raise ApiError(
                401, "unauthenticated", "send an API key in X-API-Key or a bearer token", {"WWW-Authenticate": "Bearer"}
            )
        with services.sessions() as session:
            try:
                if x_api_key or bearer.startswith("aw_"):
                    user = user_for_key(session, x_api_key or bearer)
                else:
                    user = user_for_token(session, bearer, services.jwt_secret)
            except AuthError as exc:
                raise ApiError(401, "unauthenticated", str(exc), {"WWW-Authenticate": "Bearer"}) from exc
            session.expunge(user)
        wait = services.limiter.hit(services.settings.rate_limit, "all", user.id)
        if wait:
            raise ApiError(
                429, "rate_limited", f"too many requests; retry in {wait:.0f} s", {"Retry-After": str(int(wait))}
            )
        return user

    UserDep = Annotated[User, Depends(current_user)]

    def owned_job(user: User, job_id: str) -> Job:
        try:
            return jobs.get(user, job_id)
        except NotFound as exc:
            raise ApiError(404, "not_found", f"no job {job_id}") from exc

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus metrics of the whole service (requests, jobs, stages, cost, queue), unauthenticated."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(services.metrics)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", tags=["operations"])
    def readyz() -> JSONResponse:
        checks = services.readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"ready": ok, "checks": checks},
            status_code=200 if ok else 503,
            headers=None if ok else {"Retry-After": "5"},
        )

    @app.post("/v1/token", response_model=TokenOut, tags=["auth"])
    def token(user: UserDep) -> TokenOut:
        """Exchange an API key for a 12-hour bearer token."""
        return TokenOut(access_token=issue_token(user, services.jwt_secret))

    @app.post("/v1/analyze", response_model=JobView, status_code=202, tags=["analysis"])
    def submit(
        request: Request,
        user: UserDep,
        file: Annotated[UploadFile | None, File(description="audio file")] = None,
        url: Annotated[str | None, Form(description="key of an object already in this service's storage")] = None,
        stages: Annotated[str, Form(description=f"comma list of {', '.join(STAGES)}; empty = all")] = "",
        priority: Annotated[Literal["high", "normal", "low"], Form()] = "normal",
        callback_url: Annotated[str, Form(max_length=500)] = "",
    ) -> JobView:
        """Queue an analysis of an uploaded file (multipart ``file``) or of a stored object (``url``)."""
        wait = services.limiter.hit(services.settings.submit_rate_limit, "submit", user.id)
        if wait:
            raise ApiError(
                429, "rate_limited", f"too many submissions; retry in {wait:.0f} s", {"Retry-After": str(int(wait))}
            )
        depth = services.queue.stats()["depth"]
        if depth >= services.settings.max_pending_jobs:
            raise ApiError(503, "overloaded", f"{depth} jobs pending; try again later", {"Retry-After": "30"})
        try:
            chosen = list(parse_stages([stages]))
        except InputError as exc:
            raise ApiError(422, "invalid_stages", str(exc)) from exc
        max_bytes = int(services.settings.max_upload_mb * 1024 * 1024)
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_bytes + 64 * 1024:
            raise ApiError(413, "too_large", f"upload over {services.settings.max_upload_mb:g} MB")
        with tempfile.TemporaryDirectory(prefix="aw-upload-") as tmp:
            local = Path(tmp) / "upload"
            if file is not None:
                filename = Path(file.filename or "upload").name
                _copy_limited(file, local, max_bytes, services.settings.max_upload_mb)
            elif url:
                filename = Path(url).name
                try:
                    if not url.startswith(f"{user.id}/"):
                        raise ApiError(403, "forbidden", "url must name one of your own stored objects")
                    services.store.get_file(url, local)
                except (FileNotFoundError, ValueError) as exc:
                    raise ApiError(404, "not_found", f"no stored object {url}") from exc
            else:
                raise ApiError(422, "no_input", "send a multipart 'file' or a storage 'url'")
            try:
                probe(local, limits_settings)
            except InputError as exc:
                reason = str(exc).replace(str(local.name), filename, 1)
                status = 413 if ("limit" in reason or "long" in reason) else 415
                raise ApiError(status, "bad_audio", reason) from exc
            job = jobs.submit(user, filename, local, chosen if stages else [], priority, callback_url)
        return job_view(job, with_result=False)

    @app.get("/v1/analyze/{job_id}", response_model=JobView, tags=["analysis"])
    def status(job_id: str, user: UserDep) -> JobView:
        """Status with stage and percent while running; the full result and file links when done."""
        return job_view(owned_job(user, job_id), with_result=True)

    @app.get("/v1/analyze/{job_id}/report", tags=["analysis"])
    def report(job_id: str, user: UserDep, format: Literal["md", "html"] = "html", prose: bool = False) -> Response:
        """The readable report (Markdown, or HTML with the pictures inlined), with the recipes made from this
        track so far; composed from the analysis by a template. ``prose=true`` adds an LLM paragraph when one is
        configured and every claim in it agrees with the analysis (header ``X-Audiowave-Prose`` says which)."""
        job = owned_job(user, job_id)
        if job.status != "done" or (job.options or {}).get("kind") == "suggest":
            raise ApiError(409, "not_ready", f"job {job_id} is not a finished analysis ({job.status})")
        result = AnalysisResult.model_validate(job.result)
        made = jobs.list(user, limit=500, kind="recipe")
        recipes = [j.result for j in made if (j.options or {}).get("source_job") == job_id and j.result]
        images: dict[str, bytes] = {}

        def link(path: str) -> str:
            if format == "html" and path in (job.artifacts or {}):
                images[path] = services.store.get_bytes(job.artifacts[path])
            return path if format == "html" else f"/v1/files/{job_id}/out/{path}"

        paragraph, writer_name, headers = "", "", {}
        if prose:
            try:
                writer = services.prose_writer
            except ModelUnavailableError as exc:
                writer, headers["X-Audiowave-Prose"] = None, f"unavailable: {exc}"
            if writer is None:
                headers.setdefault("X-Audiowave-Prose", "unavailable: no LLM configured (AUDIOWAVE_LLM_ENGINE)")
            else:
                written = compose_prose(facts_of(result), writer)
                paragraph, writer_name = written.text, written.writer
                note = f"{written.status}: {'; '.join(written.problems)}"[:500].rstrip(": ")
                headers["X-Audiowave-Prose"] = note.encode("ascii", "replace").decode("ascii")
        markdown = markdown_report(result, link, recipes, paragraph, writer_name)
        if format == "md":
            return Response(markdown, media_type="text/markdown; charset=utf-8", headers=headers)
        page = html_report(markdown, job.filename, images)
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    @app.get("/v1/analyze", response_model=list[JobView], tags=["analysis"])
    def list_jobs(
        user: UserDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
        kind: Annotated[Literal["", "analysis", "recipe"], Query(description="only analyses or recipes")] = "",
    ) -> list[JobView]:
        """Your jobs, newest first, ``limit`` at a time from ``offset`` (history paging)."""
        return [job_view(j, with_result=False) for j in jobs.list(user, limit, offset, kind)]

    @app.delete("/v1/analyze/{job_id}", tags=["analysis"])
    def delete(job_id: str, user: UserDep) -> dict:
        """Delete the job, its result, feedback and every stored file."""
        owned_job(user, job_id)
        removed = jobs.delete(user, job_id)
        return {"deleted": job_id, "objects_removed": removed}

    @app.get("/v1/files/{job_id}/{path:path}", tags=["analysis"])
    def file(job_id: str, path: str, user: UserDep) -> Response:
        job = owned_job(user, job_id)
        rel = path.removeprefix("out/")
        if rel not in (job.artifacts or {}):
            raise ApiError(404, "not_found", f"job {job_id} has no file {path}")
        data = services.store.get_bytes(job.artifacts[rel])
        media = {"png": "image/png", "flac": "audio/flac", "mid": "audio/midi", "vital": "application/json"}.get(
            rel.rsplit(".", 1)[-1]
        )
        return Response(data, media_type=media or "application/octet-stream")

    @app.post("/v1/feedback", status_code=201, tags=["feedback"])
    def feedback(body: FeedbackIn, user: UserDep) -> dict:
        """Store a correction or rating of one field of a result."""
        owned_job(user, body.job_id)
        problem = check_feedback(body.field, body.verdict, body.value)
        if problem:
            raise ApiError(422, "invalid_feedback", problem)
        fb = jobs.add_feedback(user, body.job_id, body.field, body.verdict, body.value, body.comment)
        return {"feedback_id": fb.id}

    @app.post("/v1/suggest", response_model=JobView, status_code=202, tags=["recipes"])
    def suggest(
        request: Request,
        user: UserDep,
        file: Annotated[UploadFile | None, File(description="a one-shot (or a track with start_s/end_s)")] = None,
        job_id: Annotated[str, Form(description="instead of a file: a finished analysis job of yours")] = "",
        stem: Annotated[str, Form(description="with job_id: that job's stem, e.g. 'bass'")] = "",
        start_s: Annotated[float | None, Form(ge=0)] = None,
        end_s: Annotated[float | None, Form(gt=0)] = None,
        budget_s: Annotated[float, Form(ge=1, le=60, description="search time budget")] = 10.0,
        priority: Annotated[Literal["high", "normal", "low"], Form()] = "normal",
    ) -> JobView:
        """Queue a sound-recreation recipe; poll ``GET /v1/suggest/{id}`` for the recipe, preview and Vital preset."""
        wait = services.limiter.hit(services.settings.submit_rate_limit, "submit", user.id)
        if wait:
            raise ApiError(
                429, "rate_limited", f"too many submissions; retry in {wait:.0f} s", {"Retry-After": str(int(wait))}
            )
        if start_s is not None and end_s is not None and end_s <= start_s:
            raise ApiError(422, "invalid_span", f"end_s ({end_s}) must be after start_s ({start_s})")
        options = {"kind": "suggest", "start_s": start_s, "end_s": end_s, "stem": stem, "budget_s": budget_s}
        if job_id:
            source = owned_job(user, job_id)
            if source.status != "done" or (source.options or {}).get("kind") == "suggest":
                raise ApiError(409, "not_ready", f"job {job_id} is not a finished analysis")
            stored = f"stems/{stem}.flac" if stem else None
            if stored and stored not in (source.artifacts or {}):
                have = sorted(
                    k.removeprefix("stems/").removesuffix(".flac")
                    for k in source.artifacts or {}
                    if k.startswith("stems/")
                )
                raise ApiError(
                    404, "no_stem", f"job {job_id} has no stem {stem!r} (it has: {', '.join(have) or 'none'})"
                )
            key = source.artifacts[stored] if stored else source.input_key
            techniques = ((source.result or {}).get("forensics") or {}).get("techniques", [])
            options |= {"source_job": job_id, "forensics": techniques}
            job = jobs.submit_stored(user, source.filename, key, options, priority)
            return job_view(job, with_result=False)
        if file is None:
            raise ApiError(422, "no_input", "send a multipart 'file' or the 'job_id' of a finished analysis")
        if stem:
            raise ApiError(422, "invalid_request", "'stem' needs the 'job_id' of an analysis that separated it")
        max_bytes = int(services.settings.max_upload_mb * 1024 * 1024)
        with tempfile.TemporaryDirectory(prefix="aw-upload-") as tmp:
            local = Path(tmp) / "upload"
            filename = Path(file.filename or "upload").name
            _copy_limited(file, local, max_bytes, services.settings.max_upload_mb)
            try:
                probe(local, limits_settings)
            except InputError as exc:
                reason = str(exc).replace(str(local.name), filename, 1)
                raise ApiError(413 if "long" in reason else 415, "bad_audio", reason) from exc
            job = jobs.submit(user, filename, local, [], priority, options=options)
        return job_view(job, with_result=False)

    @app.get("/v1/suggest/{job_id}", response_model=JobView, tags=["recipes"])
    def suggest_status(job_id: str, user: UserDep) -> JobView:
        """Stage and percent while searching; when done, the recipe and links to its preview, original, picture
        and Vital preset."""
        return job_view(owned_job(user, job_id), with_result=True)

    @app.get("/v1/users/me", response_model=AccountView, tags=["account"])
    def account(user: UserDep) -> AccountView:
        """Your account: consent to contribute, job count, API keys (prefixes only)."""
        return AccountView.model_validate(account_info(services, user.id))

    @app.put("/v1/users/me/consent", response_model=AccountView, tags=["account"])
    def consent(body: ConsentIn, user: UserDep) -> AccountView:
        """Opt in to (or out of) contributing your future uploads to shared sample libraries. Off by default."""
        return AccountView.model_validate(set_consent(services, user.id, body.contribute_to_library))

    @app.get("/v1/users/me/export", tags=["account"], response_class=FileResponse)
    def export(user: UserDep) -> FileResponse:
        """Everything stored for you as one zip: account, every job with its result, feedback and files."""
        tmp = Path(tempfile.mkdtemp(prefix="aw-export-"))
        export_user(services, user.id, tmp / "export.zip")
        return FileResponse(
            tmp / "export.zip",
            media_type="application/zip",
            filename=f"audiowave-{user.name}.zip",
            background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
        )

    @app.delete("/v1/users/me", response_model=ErasureView, tags=["account"])
    def erase(
        user: UserDep, confirm: Annotated[str, Query(description="your user name, to confirm")] = ""
    ) -> ErasureView:
        """Erase your account and everything stored for it (uploads, results, files, feedback, keys)."""
        if confirm != user.name:
            raise ApiError(422, "confirm", "erasing an account needs ?confirm=<your user name>")
        done = erase_user(services, user.id)
        if done.objects_left:
            log.error("erasure of %s left %d objects", user.id, done.objects_left)
        return ErasureView(
            erased=user.id, jobs=done.jobs, objects_removed=done.objects_removed, objects_left=done.objects_left
        )

    @app.get("/v1/queue", tags=["operations"])
    def queue_stats(user: UserDep) -> dict:
        return services.queue.stats()

    return app


def _copy_limited(upload: UploadFile, dest: Path, max_bytes: int, max_mb: float) -> None:
    total = 0
    with dest.open("wb") as out:
        while chunk := upload.file.read(CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise ApiError(413, "too_large", f"upload over {max_mb:g} MB")
            out.write(chunk)
    if total == 0:
        raise ApiError(415, "bad_audio", "the uploaded file is empty")
