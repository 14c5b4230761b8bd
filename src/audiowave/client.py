"""The Audiowave SDK: sync (:class:`Client`) and async (:class:`AsyncClient`) clients for every endpoint.

Results are the server's own pydantic models (:class:`~audiowave.api_models.JobView`, whose ``analysis()`` and
``recipe()`` give :class:`~audiowave.schema.AnalysisResult` and :class:`~audiowave.recipes.result.Recipe`).
429 and 503 answers are retried after their ``Retry-After`` (else exponential backoff), and so are dropped
connections; uploads take a path, bytes, or an http(s) URL that is fetched first. ``wait()`` polls a job
until it is final, calling ``on_progress`` with every new state. ``audiowave submit`` uses :class:`Client`.

    with Client("http://127.0.0.1:8000", api_key) as aw:
        job = aw.wait(aw.analyze("song.wav").job_id, on_progress=lambda j: print(j.stage, j.percent))
        print(job.analysis().tempo.bpm)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from audiowave.api_models import AccountView, ErasureView, FeedbackIn, JobView

RETRY_STATUSES = {429, 503}
Upload = str | Path | bytes | tuple[str, bytes]  # a path, raw bytes, (filename, bytes), or an http(s) URL
Priority = Literal["high", "normal", "low"]


class ApiError(Exception):
    """An HTTP error answer: ``status``, and the body's ``error`` code and ``reason``."""

    def __init__(self, status: int, body: dict) -> None:
        self.status, self.body = status, body
        self.error, self.reason = str(body.get("error", "")), str(body.get("reason") or body)
        super().__init__(f"HTTP {status}: {self.reason}")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait: Retry-After when the server says, else base * 2**attempt; capped."""

    attempts: int = 5
    base_s: float = 0.5
    max_delay_s: float = 60.0

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        after = response.headers.get("Retry-After") if response is not None else None
        return min(float(after) if after else self.base_s * 2**attempt, self.max_delay_s)

    def outcome(self, attempt: int, sent: httpx.Response | Exception) -> float | None:
        """Seconds to wait before trying again, or None when ``sent`` is final (answer it, or raise it)."""
        retryable = isinstance(sent, Exception) or sent.status_code in RETRY_STATUSES
        if not retryable or attempt == self.attempts:
            return None
        return self.delay(attempt, None if isinstance(sent, Exception) else sent)


DROPPED = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)


def _settle(sent: httpx.Response | Exception) -> httpx.Response:
    """The final answer of a send: the response (ApiError on 4xx/5xx), or the connection error raised."""
    if isinstance(sent, Exception):
        raise sent
    return _raise_for(sent)


class _Watch:
    """One job being waited for: reports changed states, says when it is final, enforces the timeout."""

    def __init__(self, job_id: str, on_progress: Callable[[JobView], None] | None, timeout_s: float) -> None:
        self.job_id, self.on_progress, self.timeout_s = job_id, on_progress, timeout_s
        self.deadline, self.last = time.monotonic() + timeout_s, None

    def finished(self, job: JobView) -> bool:
        state = (job.status, job.stage, job.percent)
        if self.on_progress is not None and state != self.last:
            self.on_progress(job)
        self.last = state
        if job.finished:
            return True
        if time.monotonic() > self.deadline:
            raise TimeoutError(
                f"job {self.job_id} not finished after {self.timeout_s:.0f} s ({job.status}, {job.stage})"
            )
        return False


def _auth_headers(api_key: str, token: str) -> dict[str, str]:
    return {"X-API-Key": api_key} if api_key else {"Authorization": f"Bearer {token}"} if token else {}


@dataclass(frozen=True)
class Request:
    """One API call, independent of sync/async: method, path, params, form data, JSON, one upload."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    upload: tuple[str, bytes] | None = None  # (filename, content) sent as multipart field "file"

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"params": self.params, "data": self.data, "json": self.json}
        if self.upload is not None:
            kw["files"] = {"file": self.upload}
        return {k: v for k, v in kw.items() if v is not None}


def _raise_for(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {"reason": response.text}
        raise ApiError(response.status_code, body if isinstance(body, dict) else {"reason": str(body)})
    return response


def _form(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None and v != ""}


class _Requests:
    """Builds the :class:`Request` of every endpoint (shared by both clients)."""

    @staticmethod
    def analyze(upload: tuple[str, bytes] | None, stored: str, stages: str, priority: str, callback: str) -> Request:
        data = _form(stages=stages, priority=priority, callback_url=callback, url=stored)
        return Request("POST", "/v1/analyze", data=data, upload=upload)

    @staticmethod
    def suggest(
        upload: tuple[str, bytes] | None, job_id: str, stem: str, start_s, end_s, budget_s: float, priority: str
    ) -> Request:
        data = _form(job_id=job_id, stem=stem, start_s=start_s, end_s=end_s, budget_s=budget_s, priority=priority)
        return Request("POST", "/v1/suggest", data=data, upload=upload)

    @staticmethod
    def report(job_id: str, format: str, prose: bool) -> Request:
        params = {"format": format, "prose": str(prose).lower()}
        return Request("GET", f"/v1/analyze/{job_id}/report", params=params)

    @staticmethod
    def jobs(limit: int, offset: int, kind: str) -> Request:
        return Request("GET", "/v1/analyze", params={"limit": limit, "offset": offset, "kind": kind})

    @staticmethod
    def consent(contribute_to_library: bool) -> Request:
        return Request("PUT", "/v1/users/me/consent", json={"contribute_to_library": contribute_to_library})

    @staticmethod
    def erase(confirm: str) -> Request:
        return Request("DELETE", "/v1/users/me", params={"confirm": confirm})

    @staticmethod
    def feedback(job_id: str, field: str, verdict: str, value: dict | None, comment: str) -> Request:
        body = FeedbackIn(job_id=job_id, field=field, verdict=verdict, value=value or {}, comment=comment)
        return Request("POST", "/v1/feedback", json=body.model_dump())


def _read_local(source: Upload) -> tuple[str, bytes] | None:
    """(filename, bytes) for a path or bytes; None for a URL (fetched by the client)."""
    if isinstance(source, tuple):
        return source
    if isinstance(source, bytes):
        return "upload", source
    if str(source).startswith(("http://", "https://")):
        return None
    path = Path(source)
    return path.name, path.read_bytes()


def _url_name(url: str) -> str:
    return Path(httpx.URL(url).path).name or "download"


class Client:
    """Synchronous SDK client. Use as a context manager or call :meth:`close`."""

    def __init__(
        self, base_url: str, api_key: str = "", token: str = "", timeout: float = 60.0, retry: RetryPolicy | None = None
    ) -> None:
        headers = _auth_headers(api_key, token)
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
        self.retry = retry or RetryPolicy()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def send(self, req: Request) -> httpx.Response:
        """Send ``req``, retrying 429/503 and dropped connections per the retry policy; ApiError on 4xx/5xx."""
        for attempt in range(self.retry.attempts + 1):
            try:
                sent: httpx.Response | Exception = self.http.request(req.method, req.path, **req.kwargs())
            except DROPPED as exc:
                sent = exc
            wait = self.retry.outcome(attempt, sent)
            if wait is None:
                return _settle(sent)
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _upload(self, source: Upload) -> tuple[str, bytes]:
        local = _read_local(source)
        if local is not None:
            return local
        response = httpx.get(str(source), follow_redirects=True, timeout=self.http.timeout)
        response.raise_for_status()
        return _url_name(str(source)), response.content

    # operations
    def health(self) -> dict:
        return self.send(Request("GET", "/healthz")).json()

    def token(self) -> str:
        """A 12-hour bearer token for this API key."""
        return self.send(Request("POST", "/v1/token")).json()["access_token"]

    def analyze(
        self,
        source: Upload | None = None,
        *,
        stored: str = "",
        stages: str = "",
        priority: Priority = "normal",
        callback_url: str = "",
    ) -> JobView:
        """Queue an analysis of a path, bytes or http(s) URL (or of ``stored``, a key in the service's storage)."""
        upload = self._upload(source) if source is not None else None
        return JobView.model_validate(
            self.send(_Requests.analyze(upload, stored, stages, priority, callback_url)).json()
        )

    def job(self, job_id: str) -> JobView:
        return JobView.model_validate(self.send(Request("GET", f"/v1/analyze/{job_id}")).json())

    def jobs(self, limit: int = 100, offset: int = 0, kind: Literal["", "analysis", "recipe"] = "") -> list[JobView]:
        """Your jobs, newest first, a page at a time."""
        return [JobView.model_validate(j) for j in self.send(_Requests.jobs(limit, offset, kind)).json()]

    def wait(
        self,
        job_id: str,
        on_progress: Callable[[JobView], None] | None = None,
        poll_s: float = 0.5,
        timeout_s: float = 3600.0,
    ) -> JobView:
        """Poll until the job is done, failed or dead; ``on_progress`` sees every changed state."""
        watch = _Watch(job_id, on_progress, timeout_s)
        while not watch.finished(job := self.job(job_id)):
            time.sleep(poll_s)
        return job

    def delete(self, job_id: str) -> dict:
        return self.send(Request("DELETE", f"/v1/analyze/{job_id}")).json()

    def download(self, link: str) -> bytes:
        """A job's file by its link (``job.links[name]``)."""
        return self.send(Request("GET", link)).content

    def report(self, job_id: str, format: Literal["html", "md"] = "html", prose: bool = False) -> str:
        return self.send(_Requests.report(job_id, format, prose)).text

    def suggest(
        self,
        source: Upload | None = None,
        *,
        job_id: str = "",
        stem: str = "",
        start_s: float | None = None,
        end_s: float | None = None,
        budget_s: float = 10.0,
        priority: Priority = "normal",
    ) -> JobView:
        """Queue a recipe for a one-shot (path, bytes, URL), or for a span/stem of a finished analysis."""
        upload = self._upload(source) if source is not None else None
        req = _Requests.suggest(upload, job_id, stem, start_s, end_s, budget_s, priority)
        return JobView.model_validate(self.send(req).json())

    def feedback(self, job_id: str, field: str, verdict: str, value: dict | None = None, comment: str = "") -> str:
        """Store a correction or rating; returns the feedback id."""
        return self.send(_Requests.feedback(job_id, field, verdict, value, comment)).json()["feedback_id"]

    def queue(self) -> dict:
        return self.send(Request("GET", "/v1/queue")).json()

    def account(self) -> AccountView:
        return AccountView.model_validate(self.send(Request("GET", "/v1/users/me")).json())

    def set_consent(self, contribute_to_library: bool) -> AccountView:
        """Opt in to (or out of) contributing future uploads to shared sample libraries."""
        req = _Requests.consent(contribute_to_library)
        return AccountView.model_validate(self.send(req).json())

    def export_data(self, dest: str | Path) -> Path:
        """Download everything stored for this account as a zip at ``dest``."""
        Path(dest).write_bytes(self.send(Request("GET", "/v1/users/me/export")).content)
        return Path(dest)

    def erase_account(self, confirm: str) -> ErasureView:
        """Erase this account and all its data; ``confirm`` must be the user name."""
        req = _Requests.erase(confirm)
        return ErasureView.model_validate(self.send(req).json())


class AsyncClient:
    """The same operations as :class:`Client`, as coroutines (``async with AsyncClient(...) as aw``)."""

    def __init__(
        self, base_url: str, api_key: str = "", token: str = "", timeout: float = 60.0, retry: RetryPolicy | None = None
    ) -> None:
        headers = _auth_headers(api_key, token)
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
        self.retry = retry or RetryPolicy()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def send(self, req: Request) -> httpx.Response:
        for attempt in range(self.retry.attempts + 1):
            try:
                sent: httpx.Response | Exception = await self.http.request(req.method, req.path, **req.kwargs())
            except DROPPED as exc:
                sent = exc
            wait = self.retry.outcome(attempt, sent)
            if wait is None:
                return _settle(sent)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _upload(self, source: Upload) -> tuple[str, bytes]:
        local = _read_local(source)
        if local is not None:
            return local
        async with httpx.AsyncClient(follow_redirects=True, timeout=self.http.timeout) as fetch:
            response = await fetch.get(str(source))
        response.raise_for_status()
        return _url_name(str(source)), response.content

    async def health(self) -> dict:
        return (await self.send(Request("GET", "/healthz"))).json()

    async def token(self) -> str:
        return (await self.send(Request("POST", "/v1/token"))).json()["access_token"]

    async def analyze(
        self,
        source: Upload | None = None,
        *,
        stored: str = "",
        stages: str = "",
        priority: Priority = "normal",
        callback_url: str = "",
    ) -> JobView:
        upload = await self._upload(source) if source is not None else None
        req = _Requests.analyze(upload, stored, stages, priority, callback_url)
        return JobView.model_validate((await self.send(req)).json())

    async def job(self, job_id: str) -> JobView:
        return JobView.model_validate((await self.send(Request("GET", f"/v1/analyze/{job_id}"))).json())

    async def jobs(
        self, limit: int = 100, offset: int = 0, kind: Literal["", "analysis", "recipe"] = ""
    ) -> list[JobView]:
        return [JobView.model_validate(j) for j in (await self.send(_Requests.jobs(limit, offset, kind))).json()]

    async def wait(
        self,
        job_id: str,
        on_progress: Callable[[JobView], None] | None = None,
        poll_s: float = 0.5,
        timeout_s: float = 3600.0,
    ) -> JobView:
        watch = _Watch(job_id, on_progress, timeout_s)
        while not watch.finished(job := await self.job(job_id)):
            await asyncio.sleep(poll_s)
        return job

    async def delete(self, job_id: str) -> dict:
        return (await self.send(Request("DELETE", f"/v1/analyze/{job_id}"))).json()

    async def download(self, link: str) -> bytes:
        return (await self.send(Request("GET", link))).content

    async def report(self, job_id: str, format: Literal["html", "md"] = "html", prose: bool = False) -> str:
        return (await self.send(_Requests.report(job_id, format, prose))).text

    async def suggest(
        self,
        source: Upload | None = None,
        *,
        job_id: str = "",
        stem: str = "",
        start_s: float | None = None,
        end_s: float | None = None,
        budget_s: float = 10.0,
        priority: Priority = "normal",
    ) -> JobView:
        upload = await self._upload(source) if source is not None else None
        req = _Requests.suggest(upload, job_id, stem, start_s, end_s, budget_s, priority)
        return JobView.model_validate((await self.send(req)).json())

    async def feedback(
        self, job_id: str, field: str, verdict: str, value: dict | None = None, comment: str = ""
    ) -> str:
        return (await self.send(_Requests.feedback(job_id, field, verdict, value, comment))).json()["feedback_id"]

    async def queue(self) -> dict:
        return (await self.send(Request("GET", "/v1/queue"))).json()

    async def account(self) -> AccountView:
        return AccountView.model_validate((await self.send(Request("GET", "/v1/users/me"))).json())

    async def set_consent(self, contribute_to_library: bool) -> AccountView:
        req = _Requests.consent(contribute_to_library)
        return AccountView.model_validate((await self.send(req)).json())

    async def export_data(self, dest: str | Path) -> Path:
        Path(dest).write_bytes((await self.send(Request("GET", "/v1/users/me/export"))).content)
        return Path(dest)

    async def erase_account(self, confirm: str) -> ErasureView:
        return ErasureView.model_validate((await self.send(_Requests.erase(confirm))).json())
