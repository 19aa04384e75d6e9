"""Pre-annotations from any model endpoint: each media record is posted to an HTTP endpoint, and its
answer, checked against the question, is stored as a suggestion that annotators start from.

The protocol (``docs/media.md``, "Model suggestions") is one JSON ``POST`` per record::

    {"record_id": "...", "media_type": "image", "mime_type": "image/png",
     "info": {"width": 640, "height": 480, ...},
     "question": {"name": "objects", "type": "region", "labels": [...], ...},
     "data": "<base64 of the file>"}                  # send="base64" (the default)
     "url": "https://thresher.../media", "headers": {...}   # or send="url": the endpoint fetches it

and the endpoint answers either the answer itself, in the question's value shape, with an
optional score, ``{"value": [...], "score": 0.8}``, or COCO-style detections for a region
question, ``{"detections": [{"bbox": [x, y, w, h], "category_id": 3, "score": 0.9}],
"categories": [{"id": 3, "name": "car"}]}`` (or ``"category": "car"``), whose class names become
the question's labels through ``label_map`` (a name that is already a label needs no entry; other
classes are dropped and counted).

A run streams the records (keyset pages), keeps at most ``concurrency`` requests in flight (worker
threads; the store is written from the calling thread only), retries connection errors, timeouts,
429 and 5xx with backoff, and goes on past a bad answer: each one is an error naming the record and
what was wrong. It resumes: a record that already holds a suggestion from the same model for the
question is skipped (``redo`` asks again).
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson
from pydantic import ValidationError

from thresher.errors import ConfigError, DataError, ErrorDetail
from thresher.model import Question, Record, Suggestion
from thresher.store import RecordFilter, Store
from thresher.store.rows import RecordRow

Send = Literal["base64", "url"]

# Which media a question type can be answered on; other types (labels, captions) fit any media.
MEDIA_OF: dict[str, tuple[str, ...]] = {
    "region": ("image", "video"),
    "track": ("video",),
    "transcript": ("audio", "video"),
    "timeline_segment": ("audio", "video"),
}
DEFAULT_TYPES = ("region", "track", "transcript", "timeline_segment")
MAX_ERRORS = 1000  # kept in the result; the count goes on
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class PrelabelResult:
    question: str
    agent: str
    seen: int = 0  # media records read
    suggested: int = 0  # suggestions stored
    already: int = 0  # held one from this model: skipped (resume)
    not_applicable: int = 0  # media the question does not fit (an audio file for a region question)
    failed: int = 0  # bad answer, endpoint error or unreadable media: see errors
    dropped_detections: int = 0  # detections of unmapped classes or under min_score
    errors: list[ErrorDetail] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "seen": self.seen,
            "suggested": self.suggested,
            "already": self.already,
            "not_applicable": self.not_applicable,
            "failed": self.failed,
            "dropped_detections": self.dropped_detections,
        }


class _RecordFailed(Exception):
    def __init__(self, detail: ErrorDetail) -> None:
        super().__init__(detail.msg)
        self.detail = detail


@dataclass(frozen=True)
class _Answer:
    record_id: str
    value: Any
    score: float | None
    dropped: int


def choose_question(questions: list[Question], name: str | None) -> Question:
    """The question named ``name``, else the dataset's first media question (region, track, transcript...)."""
    if name is not None:
        for q in questions:
            if q.name == name:
                return q
        raise ConfigError(f"the dataset has no question {name!r}; it has {[q.name for q in questions]}")
    for q in questions:
        if q.type in DEFAULT_TYPES:
            return q
    raise ConfigError("the dataset has no region, track, transcript or timeline_segment question: pass --question")


class Prelabeler:
    """Posts media records to one endpoint and stores the answers as suggestions by ``agent``."""

    def __init__(
        self,
        store: Store,
        endpoint: str,
        *,
        agent: str,
        send: Send = "base64",
        media_url: str | None = None,
        media_headers: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        label_map: Mapping[str, str] | None = None,
        min_score: float = 0.0,
        concurrency: int = 4,
        retries: int = 3,
        timeout: float = 60.0,
        backoff: float = 0.5,
        max_bytes: int = 50 * 1024 * 1024,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not agent.strip():
            raise ConfigError("name the model (agent) whose suggestions these are")
        if send == "url" and not media_url:
            raise ConfigError("send='url' needs media_url: the base URL at which the endpoint reaches this server")
        if concurrency < 1 or retries < 0:
            raise ConfigError("concurrency must be at least 1 and retries at least 0")
        self.store = store
        self.endpoint = endpoint
        self.agent = agent
        self.send = send
        self.media_url = (media_url or "").rstrip("/")
        self.media_headers = dict(media_headers or {})
        self.label_map = dict(label_map or {})
        self.min_score = min_score
        self.concurrency = concurrency
        self.retries = retries
        self.backoff = backoff
        self.max_bytes = max_bytes
        # The endpoint is the operator's own choice (a CLI flag), not a user's: no address filtering,
        # but no proxies from the environment and no redirects either.
        self._client = httpx.Client(
            timeout=timeout, headers=dict(headers or {}), follow_redirects=False, trust_env=False, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Prelabeler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the run --------------------------------------------------------------------------

    def run(
        self,
        project: str,
        dataset: str,
        *,
        question: str | None = None,
        version: str | None = None,
        redo: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> PrelabelResult:
        ds = self.store.get_dataset(project, dataset)
        q = choose_question(ds.questions, question)
        ver = self.store.get_version(ds, version) if version else None
        result = PrelabelResult(question=q.name, agent=self.agent)
        done = 0
        pending: set[Future[_Answer]] = set()

        def settle(futures: set[Future[_Answer]]) -> None:
            for fut in futures:
                try:
                    self._store(q, fut.result(), result)
                except _RecordFailed as e:
                    self._fail(result, e.detail)
                tick()

        def tick() -> None:  # one record dealt with: asked, or skipped
            nonlocal done
            done += 1
            if progress is not None:
                progress(done)

        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="thresher-prelabel") as pool:
            for row in self._rows(ds, ver):
                result.seen += 1
                content = row.content_dict()
                if content.get("media_type") not in MEDIA_OF.get(q.type, ("image", "video", "audio")):
                    result.not_applicable += 1
                    tick()
                    continue
                if not redo and any(
                    s.agent == self.agent and s.question == q.name for s in self.store.suggestions_for(row.id)
                ):
                    result.already += 1
                    tick()
                    continue
                pending.add(pool.submit(self._ask, ds.project, ds.name, q, row))
                if len(pending) >= 2 * self.concurrency:  # bounded: the records stream, the queue does not grow
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    settle(finished)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                settle(finished)
        return result

    def _rows(self, ds: Any, ver: Any) -> Iterator[RecordRow]:
        for page in self.store.iter_records(ds, version=ver, flt=RecordFilter(kinds=("media",)), batch_size=200):
            yield from page

    @staticmethod
    def _fail(result: PrelabelResult, detail: ErrorDetail) -> None:
        result.failed += 1
        if len(result.errors) < MAX_ERRORS:
            result.errors.append(detail)

    def _store(self, q: Question, answer: _Answer, result: PrelabelResult) -> None:
        try:
            self.store.save_suggestion(
                Suggestion(
                    record_id=answer.record_id,
                    question=q.name,
                    value=answer.value,
                    agent=self.agent,
                    score=answer.score,
                )
            )
        except DataError as e:  # the store checks again; what it says is the record's error
            d = e.details[0] if e.details else None
            loc = (answer.record_id, *(d.loc if d else ()))
            raise _RecordFailed(ErrorDetail("bad_answer", loc, d.msg if d else str(e))) from None
        result.suggested += 1
        result.dropped_detections += answer.dropped

    # -- one record (worker thread) ---------------------------------------------------------

    def _ask(self, project: str, dataset: str, q: Question, row: RecordRow) -> _Answer:
        record = row.to_record()
        body = self._request_body(project, dataset, q, row.id, row.content_dict())
        answer = self._post(row.id, body)
        return self._answer(q, record, answer)

    def _request_body(
        self, project: str, dataset: str, q: Question, record_id: str, content: dict[str, Any]
    ) -> dict[str, Any]:
        blob = content.get("blob") or {}
        body: dict[str, Any] = {
            "record_id": record_id,
            "media_type": content.get("media_type"),
            "mime_type": blob.get("mime_type"),
            "info": content.get("info") or {},
            "question": q.model_dump(mode="json", exclude_none=True),
        }
        if self.send == "url":
            body["url"] = (
                f"{self.media_url}/api/v1/projects/{quote(project, safe='')}/datasets/{quote(dataset, safe='')}"
                f"/records/{quote(record_id, safe='')}/media"
            )
            if self.media_headers:
                body["headers"] = self.media_headers
            return body
        uri = str(blob.get("uri", ""))
        if not uri.startswith("blob://"):
            raise _RecordFailed(
                ErrorDetail("not_stored", (record_id, "blob"), f"the media is a reference ({uri}), not a stored file")
            )
        try:
            with self.store.blobs.open(uri) as f:
                data = f.read(self.max_bytes + 1)
        except OSError as e:
            raise _RecordFailed(
                ErrorDetail("unreadable_media", (record_id, "blob"), f"cannot read {uri}: {e}")
            ) from None
        if len(data) > self.max_bytes:
            msg = f"the file is over {self.max_bytes:,} bytes: send it by URL (--send url) instead of base64"
            raise _RecordFailed(ErrorDetail("too_large", (record_id, "blob"), msg))
        body["data"] = base64.b64encode(data).decode("ascii")
        return body

    def _post(self, record_id: str, body: dict[str, Any]) -> Any:
        payload = orjson.dumps(body)
        error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                delay = min(30.0, self.backoff * 2 ** (attempt - 1))
                time.sleep(delay * random.uniform(0.75, 1.25))
            try:
                response = self._client.post(
                    self.endpoint, content=payload, headers={"Content-Type": "application/json"}
                )
            except httpx.TransportError as e:  # refused, reset, timed out: worth another try
                error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                continue
            if response.status_code in RETRY_STATUSES:
                error = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code >= 400:
                msg = f"the endpoint answered HTTP {response.status_code}: {response.text[:200]}"
                raise _RecordFailed(ErrorDetail("endpoint_error", (record_id,), msg))
            try:
                return orjson.loads(response.content)
            except orjson.JSONDecodeError as e:
                msg = f"the endpoint's answer is not JSON ({e}): {response.text[:200]!r}"
                raise _RecordFailed(ErrorDetail("bad_answer", (record_id,), msg)) from None
        tries = self.retries + 1
        raise _RecordFailed(ErrorDetail("endpoint_error", (record_id,), f"gave up after {tries} attempts: {error}"))

    def _answer(self, q: Question, record: Record, answer: Any) -> _Answer:
        rid = record.id or ""
        if not isinstance(answer, dict) or not ({"value", "detections"} & answer.keys()):
            msg = 'expected {"value": ..., "score": ...} or {"detections": [...], "categories": [...]}'
            raise _RecordFailed(ErrorDetail("bad_answer", (rid,), msg, _excerpt(answer)))
        score = answer.get("score")
        dropped = 0
        if "detections" in answer:
            value, score, dropped = self._from_detections(q, rid, answer)
        else:
            value = answer["value"]
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            raise _RecordFailed(ErrorDetail("bad_answer", (rid, "score"), "expected a number", score))
        try:
            value = q.validate_value(value, record)
        except ValidationError as e:
            first = e.errors()[0]
            loc = (rid, "value", *first["loc"])
            raise _RecordFailed(ErrorDetail("bad_answer", loc, first["msg"], _excerpt(first.get("input")))) from None
        except ValueError as e:
            raise _RecordFailed(ErrorDetail("bad_answer", (rid, "value"), str(e), _excerpt(value))) from None
        return _Answer(rid, value, float(score) if score is not None else None, dropped)

    def _from_detections(self, q: Question, rid: str, answer: dict[str, Any]) -> tuple[Any, float | None, int]:
        """COCO-style detections → regions with the question's labels; the mean kept score."""
        if q.type != "region":
            raise _RecordFailed(
                ErrorDetail("bad_answer", (rid, "detections"), f"detections answer region questions, not {q.type}")
            )
        dets = answer["detections"]
        cats = answer.get("categories") or []
        if not isinstance(dets, list) or not isinstance(cats, list):
            raise _RecordFailed(ErrorDetail("bad_answer", (rid, "detections"), "expected lists of detections"))
        names = {c.get("id"): c.get("name") for c in cats if isinstance(c, dict)}
        labels = set(getattr(q, "labels", []))
        regions, scores, dropped = [], [], 0
        for i, d in enumerate(dets):
            if not isinstance(d, dict) or "bbox" not in d:
                raise _RecordFailed(ErrorDetail("bad_answer", (rid, "detections", i), "expected {bbox, category...}"))
            name = d.get("category") if "category" in d else names.get(d.get("category_id"), d.get("category_id"))
            label = self.label_map.get(str(name), str(name))
            s = d.get("score")
            if label not in labels or (isinstance(s, int | float) and s < self.min_score):
                dropped += 1
                continue
            region: dict[str, Any] = {"label": label, "box": d["bbox"]}
            if d.get("frame") is not None:
                region["frame"] = d["frame"]
            regions.append(region)
            if isinstance(s, int | float) and not isinstance(s, bool):
                scores.append(float(s))
        return regions, (sum(scores) / len(scores) if scores else answer.get("score")), dropped


def _excerpt(value: Any, limit: int = 200) -> Any:
    """A bad answer as it goes into an error: whole when small, else the start of its JSON."""
    text = orjson.dumps(value, default=str).decode()
    return value if len(text) <= limit else text[:limit] + "…"
