"""A small synchronous client for the Audiowave HTTP API (used by ``audiowave submit``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

RETRY_STATUSES = {429, 503}


class ApiError(Exception):
    def __init__(self, status: int, body: dict) -> None:
        self.status, self.body = status, body
        super().__init__(f"HTTP {status}: {body.get('reason') or body}")


class Client:
    def __init__(self, base_url: str, api_key: str, timeout: float = 60.0, max_retries: int = 5) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers={"X-API-Key": api_key}, timeout=timeout)
        self.max_retries = max_retries

    def _request(self, method: str, path: str, **kw) -> httpx.Response:
        """Send, retrying 429/503 after their Retry-After (bounded exponential backoff otherwise)."""
        for attempt in range(self.max_retries + 1):
            response = self.http.request(method, path, **kw)
            if response.status_code not in RETRY_STATUSES or attempt == self.max_retries:
                break
            delay = float(response.headers.get("Retry-After") or 2**attempt)
            time.sleep(min(delay, 60.0))
            for f in (kw.get("files") or {}).values():  # rewind uploads before sending again
                f[1].seek(0)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"reason": response.text}
            raise ApiError(response.status_code, body)
        return response

    def submit(self, path: Path, stages: str = "", priority: str = "normal") -> dict:
        with Path(path).open("rb") as fh:
            return self._request(
                "POST",
                "/v1/analyze",
                files={"file": (Path(path).name, fh)},
                data={"stages": stages, "priority": priority},
            ).json()

    def job(self, job_id: str) -> dict:
        return self._request("GET", f"/v1/analyze/{job_id}").json()

    def wait(
        self,
        job_id: str,
        on_progress: Callable[[dict], None] = lambda job: None,
        poll_s: float = 0.5,
        timeout_s: float = 3600.0,
    ) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            on_progress(job)
            if job["status"] in ("done", "failed", "dead"):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not finished after {timeout_s:.0f} s")
            time.sleep(poll_s)

    def download(self, link: str) -> bytes:
        return self._request("GET", link).content

    def delete(self, job_id: str) -> dict:
        return self._request("DELETE", f"/v1/analyze/{job_id}").json()
