"""Job worker: claim a job, run the analysis, store artefacts and the result, acknowledge.

At-least-once delivery with exactly-once completion: the final database update only applies to a
job that is not final yet, so a re-delivered job that already finished is acknowledged and skipped.
Bad input (:class:`InputError`) is final at once; other failures are retried with exponential
backoff and end in the dead-letter queue after ``max_attempts``.
"""

from __future__ import annotations

import logging
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from audiowave.errors import InputError
from audiowave.pipeline import Analysis, StageObserver
from audiowave.service.db import Job
from audiowave.service.jobs import FINAL, overall_percent, set_progress
from audiowave.service.logs import job_context
from audiowave.service.metrics import job_cost
from audiowave.service.outages import MAX_OUTAGE_BACKOFF_S, OUTAGES
from audiowave.service.queue import Delivery
from audiowave.service.services import Services
from audiowave.writer import write_analysis

log = logging.getLogger("audiowave.worker")
Analyzer = Callable[[Path, list[str], StageObserver], Analysis]
PROGRESS_INTERVAL_S = 0.5


class JobProgress:
    """Stage observer that writes stage and overall percent to the job row (throttled) and heartbeats."""

    def __init__(self, services: Services, delivery: Delivery, consumer: str, stages: list[str]) -> None:
        self.s, self.d, self.consumer, self.stages = services, delivery, consumer, stages
        self._last = 0.0
        self.stage_seconds: dict[str, float] = {}

    def report(self, stage: str, fraction: float, force: bool = False) -> None:
        self.report_percent(stage, overall_percent(stage, fraction, self.stages), force)

    def report_percent(self, stage: str, percent: float, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        with self.s.sessions.begin() as session:
            set_progress(session, self.d.job_id, stage=stage, percent=percent)
        self.s.queue.heartbeat(self.d, self.consumer)

    def start(self, stage: str) -> None:
        self.report(stage, 0.0, force=True)

    def progress(self, stage: str, fraction: float) -> None:
        self.report(stage, fraction)

    def end(self, stage: str, seconds: float) -> None:
        self.report(stage, 1.0)
        self.stage_seconds[stage] = seconds
        self.s.metrics.observe("audiowave_stage_seconds", {"stage": stage}, seconds)


class JobWorker:
    def __init__(self, services: Services, analyzer: Analyzer, consumer: str) -> None:
        self.s, self.analyze, self.consumer = services, analyzer, consumer

    def run_once(self, block_ms: int = 1000) -> str | None:
        """Process at most one job; returns its id (or None when the queue was empty)."""
        d = self.s.queue.claim(self.consumer, block_ms)
        if d is None:
            return None
        with self.s.sessions.begin() as session:
            job = session.get(Job, d.job_id)
            if job is None or job.status in FINAL:
                self.s.queue.ack(d)  # deleted meanwhile, or finished before a crash lost the ack
                return d.job_id
            waited = (datetime.now(UTC) - _aware(job.created_at)).total_seconds() if job.attempts == 0 else None
            # A re-claimed delivery (its worker died) carries the old attempt number: count runs here.
            d.attempt = max(d.attempt, job.attempts + 1)
            job.status, job.attempts, job.stage, job.error = "running", d.attempt, "download", ""
            user_id, key, options = job.user_id, job.input_key, dict(job.options or {})
            callback = job.callback_url
        kind = "recipe" if options.get("kind") == "suggest" else "analysis"
        if waited is not None:
            self.s.metrics.observe("audiowave_job_wait_seconds", {"kind": kind}, waited)
        with job_context(d.job_id):
            status = self._attempt(d, kind, user_id, key, options)
        if status is not None:
            self.s.metrics.inc("audiowave_jobs_finished", {"kind": kind, "status": status})
            notify(callback, d.job_id, status)
        return d.job_id

    def _attempt(self, d: Delivery, kind: str, user_id: str, key: str, options: dict) -> str | None:
        """Run one attempt; returns the final status, or None when the job will be tried again."""
        started = time.monotonic()
        progress = JobProgress(self.s, d, self.consumer, list(options.get("stages") or []))
        log.info("job started", extra={"kind": kind, "attempt": d.attempt})
        try:
            if kind == "recipe":
                self._run_suggest(d, user_id, key, options, progress)
            else:
                self._run(d, user_id, key, progress)
        except InputError as exc:
            log.info("job failed: bad input: %s", exc)
            self._fail(d, "failed", str(exc))
            self.s.queue.dead_letter(d, f"bad input: {exc}")
            return "failed"
        except OUTAGES as exc:
            self._outage(d, kind, exc)
            return None
        except Exception as exc:  # any other failure is retried, then dead-lettered with its traceback
            log.exception("job attempt %s failed", d.attempt)
            detail = f"{type(exc).__name__}: {exc}"
            if d.attempt >= self.s.settings.max_attempts:
                self._fail(d, "dead", f"{detail} (after {d.attempt} attempts)")
                self.s.queue.dead_letter(d, detail + "\n" + traceback.format_exc(limit=5))
                return "dead"
            delay = self.s.settings.retry_base_s * 2 ** (d.attempt - 1)
            with self.s.sessions.begin() as session:
                set_progress(session, d.job_id, status="retrying", error=f"{detail}; retry in {delay:.0f} s")
            self.s.queue.retry_later(d, delay)
            self.s.metrics.inc("audiowave_job_retries", {"kind": kind})
            return None
        seconds = time.monotonic() - started
        cost = job_cost(seconds, progress.stage_seconds, self.s.settings.cost_cpu_hour, self.s.settings.cost_gpu_hour)
        self.s.metrics.observe("audiowave_job_processing_seconds", {"kind": kind}, seconds)
        self.s.metrics.observe("audiowave_job_cost_dollars", {"kind": kind}, cost)
        self.s.metrics.inc("audiowave_cost_dollars", {"kind": kind}, cost)
        log.info("job done in %.1f s", seconds, extra={"kind": kind, "seconds": round(seconds, 2), "cost": cost})
        return "done"

    def _outage(self, d: Delivery, kind: str, exc: BaseException) -> None:
        """A dependency is down: try again later, at the same attempt (the job is not at fault).

        If Redis is the one down the exception propagates: the message stays pending and is re-claimed."""
        delay = min(self.s.settings.retry_base_s * 2 ** (d.attempt - 1), MAX_OUTAGE_BACKOFF_S)
        log.warning("job waits for a dependency (retry in %.0f s): %s", delay, exc)
        self.s.queue.retry_later(d, delay, same_attempt=True)
        self.s.metrics.inc("audiowave_job_retries", {"kind": kind})
        try:
            with self.s.sessions.begin() as session:
                set_progress(
                    session, d.job_id, status="retrying", attempts=d.attempt - 1, error=f"waiting: {exc}"[:500]
                )
        except OUTAGES:  # the database is the one down; the row says 'running' until the retry runs
            pass

    def _run(self, d: Delivery, user_id: str, key: str, progress: JobProgress) -> None:
        with tempfile.TemporaryDirectory(prefix="aw-job-") as tmp:
            local = self.s.store.get_file(key, Path(tmp) / Path(key).name)
            analysis = self.analyze(local, progress.stages, progress)
            progress.start("upload")
            out = Path(tmp) / "out"
            write_analysis(analysis, out, save_stems=True)
            artifacts = self._upload(out, user_id, d.job_id)
            result = analysis.result.model_dump(mode="json")
            _relink(result, out, d.job_id)
        self._finish(d, user_id, result, artifacts)

    def _run_suggest(self, d: Delivery, user_id: str, key: str, options: dict, progress: JobProgress) -> None:
        """A recipe job: the search reports its stage and percent; the recipe is the job's result."""
        from audiowave.recipes.hints import hints_from_forensics
        from audiowave.recipes.service import suggest_from_file

        def report(stage: str, fraction: float) -> None:
            progress.report_percent(stage, round(95.0 * fraction, 1), force=fraction >= 1.0)

        with tempfile.TemporaryDirectory(prefix="aw-job-") as tmp:
            if not self.s.store.exists(key):  # a stem of an analysis deleted since: no retry can bring it back
                raise InputError(f"the audio to recreate is gone (analysis {options.get('source_job')} was deleted)")
            local = self.s.store.get_file(key, Path(tmp) / Path(key).name)
            out = Path(tmp) / "out"
            recipe = suggest_from_file(
                local,
                out,
                options.get("start_s"),
                options.get("end_s"),
                "",
                float(options.get("budget_s", 10.0)),
                report,
                hints=hints_from_forensics(options.get("forensics") or [], options.get("stem", "")),
            )
            recipe.span.stem = options.get("stem", "")
            artifacts = self._upload(out, user_id, d.job_id)
        self._finish(d, user_id, recipe.model_dump(mode="json"), artifacts)

    def _upload(self, out: Path, user_id: str, job_id: str) -> dict[str, str]:
        artifacts = {}
        for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name not in ("result.json", "recipe.json")):
            rel = path.relative_to(out).as_posix()
            artifacts[rel] = self.s.store.put_file(f"{user_id}/{job_id}/out/{rel}", path)
        return artifacts

    def _finish(self, d: Delivery, user_id: str, result: dict, artifacts: dict[str, str]) -> None:
        with self.s.sessions.begin() as session:
            done = set_progress(
                session,
                d.job_id,
                status="done",
                stage="done",
                percent=100.0,
                result=result,
                artifacts=artifacts,
                finished_at=datetime.now(UTC),
            )
        if not done:
            with self.s.sessions() as session:
                gone = session.get(Job, d.job_id) is None
            if gone:  # deleted while running: leave nothing behind
                self.s.store.delete_prefix(f"{user_id}/{d.job_id}")
        self.s.queue.ack(d)

    def _fail(self, d: Delivery, status: str, error: str) -> None:
        with self.s.sessions.begin() as session:
            set_progress(session, d.job_id, status=status, error=error, finished_at=datetime.now(UTC))


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _relink(result: dict, out: Path, job_id: str) -> None:
    """Replace local artefact paths anywhere in the result by paths relative to the job's output."""
    prefix = str(out) + "/"

    def relink(value):
        if isinstance(value, str):
            return value.removeprefix(prefix)
        if isinstance(value, list):
            return [relink(v) for v in value]
        if isinstance(value, dict):
            return {k: relink(v) for k, v in value.items()}
        return value

    result.update(relink(result))
    result["source"]["path"] = f"{job_id}/input"


def notify(callback_url: str, job_id: str, status: str) -> None:
    """Best-effort POST of {job_id, status} to the job's callback URL (http/https only, 5 s timeout)."""
    if not callback_url.startswith(("http://", "https://")):
        return
    try:
        httpx.post(callback_url, json={"job_id": job_id, "status": status}, timeout=5.0)
    except httpx.HTTPError as exc:
        log.warning("callback for job %s to %s failed: %s", job_id, callback_url, exc)


SWEEP_EVERY_S = 3600.0


def run_forever(worker: JobWorker, stop: Callable[[], bool] = lambda: False) -> None:
    """Process jobs until ``stop()``; sweep expired jobs about once an hour."""
    from audiowave.service.retention import sweep

    next_sweep = time.monotonic()
    while not stop():
        try:
            if time.monotonic() >= next_sweep:
                jobs, objects = sweep(worker.s)
                if jobs:
                    log.info("retention: deleted %d expired jobs (%d objects)", jobs, objects)
                next_sweep = time.monotonic() + SWEEP_EVERY_S
            worker.run_once(block_ms=1000)
        except Exception:  # keep the loop alive across Redis/DB hiccups; they are retried next round
            log.exception("worker loop error")
            time.sleep(1.0)
