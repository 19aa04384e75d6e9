"""Import a file into a dataset: detect, parse, validate, write; all or nothing.

One pass over the file. Records are written in batches inside one transaction; at the first
invalid row writing stops, reading goes on to collect the errors (up to a cap), and the
transaction is rolled back, so a failed import leaves the store as it was. With
``skip_invalid`` bad rows go to a rejects file with their reasons and the rest is kept.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from thresher.errors import Conflict, DataError, ErrorDetail
from thresher.formats import (
    BadRow,
    Format,
    Parsed,
    Row,
    RowError,
    container_for,
    detect_format,
    get_container,
    get_format,
)
from thresher.formats.containers import DEFAULT_MAX_RECORD_BYTES, Container
from thresher.model import Dataset, Question, Record, Source, TaskType, validate_answers
from thresher.store import Store

SNIFF_ROWS = 20


@dataclass
class ImportResult:
    file: str
    format: str
    container: str
    import_id: str
    rows: int = 0
    added: int = 0
    duplicates: int = 0
    invalid: int = 0
    responses: int = 0
    rejects: Path | None = None
    errors: list[ErrorDetail] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "added": self.added,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "responses": self.responses,
        }


def resolve_format(path: Path, container: Container, fmt: str | None, max_record_bytes: int) -> Format:
    if fmt:
        return get_format(fmt)
    head = (r.data for r in container.read(path, max_record_bytes) if isinstance(r, Row))
    return detect_format(path.name, itertools.islice(head, SNIFF_ROWS))


def import_file(
    store: Store,
    dataset: Dataset,
    path: Path,
    *,
    fmt: str | None = None,
    container: str | None = None,
    mapping: dict[str, str] | None = None,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    split: str | None = None,
    task_type: TaskType | None = None,
    max_errors: int = 100,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    progress: Callable[[int], None] | None = None,
    transform: Callable[[Record], None] | None = None,
) -> ImportResult:
    """Import ``path`` into ``dataset``. Raises ``DataError`` (nothing written) on invalid rows.

    ``transform`` may change each parsed record in place before it is checked and written (e.g.
    ``thresher.media`` stores the media files a row references); a ``RowError`` it raises is that row's error."""
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    box = get_container(container) if container else container_for(path)
    format_ = resolve_format(path, box, fmt or ("generic" if mapping else None), max_record_bytes)
    if mapping:
        try:
            format_ = format_.configure(mapping)
        except RowError as e:
            raise DataError(f"{path.name}: {e.msg}") from None
    # Questions the file's labels answer; checked for conflicts now, added once the import commits.
    store_questions = list(format_.questions)
    _check_questions(dataset, store_questions)
    questions = [*dataset.questions, *(q for q in store_questions if dataset.question(q.name) is None)]

    result = ImportResult(file=str(path), format=format_.name, container=box.name, import_id=uuid.uuid4().hex[:16])
    reject_lines: list[bytes] = []
    name = path.name
    writing = True
    with store.writer(dataset, import_id=result.import_id) as writer:
        for item in box.read(path, max_record_bytes):
            result.rows += 1
            if progress is not None and result.rows % 1000 == 0:
                progress(result.rows)
            problem = item.error if isinstance(item, BadRow) else None
            parsed = []
            if problem is None:
                assert isinstance(item, Row)
                try:
                    parsed = list(format_.parse(item.data))
                    for p in parsed:
                        if transform is not None:
                            transform(p.record)
                        _check_answers(questions, p)
                except RowError as e:
                    problem = e
            if problem is not None:
                result.invalid += 1
                detail = ErrorDetail(problem.type, (name, item.line, *problem.loc), problem.msg, problem.input)
                if len(result.errors) < max_errors:
                    result.errors.append(detail)
                if skip_invalid:
                    reject_lines.append(_reject(item, detail))
                    continue
                writing = False
                if (isinstance(item, BadRow) and item.fatal) or len(result.errors) >= max_errors:
                    break
                continue
            if not writing:
                continue
            assert isinstance(item, Row)
            for p in parsed:
                rec = p.record
                rec.source = Source(file=name, line=item.line, format=format_.name, import_id=result.import_id)
                rec.split = split or rec.split or item.split
                if task_type is not None:
                    rec.task_type = task_type
                writer.add(rec, p.responses)
        if not writing:
            raise DataError(
                f"{name}: {result.invalid} invalid row(s); nothing was imported "
                "(fix them, or pass --skip-invalid to import the rest and write the bad rows to a rejects file)",
                result.errors,
            )
        writer.flush()
        result.added, result.duplicates, result.responses = writer.added, writer.duplicates, writer.responses_added
        writer.log = {"file": str(path), "format": format_.name, "counts": result.counts()}
    if progress is not None:
        progress(result.rows)
    if store_questions:
        store.add_questions(store.get_dataset(dataset.project, dataset.name), store_questions)
    if reject_lines:
        result.rejects = rejects or path.with_name(path.name + ".rejects.jsonl")
        result.rejects.write_bytes(b"".join(reject_lines))
    return result


def _check_answers(questions: list[Question], parsed: Parsed) -> None:
    """Labels in the file must fit the dataset's questions (types and bounds), like any response."""
    for i, response in enumerate(parsed.responses):
        _, errors = validate_answers(questions, response.answers, parsed.record, partial=True)
        if errors:
            e = errors[0]
            raise RowError(e.msg, ("responses", i, "answers", *e.loc), type="invalid_answer", input=e.value)


def _check_questions(dataset: Dataset, questions: list[Question]) -> None:
    for q in questions:
        have = dataset.question(q.name)
        if have is not None and have != q:
            raise Conflict(
                f"the file's labels answer question {q.name!r}, but {dataset.name} already has a different "
                f"question of that name ({have.type})"
            )


def _reject(item: Row | BadRow, detail: ErrorDetail) -> bytes:
    entry: dict[str, Any] = {"line": item.line, "error": detail.to_dict()}
    if isinstance(item, Row):
        entry["row"] = item.data
    return orjson.dumps(entry, default=str) + b"\n"
