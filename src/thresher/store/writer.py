"""Bulk record writer: one transaction for a whole import, written in batches.

Atomic by construction: nothing is visible until ``commit``; an exception (a bad record,
Ctrl-C) rolls everything back. Duplicates (same content hash in the dataset) are skipped by
the database's unique index, so importing the same file twice adds nothing.
SQLite takes ``executemany``; PostgreSQL takes ``COPY`` into a temporary table, then one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, insert

from thresher.model import Record, Response
from thresher.store.engine import unstorable_text
from thresher.store.rows import RECORD_COLUMNS, dumps, record_id, record_values, response_id
from thresher.store.tables import imports

_COLS = ", ".join(RECORD_COLUMNS)
_RESPONSE_COLS = ("id", "record_id", "user_name", "answers", "status", "created_at", "updated_at")
_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS _thresher_stage (
    ord bigserial, id text, dataset_id integer, kind text, content jsonb, content_hash text, metadata jsonb,
    source jsonb, split text, task_type text, domains jsonb, lineage jsonb, synthetic boolean,
    import_id text, created_at timestamptz
) ON COMMIT DROP
"""


class RecordWriter:
    """``with store.writer(dataset) as w: w.add(record)``; commits on a clean exit.

    Given a ``connection`` (with a transaction begun), the writer works inside that transaction
    and leaves committing to its owner: several writers, one commit (capture's group commit).
    """

    def __init__(
        self,
        engine: Engine,
        dataset_id: int,
        import_id: str | None = None,
        batch_size: int = 2000,
        connection: Connection | None = None,
    ) -> None:
        self._engine = engine
        self._outer = connection
        self.dataset_id = dataset_id
        self.import_id = import_id
        self.batch_size = batch_size
        self.added = 0
        self.duplicates = 0
        self.responses_added = 0
        self._records: list[tuple[Any, ...]] = []
        self._responses: list[tuple[Any, ...]] = []
        self._conn: Connection | None = None
        self.log: dict[str, Any] | None = None  # the import's file/format/counts, written with the records
        self._postgres = engine.dialect.name == "postgresql"
        self._ph = "%s" if self._postgres else "?"

    def __enter__(self) -> RecordWriter:
        if self._outer is not None:
            self._conn = self._outer
        else:
            self._conn = self._engine.connect()
            self._conn.begin()
        if self._postgres:
            self._conn.exec_driver_sql(_STAGE_DDL)
        return self

    @property
    def connection(self) -> Connection:
        """The connection holding this writer's transaction, for statements that must commit with it."""
        assert self._conn is not None, "use the writer as a context manager"
        return self._conn

    def add(self, record: Record, responses: Sequence[Response] = ()) -> str:
        """Queue a record (and labels that came with it); returns the record's id."""
        now = datetime.now(UTC)
        values = record_values(record, self.dataset_id, self.import_id, now)
        self._records.append(values)
        rid: str = values[0]
        for r in responses:
            self._responses.append((response_id(rid, r.user), rid, r.user, dumps(r.answers), r.status, now, now))
        if len(self._records) >= self.batch_size:
            self.flush()
        return rid

    def flush(self) -> None:
        assert self._conn is not None, "use the writer as a context manager"
        if self._records:
            inserted = self._copy_records() if self._postgres else self._insert_records()
            self.added += inserted
            self.duplicates += len(self._records) - inserted
            self._records.clear()
        if self._responses:
            sql = (
                f"INSERT INTO responses ({', '.join(_RESPONSE_COLS)}) VALUES ({', '.join([self._ph] * 7)}) "
                "ON CONFLICT (record_id, user_name) DO NOTHING"
            )
            result = self._conn.exec_driver_sql(sql, self._responses)
            self.responses_added += max(result.rowcount, 0)
            self._responses.clear()

    def _insert_records(self) -> int:
        assert self._conn is not None
        sql = (
            f"INSERT INTO records ({_COLS}) VALUES ({', '.join([self._ph] * len(RECORD_COLUMNS))}) "
            "ON CONFLICT (dataset_id, content_hash) DO NOTHING"
        )
        result = self._conn.exec_driver_sql(sql, self._records)
        return int(result.rowcount)

    def _copy_records(self) -> int:
        assert self._conn is not None
        raw: Any = self._conn.connection.driver_connection
        with raw.cursor() as cur:
            try:
                with cur.copy(f"COPY _thresher_stage ({_COLS}) FROM STDIN") as copy:
                    for row in self._records:
                        copy.write_row(row)
            except Exception as e:  # the raw driver's COPY: translate what the engine's hook would
                translated = unstorable_text(e)
                if translated is None:
                    raise
                raise translated from None
            cur.execute(
                f"INSERT INTO records ({_COLS}) SELECT {_COLS} FROM _thresher_stage ORDER BY ord "
                "ON CONFLICT (dataset_id, content_hash) DO NOTHING"
            )
            inserted = int(cur.rowcount)
            cur.execute("TRUNCATE _thresher_stage")
        return inserted

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None
        if self._outer is not None:  # the connection's owner commits or rolls back
            if exc_type is None:
                self.flush()
            self._conn = None
            return
        try:
            if exc_type is None:
                self.flush()
                if self.log is not None and self.import_id is not None:
                    self._conn.execute(
                        insert(imports).values(
                            id=self.import_id,
                            dataset_id=self.dataset_id,
                            file=self.log["file"],
                            format=self.log["format"],
                            counts=dumps(self.log["counts"]),
                            created_at=datetime.now(UTC),
                        )
                    )
                self._conn.commit()
            else:
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None


__all__ = ["RecordWriter", "record_id"]
