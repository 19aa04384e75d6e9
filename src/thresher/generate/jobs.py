"""Candidate generation as a background job (``store.jobs`` rows of kind ``generate``).

``GenerateRunner`` claims queued jobs one at a time in a thread and runs them with
``agenerate_candidates``, recording progress (prompts done of the total) four times a second; that
is also where it learns a job was cancelled (the row is no longer ``running``): the run stops
after the prompts in hand, whose answers are cached and records written. The thread starts when
a job is submitted and ends when the queue is empty (nothing polls an idle database).

A job found ``running`` when a runner is made was left by a server that stopped; it is marked
failed, saying that starting it again resumes it (answers already given come from the cache).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from thresher.errors import ThresherError
from thresher.generate._calls import ModelSpec
from thresher.generate.candidates import PROMPT_KINDS, CandidateOptions, agenerate_candidates
from thresher.store import RecordFilter, Store
from thresher.store.jobs import Job

__all__ = ["GENERATE", "INTERRUPTED", "GenerateJob", "GenerateRunner"]

log = logging.getLogger("thresher.generate")

GENERATE = "generate"
INTERRUPTED = "the server stopped while this job was running; start it again to resume (answers are cached)"
_STATUS_BODY = re.compile(r"(HTTP \d{3}): .*", re.DOTALL)
_PROGRESS_EVERY = 0.25  # seconds between progress writes (and cancellation checks)


class GenerateJob(BaseModel):
    """What a generation job does, as stored in its row."""

    model_config = ConfigDict(extra="forbid")

    project: str
    source: str
    source_version: str | None = None
    target: str
    models: list[ModelSpec] = Field(min_length=1, max_length=16)
    version: str | None = None
    split: str | None = None
    concurrency: int = Field(default=32, ge=1, le=256)


class _Cancelled(Exception):
    pass


class GenerateRunner:
    """Runs queued generation jobs of one store, one at a time, in one thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        for job in store.jobs.fail_running(GENERATE, INTERRUPTED):
            log.warning("generation job %s was left running by a stopped server", job.id)

    def submit(self) -> None:
        """A job was queued: wake the thread, or start it."""
        with self._lock:
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="thresher-generate", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                job = self.store.jobs.claim_next(GENERATE)
            except Exception:
                log.exception("generation runner: cannot read the job queue")
                job = None
            if job is not None:
                self.run_job(job)
                continue
            with self._lock:  # no work: end, unless a job was submitted since the queue was read
                if not self._wake.is_set():
                    self._thread = None
                    return

    def run_job(self, job: Job) -> None:
        """Run one claimed (``running``) job to its end state."""
        try:
            result = asyncio.run(self._generate(job))
        except _Cancelled:
            return
        except Exception as e:
            error = str(e) if isinstance(e, ThresherError) else f"internal error ({type(e).__name__}): {e}"
            if not isinstance(e, ThresherError):
                log.error("generation job %s failed", job.id, exc_info=e)
            self.store.jobs.fail(job.id, error[:2000])
            return
        self.store.jobs.finish(job.id, orjson.dumps(result).decode(), result["prompts"])

    async def _generate(self, job: Job) -> dict[str, Any]:
        spec = GenerateJob.model_validate(job.params)
        source = self.store.get_dataset(spec.project, spec.source)
        target = self.store.get_dataset(spec.project, spec.target)
        version = self.store.get_version(source, spec.source_version) if spec.source_version else None
        flt = RecordFilter(kinds=list(PROMPT_KINDS), splits=[spec.split] if spec.split else [])
        total = self.store.count_records(source, version, flt)
        if not self.store.jobs.set_progress(job.id, 0, total):
            raise _Cancelled
        last = time.monotonic()

        def progress(done: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= _PROGRESS_EVERY or done == total:
                last = now
                if not self.store.jobs.set_progress(job.id, done):
                    raise _Cancelled

        options = CandidateOptions(concurrency=spec.concurrency, version=spec.version, split=spec.split)
        choices = [m.build() for m in spec.models]
        result = await agenerate_candidates(
            self.store, source, target, choices, options, source_version=version, progress=progress
        )
        out = result.to_dict()
        if out["first_error"]:  # the status a model server answered, not its body (it may be anyone's)
            out["first_error"] = _STATUS_BODY.sub(r"\1", out["first_error"])
        return out
