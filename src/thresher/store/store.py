"""The repository: projects, datasets, records, responses, versions. One class, SQL inside."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Select,
    String,
    Text,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import IntegrityError

from thresher.errors import Conflict, DataError, ErrorDetail, NotFound
from thresher.model import Dataset, DatasetVersion, Project, Question, Record, Response, Suggestion
from thresher.model import validate_answers as _validate_answers
from thresher.store import tables as t
from thresher.store.accounts import Accounts
from thresher.store.annotation import Annotations
from thresher.store.blobs import BlobStore
from thresher.store.capture import Capture
from thresher.store.curation import Curation
from thresher.store.engine import make_engine, resolve_url, upgrade
from thresher.store.evals import Evals
from thresher.store.jobs import Jobs
from thresher.store.rows import READ_COLUMNS, RecordRow, dumps, response_from_row, response_id
from thresher.store.training import Training
from thresher.store.webhooks import Webhooks
from thresher.store.writer import RecordWriter

_QUESTIONS = TypeAdapter(list[Question])


def _now() -> datetime:
    return datetime.now(UTC)


class _Unset:
    """The type of ``UNSET``: an argument left out (``None`` is a value: it clears the field)."""


UNSET = _Unset()
_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class RecordFilter:
    """Which records to read. Empty fields mean no restriction."""

    kinds: Sequence[str] = ()
    splits: Sequence[str] = ()
    task_types: Sequence[str] = ()
    exclude_kinds: Sequence[str] = ()
    # (dotted path, value) pairs: the metadata value at the path, as text, equals the value
    # (``("lang", "fr")``; numbers compare by their JSON text, booleans as ``true``/``false``).
    metadata: Sequence[tuple[str, str]] = ()
    text: str | None = None  # a substring of the content (case-insensitive for ASCII)


@dataclass
class Stats:
    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_split: dict[str, int] = field(default_factory=dict)
    by_task_type: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    responses: int = 0


class Store:
    """Open with ``Store.open(home)``; every method runs its own short transaction."""

    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        self.engine = engine
        self.blobs = blobs
        self.accounts = Accounts(engine)
        self.jobs = Jobs(engine)
        self.webhooks = Webhooks(engine)
        self.capture = Capture(self)
        self.curation = Curation(self)
        self.annotation = Annotations(engine)
        self.evals = Evals(engine)
        self.training = Training(engine)

    @classmethod
    def open(cls, home: Path, url: str | None = None, blob_url: str | None = None) -> Store:
        home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(resolve_url(url, home))
        upgrade(engine)
        return cls(engine, BlobStore(blob_url or str(home / "blobs")))

    def close(self) -> None:
        self.engine.dispose()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def ping(self) -> None:
        """One round trip to the database; raises if it cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(select(1))

    # -- projects -------------------------------------------------------------------------

    def create_project(self, name: str, description: str | None = None) -> Project:
        project = Project(name=name, description=description, created_at=_now())
        try:
            with self.engine.begin() as conn:
                values = project.model_dump(exclude={"id"})
                project.id = conn.execute(insert(t.projects).values(**values).returning(t.projects.c.id)).scalar_one()
        except IntegrityError:
            raise Conflict(f"project {name!r} already exists") from None
        return project

    def get_project(self, name: str) -> Project:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.projects).where(t.projects.c.name == name)).first()
        if row is None:
            raise NotFound(f"no project named {name!r}")
        return Project.model_validate(row._asdict())

    def project_with_role(self, name: str, user_id: int) -> tuple[Project, str | None]:
        """The project and the user's role in it (None: not a member), in one query: every request
        by a logged-in user asks both."""
        p, m = t.projects, t.memberships
        q = (
            select(p, m.c.role.label("member_role"))
            .outerjoin(m, (m.c.project_id == p.c.id) & (m.c.user_id == user_id))
            .where(p.c.name == name)
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no project named {name!r}")
        values = row._asdict()
        role = values.pop("member_role")
        return Project.model_validate(values), role

    def ensure_project(self, name: str) -> Project:
        try:
            return self.get_project(name)
        except NotFound:
            try:
                return self.create_project(name)
            except Conflict:  # created by a concurrent request meanwhile
                return self.get_project(name)

    def list_projects(self) -> list[Project]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.projects).order_by(t.projects.c.name)).all()
        return [Project.model_validate(r._asdict()) for r in rows]

    def update_project(self, project: Project, *, description: str | None) -> Project:
        with self.engine.begin() as conn:
            conn.execute(update(t.projects).where(t.projects.c.id == project.id).values(description=description))
        return project.model_copy(update={"description": description})

    def delete_project(self, project: Project) -> None:
        """Delete a project with its datasets (records, responses, versions), members and API keys."""
        with self.engine.begin() as conn:
            ids = conn.execute(select(t.datasets.c.id).where(t.datasets.c.project_id == project.id)).scalars()
            for dataset_id in list(ids):
                _delete_dataset(conn, dataset_id)
            conn.execute(t.memberships.delete().where(t.memberships.c.project_id == project.id))
            conn.execute(t.api_keys.delete().where(t.api_keys.c.project_id == project.id))
            conn.execute(t.projects.delete().where(t.projects.c.id == project.id))
        self.accounts.generation += 1  # its keys' remembered access is checked again

    # -- datasets -------------------------------------------------------------------------

    def create_dataset(
        self,
        project: str,
        name: str,
        *,
        description: str | None = None,
        guidelines: str | None = None,
        questions: Sequence[Question] = (),
    ) -> Dataset:
        p = self.get_project(project)
        ds = Dataset(
            project=project,
            name=name,
            description=description,
            guidelines=guidelines,
            questions=list(questions),
            created_at=_now(),
        )
        try:
            with self.engine.begin() as conn:
                ds.id = conn.execute(
                    insert(t.datasets)
                    .values(
                        project_id=p.id,
                        name=name,
                        description=description,
                        guidelines=guidelines,
                        questions=_QUESTIONS.dump_json(ds.questions).decode(),
                        created_at=ds.created_at,
                    )
                    .returning(t.datasets.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict(f"dataset {project}/{name} already exists") from None
        return ds

    def _dataset_query(self) -> Select[Any]:
        return select(t.datasets, t.projects.c.name.label("project_name")).join(t.projects)

    @staticmethod
    def _dataset_from_row(row: Any) -> Dataset:
        return Dataset(
            id=row.id,
            project=row.project_name,
            name=row.name,
            description=row.description,
            guidelines=row.guidelines,
            questions=_QUESTIONS.validate_json(row.questions),
            created_at=row.created_at,
        )

    def get_dataset(self, project: str, name: str) -> Dataset:
        with self.engine.connect() as conn:
            row = conn.execute(
                self._dataset_query().where(t.projects.c.name == project, t.datasets.c.name == name)
            ).first()
        if row is None:
            raise NotFound(f"no dataset {project}/{name}")
        return self._dataset_from_row(row)

    def ensure_dataset(self, project: str, name: str) -> Dataset:
        self.ensure_project(project)
        try:
            return self.get_dataset(project, name)
        except NotFound:
            try:
                return self.create_dataset(project, name)
            except Conflict:  # created by a concurrent request meanwhile
                return self.get_dataset(project, name)

    def list_datasets(self, project: str | None = None) -> list[Dataset]:
        q = self._dataset_query().order_by(t.projects.c.name, t.datasets.c.name)
        if project is not None:
            q = q.where(t.projects.c.name == project)
        with self.engine.connect() as conn:
            return [self._dataset_from_row(r) for r in conn.execute(q)]

    def update_dataset(
        self, dataset: Dataset, *, description: str | _Unset | None = UNSET, guidelines: str | _Unset | None = UNSET
    ) -> Dataset:
        """Change the description and/or the guidelines (an argument left out is left as it is)."""
        values = {
            k: v for k, v in (("description", description), ("guidelines", guidelines)) if not isinstance(v, _Unset)
        }
        if values:
            with self.engine.begin() as conn:
                conn.execute(update(t.datasets).where(t.datasets.c.id == dataset.id).values(**values))
        return dataset.model_copy(update=values)

    def delete_dataset(self, dataset: Dataset) -> None:
        """Delete a dataset with its records, responses, versions and import log."""
        assert dataset.id is not None
        with self.engine.begin() as conn:
            _delete_dataset(conn, dataset.id)

    def add_questions(self, dataset: Dataset, questions: Sequence[Question]) -> Dataset:
        """Add questions by name; one already there must be identical, or it is a conflict."""
        with self.engine.begin() as conn:
            # Read and write in one transaction, the row locked, so concurrent adds don't lose each other.
            raw = conn.execute(
                select(t.datasets.c.questions).where(t.datasets.c.id == dataset.id).with_for_update()
            ).scalar_one()
            existing = _QUESTIONS.validate_json(raw)
            current = {q.name: q for q in existing}
            merged = list(existing)
            for q in questions:
                if q.name in current:
                    if current[q.name] != q:
                        raise Conflict(f"question {q.name!r} already exists on {dataset.name} with other settings")
                    continue
                merged.append(q)
                current[q.name] = q
            if len(merged) != len(existing):
                conn.execute(
                    update(t.datasets)
                    .where(t.datasets.c.id == dataset.id)
                    .values(questions=_QUESTIONS.dump_json(merged).decode())
                )
        return dataset.model_copy(update={"questions": merged})

    def add_question(self, dataset: Dataset, question: Question) -> Dataset:
        """Add one question; a question of that name already there is a conflict."""

        def edit(questions: list[Question]) -> list[Question]:
            if any(q.name == question.name for q in questions):
                raise Conflict(f"dataset {dataset.name} already has a question named {question.name!r}")
            return [*questions, question]

        return self._edit_questions(dataset, edit)

    def replace_question(self, dataset: Dataset, name: str, question: Question) -> Dataset:
        """Replace the question ``name`` in place (its position kept); the new one may be renamed."""

        def edit(questions: list[Question]) -> list[Question]:
            if not any(q.name == name for q in questions):
                raise NotFound(f"dataset {dataset.name} has no question named {name!r}")
            if question.name != name and any(q.name == question.name for q in questions):
                raise Conflict(f"dataset {dataset.name} already has a question named {question.name!r}")
            return [question if q.name == name else q for q in questions]

        return self._edit_questions(dataset, edit)

    def delete_question(self, dataset: Dataset, name: str) -> Dataset:
        """Remove the question ``name`` (answers already given to it stay in the responses)."""

        def edit(questions: list[Question]) -> list[Question]:
            if not any(q.name == name for q in questions):
                raise NotFound(f"dataset {dataset.name} has no question named {name!r}")
            return [q for q in questions if q.name != name]

        return self._edit_questions(dataset, edit)

    def _edit_questions(self, dataset: Dataset, edit: Callable[[list[Question]], list[Question]]) -> Dataset:
        """Read, edit and write the questions in one transaction (the row locked on PostgreSQL)."""
        d = t.datasets
        with self.engine.begin() as conn:
            raw = conn.execute(select(d.c.questions).where(d.c.id == dataset.id).with_for_update()).scalar_one_or_none()
            if raw is None:
                raise NotFound(f"no dataset {dataset.project}/{dataset.name}")
            questions = edit(_QUESTIONS.validate_json(raw))
            conn.execute(
                update(d).where(d.c.id == dataset.id).values(questions=_QUESTIONS.dump_json(questions).decode())
            )
        return dataset.model_copy(update={"questions": questions})

    # -- records --------------------------------------------------------------------------

    def writer(
        self,
        dataset: Dataset,
        import_id: str | None = None,
        batch_size: int = 2000,
        connection: Connection | None = None,
    ) -> RecordWriter:
        assert dataset.id is not None
        return RecordWriter(self.engine, dataset.id, import_id=import_id, batch_size=batch_size, connection=connection)

    def add_records(self, dataset: Dataset, records: Iterable[Record]) -> int:
        """Write records in one transaction; returns how many were new."""
        with self.writer(dataset) as w:
            for r in records:
                w.add(r)
        return w.added

    def log_import(self, dataset: Dataset, import_id: str, file: str, fmt: str, counts: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.imports).values(
                    id=import_id, dataset_id=dataset.id, file=file, format=fmt, counts=dumps(counts), created_at=_now()
                )
            )

    def _records_query(
        self, dataset: Dataset, version: DatasetVersion | None, flt: RecordFilter, columns: Sequence[str] = READ_COLUMNS
    ) -> Select[Any]:
        r = t.records
        q = select(*(_raw(r.c[c]) for c in columns))
        if version is not None:
            q = q.join(t.version_records, t.version_records.c.record_seq == r.c.seq).where(
                t.version_records.c.version_id == version.id
            )
        else:
            q = q.where(r.c.dataset_id == dataset.id)
        if flt.kinds:
            q = q.where(r.c.kind.in_(flt.kinds))
        if flt.exclude_kinds:
            q = q.where(r.c.kind.not_in(flt.exclude_kinds))
        if flt.splits:
            q = q.where(r.c.split.in_(flt.splits))
        if flt.task_types:
            q = q.where(r.c.task_type.in_(flt.task_types))
        for path, value in flt.metadata:
            q = q.where(self._json_text(r.c.metadata, path) == literal(value, String))
        if flt.text:
            pattern = "%" + flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            if self.backend == "postgresql":
                q = q.where(cast(r.c.content, Text).ilike(pattern, escape="\\"))
            else:
                q = q.where(type_coerce(r.c.content, Text).like(pattern, escape="\\"))
        return q

    def _json_text(self, column: Any, path: str) -> Any:
        """The JSON value at the dotted ``path`` of ``column`` as text, alike on both backends."""
        keys = path.split(".")
        if not all(_KEY.fullmatch(k) for k in keys):
            msg = "expected keys of letters, digits, '_' or '-' joined by '.'"
            raise DataError(f"metadata path {path!r}: {msg}", [ErrorDetail("invalid_path", ("metadata", path), msg)])
        if self.backend == "postgresql":
            return func.jsonb_extract_path_text(column, *(literal(k, String) for k in keys), type_=String)
        json_path = literal("$" + "".join(f'."{k}"' for k in keys), String)
        kind = func.json_type(column, json_path)
        return case(
            (kind == "true", literal("true", String)),
            (kind == "false", literal("false", String)),
            else_=cast(func.json_extract(column, json_path), Text),
        )

    def page_records(
        self,
        dataset: Dataset,
        *,
        version: DatasetVersion | None = None,
        flt: RecordFilter = RecordFilter(),
        after: int | None = None,
        limit: int = 100,
    ) -> list[RecordRow]:
        """One page in insertion order, after the cursor ``after`` (a ``seq``): keyset pagination."""
        q = self._records_query(dataset, version, flt)
        if after is not None:
            q = q.where(t.records.c.seq > after)
        q = q.order_by(t.records.c.seq).limit(limit)
        with self.engine.connect() as conn:
            return [RecordRow(*row) for row in conn.execute(q).fetchall()]

    def iter_records(
        self,
        dataset: Dataset,
        *,
        version: DatasetVersion | None = None,
        flt: RecordFilter = RecordFilter(),
        batch_size: int = 2000,
    ) -> Iterator[list[RecordRow]]:
        """Stream batches of records by keyset pages; never the whole dataset in memory."""
        after: int | None = None
        while True:
            page = self.page_records(dataset, version=version, flt=flt, after=after, limit=batch_size)
            if not page:
                return
            yield page
            after = page[-1].seq

    def count_records(
        self, dataset: Dataset, version: DatasetVersion | None = None, flt: RecordFilter = RecordFilter()
    ) -> int:
        sub = self._records_query(dataset, version, flt).subquery()
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(sub)).scalar_one())

    def get_record(self, record_id: str) -> Record:
        q = select(*(t.records.c[c] for c in READ_COLUMNS)).where(t.records.c.id == record_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no record {record_id!r}")
        return RecordRow(*row).to_record()

    def record_rows(self, record_ids: Sequence[str]) -> list[RecordRow]:
        """The stored records among these ids, in one query (ids not found are left out)."""
        if not record_ids:
            return []
        q = select(*(t.records.c[c] for c in READ_COLUMNS)).where(t.records.c.id.in_(list(record_ids)))
        with self.engine.connect() as conn:
            return [RecordRow(*row) for row in conn.execute(q)]

    def get_dataset_record(self, dataset: Dataset, record_id: str) -> RecordRow:
        """A record of this dataset by id (NotFound for a record of another dataset)."""
        r = t.records
        q = select(*(r.c[c] for c in READ_COLUMNS)).where(r.c.id == record_id, r.c.dataset_id == dataset.id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"dataset {dataset.name} has no record {record_id!r}")
        return RecordRow(*row)

    def _dataset_of_record(self, record_id: str) -> Dataset:
        with self.engine.connect() as conn:
            row = conn.execute(
                self._dataset_query()
                .join(t.records, t.records.c.dataset_id == t.datasets.c.id)
                .where(t.records.c.id == record_id)
            ).first()
        if row is None:
            raise NotFound(f"no record {record_id!r}")
        return self._dataset_from_row(row)

    # -- responses and suggestions ----------------------------------------------------------

    def save_response(self, response: Response) -> Response:
        """Validate against the dataset's questions, then insert or replace this user's response."""
        assert response.record_id is not None
        dataset = self._dataset_of_record(response.record_id)
        record = self.get_record(response.record_id)
        answers, errors = _validate_answers(
            dataset.questions, response.answers, record, partial=response.status == "draft"
        )
        if errors:
            details = [ErrorDetail("invalid_answer", ("answers", *e.loc), e.msg, e.value) for e in errors]
            raise DataError(f"response to record {response.record_id} does not fit the questions", details)
        now = _now()
        rid = response_id(response.record_id, response.user)
        with self.engine.begin() as conn:
            exists = conn.execute(select(t.responses.c.id).where(t.responses.c.id == rid)).first()
            values = {"answers": dumps(answers), "status": response.status, "updated_at": now}
            if exists:
                conn.execute(update(t.responses).where(t.responses.c.id == rid).values(**values))
            else:
                conn.execute(
                    insert(t.responses).values(
                        id=rid, record_id=response.record_id, user_name=response.user, created_at=now, **values
                    )
                )
        return response.model_copy(update={"id": rid, "answers": answers, "updated_at": now})

    def has_responses(self, dataset: Dataset, version: DatasetVersion | None = None) -> bool:
        if version is not None:
            q = select(t.version_responses.c.response_id).where(t.version_responses.c.version_id == version.id)
        else:
            q = (
                select(t.responses.c.id)
                .join(t.records, t.records.c.id == t.responses.c.record_id)
                .where(t.records.c.dataset_id == dataset.id)
            )
        with self.engine.connect() as conn:
            return conn.execute(q.limit(1)).first() is not None

    def responses_for(
        self, record_ids: Sequence[str], version: DatasetVersion | None = None
    ) -> dict[str, list[Response]]:
        """Submitted responses of these records (as frozen in ``version``, when given)."""
        if not record_ids:
            return {}
        if version is not None:
            vr = t.version_responses
            q = select(vr.c.response_id.label("id"), vr.c.record_id, vr.c.user_name, vr.c.answers, vr.c.status).where(
                vr.c.version_id == version.id, vr.c.record_id.in_(record_ids)
            )
        else:
            r = t.responses
            q = select(r).where(r.c.record_id.in_(record_ids))
        out: dict[str, list[Response]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(q):
                if row.status == "submitted":
                    out.setdefault(row.record_id, []).append(response_from_row(row))
        return out

    def list_responses(self, record_id: str, user: str | None = None) -> list[Response]:
        """Every response to a record, drafts included (only ``user``'s when given), by user name."""
        r = t.responses
        q = select(r).where(r.c.record_id == record_id).order_by(r.c.user_name)
        if user is not None:
            q = q.where(r.c.user_name == user)
        with self.engine.connect() as conn:
            return [response_from_row(row) for row in conn.execute(q)]

    def save_suggestion(self, suggestion: Suggestion) -> Suggestion:
        assert suggestion.record_id is not None
        dataset = self._dataset_of_record(suggestion.record_id)
        record = self.get_record(suggestion.record_id)
        _, errors = _validate_answers(dataset.questions, {suggestion.question: suggestion.value}, record, partial=True)
        if errors:
            details = [ErrorDetail("invalid_answer", ("value", *e.loc[1:]), e.msg, e.value) for e in errors]
            raise DataError(f"suggestion for record {suggestion.record_id} does not fit its question", details)
        sid = hashlib.blake2b(
            f"{suggestion.record_id}:{suggestion.question}:{suggestion.agent}".encode(), digest_size=12
        ).hexdigest()
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(t.suggestions.delete().where(t.suggestions.c.id == sid))
            conn.execute(
                insert(t.suggestions).values(
                    id=sid,
                    record_id=suggestion.record_id,
                    question=suggestion.question,
                    value=dumps(suggestion.value),
                    agent=suggestion.agent,
                    score=suggestion.score,
                    created_at=now,
                )
            )
        return suggestion.model_copy(update={"id": sid, "created_at": now})

    def suggestions_for(self, record_id: str) -> list[Suggestion]:
        s = t.suggestions
        with self.engine.connect() as conn:
            rows = conn.execute(select(s).where(s.c.record_id == record_id).order_by(s.c.question)).all()
        return [
            Suggestion(
                id=r.id,
                record_id=r.record_id,
                question=r.question,
                value=orjson.loads(r.value),
                agent=r.agent,
                score=r.score,
                created_at=r.created_at,
            )
            for r in rows
        ]

    # -- versions -------------------------------------------------------------------------

    def create_version(self, dataset: Dataset, name: str, description: str | None = None) -> DatasetVersion:
        """Freeze the dataset's current records and submitted responses under ``name``."""
        r, resp = t.records, t.responses
        try:
            with self.engine.begin() as conn:
                vid = open_version(conn, dataset, name, description)
                conn.execute(
                    insert(t.version_records).from_select(
                        ["version_id", "record_seq"],
                        select(literal(vid, Integer), r.c.seq).where(r.c.dataset_id == dataset.id),
                    )
                )
                conn.execute(
                    insert(t.version_responses).from_select(
                        ["version_id", "response_id", "record_id", "user_name", "answers", "status"],
                        select(
                            literal(vid, Integer),
                            resp.c.id,
                            resp.c.record_id,
                            resp.c.user_name,
                            resp.c.answers,
                            resp.c.status,
                        )
                        .join(r, r.c.id == resp.c.record_id)
                        .where(r.c.dataset_id == dataset.id, resp.c.status == "submitted"),
                    )
                )
                seal_version(conn, vid)
        except IntegrityError:
            raise Conflict(f"version {name!r} of {dataset.project}/{dataset.name} already exists") from None
        return self.get_version(dataset, name)

    def get_version(self, dataset: Dataset, name: str) -> DatasetVersion:
        v = t.dataset_versions
        with self.engine.connect() as conn:
            row = conn.execute(select(v).where(v.c.dataset_id == dataset.id, v.c.name == name)).first()
        if row is None:
            raise NotFound(f"dataset {dataset.project}/{dataset.name} has no version {name!r}")
        return _version_from_row(dataset, row)

    def list_versions(self, dataset: Dataset) -> list[DatasetVersion]:
        v = t.dataset_versions
        with self.engine.connect() as conn:
            rows = conn.execute(select(v).where(v.c.dataset_id == dataset.id).order_by(v.c.id)).all()
        return [_version_from_row(dataset, r) for r in rows]

    def version_questions(self, version: DatasetVersion) -> list[Question]:
        v = t.dataset_versions
        with self.engine.connect() as conn:
            raw = conn.execute(select(v.c.questions).where(v.c.id == version.id)).scalar_one()
        return _QUESTIONS.validate_json(raw)

    # -- stats ----------------------------------------------------------------------------

    def stats(self, dataset: Dataset, version: DatasetVersion | None = None) -> Stats:
        cols = ("id", "kind", "split", "task_type", "import_id")
        sub = self._records_query(dataset, version, RecordFilter(), cols).subquery()
        out = Stats()
        with self.engine.connect() as conn:
            for col, target in (
                (sub.c.kind, out.by_kind),
                (sub.c.split, out.by_split),
                (sub.c.task_type, out.by_task_type),
            ):
                for key, n in conn.execute(select(col, func.count()).group_by(col).order_by(col)):
                    target[key if key is not None else "(none)"] = int(n)
            out.total = sum(out.by_kind.values())
            src = t.imports
            q = (
                select(src.c.format, func.count())
                .select_from(sub.join(src, src.c.id == sub.c.import_id, isouter=True))
                .group_by(src.c.format)
            )
            for fmt, n in conn.execute(q):
                out.by_source[fmt or "api"] = int(n)
            if version is not None:  # the responses frozen with the version, not today's
                vr = t.version_responses
                rq = select(func.count()).select_from(vr).where(vr.c.version_id == version.id)
            else:
                rq = (
                    select(func.count())
                    .select_from(t.responses.join(sub, sub.c.id == t.responses.c.record_id))
                    .where(t.responses.c.status == "submitted")
                )
            out.responses = int(conn.execute(rq).scalar_one())
        return out


def _delete_dataset(conn: Connection, dataset_id: int) -> None:
    seqs = select(t.records.c.seq).where(t.records.c.dataset_id == dataset_id)
    ids = select(t.records.c.id).where(t.records.c.dataset_id == dataset_id)
    versions = select(t.dataset_versions.c.id).where(t.dataset_versions.c.dataset_id == dataset_id)
    conn.execute(t.version_records.delete().where(t.version_records.c.record_seq.in_(seqs)))
    conn.execute(t.version_responses.delete().where(t.version_responses.c.version_id.in_(versions)))
    conn.execute(t.responses.delete().where(t.responses.c.record_id.in_(ids)))
    conn.execute(t.suggestions.delete().where(t.suggestions.c.record_id.in_(ids)))
    for table in (t.records, t.dataset_versions, t.imports):
        conn.execute(table.delete().where(table.c.dataset_id == dataset_id))
    conn.execute(t.datasets.delete().where(t.datasets.c.id == dataset_id))


def _raw(col: Any) -> Any:
    """Bulk reads skip per-value conversions: the timestamp stays ISO text (pydantic parses it on
    demand) and the flag an int; JSON columns already have no result processor."""
    if col.name == "created_at":
        return type_coerce(col, String).label(col.name)
    if col.name == "synthetic":
        return type_coerce(col, Integer).label(col.name)
    return col


def _version_from_row(dataset: Dataset, row: Any) -> DatasetVersion:
    return DatasetVersion(
        id=row.id,
        dataset=f"{dataset.project}/{dataset.name}",
        name=row.name,
        description=row.description,
        record_count=row.record_count,
        manifest_hash=row.manifest_hash,
        created_at=row.created_at,
    )


def open_version(conn: Connection, dataset: Dataset, name: str, description: str | None) -> int:
    """Insert an empty version row (its membership follows, then `seal_version`); its id."""
    vid: int = conn.execute(
        insert(t.dataset_versions)
        .values(
            dataset_id=dataset.id,
            name=name,
            description=description,
            record_count=0,
            manifest_hash="",
            questions=_QUESTIONS.dump_json(dataset.questions).decode(),
            created_at=_now(),
        )
        .returning(t.dataset_versions.c.id)
    ).scalar_one()
    return vid


def seal_version(conn: Connection, vid: int) -> None:
    """Count the version's members and write its manifest hash."""
    digest, count = _manifest_hash(conn, vid)
    conn.execute(
        update(t.dataset_versions)
        .where(t.dataset_versions.c.id == vid)
        .values(record_count=count, manifest_hash=digest)
    )


def _manifest_hash(conn: Any, version_id: int) -> tuple[str, int]:
    """sha256 over member (id, content_hash) in seq order, then frozen responses: reproducibility check."""
    h = hashlib.sha256()
    count = 0
    q = (
        select(t.records.c.id, t.records.c.content_hash)
        .join(t.version_records, t.version_records.c.record_seq == t.records.c.seq)
        .where(t.version_records.c.version_id == version_id)
        .order_by(t.records.c.seq)
    )
    # Per statement (not on the connection): a server-side cursor must not carry over to the UPDATE after.
    for rid, chash in conn.execute(q.execution_options(yield_per=5000)):
        h.update(f"{rid}:{chash}\n".encode())
        count += 1
    vr = t.version_responses
    q2 = select(vr.c.response_id, vr.c.answers).where(vr.c.version_id == version_id).order_by(vr.c.response_id)
    for rid, answers in conn.execute(q2.execution_options(yield_per=5000)):
        h.update(f"{rid}:{orjson.dumps(orjson.loads(answers), option=orjson.OPT_SORT_KEYS).decode()}\n".encode())
    return h.hexdigest(), count
