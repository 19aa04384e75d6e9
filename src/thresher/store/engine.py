"""Database URLs and engines: SQLite (WAL) by default, PostgreSQL by URL; schema via Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from thresher.errors import ConfigError, DataError, MissingExtra
from thresher.store.sqlite_lock import LockingConnection, write_lock

DB_FILE = "thresher.db"
BUSY_TIMEOUT_MS = 10_000


def resolve_url(url: str | None, home: Path) -> str:
    """The database URL: the one given (option or setting), else SQLite in ``home``."""
    if not url:
        return f"sqlite:///{home / DB_FILE}"
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise ConfigError(f"bad database URL {url!r}: {e}") from None
    if parsed.drivername in ("postgresql", "postgresql+psycopg2"):  # Thresher ships psycopg 3
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    elif parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"unsupported database {parsed.get_backend_name()!r}; expected sqlite or postgresql")
    return url


def make_engine(url: str) -> Engine:
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise MissingExtra("psycopg", "postgres") from None
        engine = create_engine(url, pool_pre_ping=True)
        event.listen(engine, "connect", _postgres_on_connect)
        event.listen(engine, "handle_error", _postgres_on_error)
        return engine
    # A pool as large as the server's threadpool can use: under load, the default (5 + 10 overflow)
    # kept opening and closing overflow connections, each paying its PRAGMAs again.
    database = make_url(url).database
    if database in (None, "", ":memory:") or str(database).startswith("file:"):
        engine = create_engine(url)
    else:
        # Writers queue on a file lock rather than sleep in SQLite's busy handler (sqlite_lock).
        engine = create_engine(url, pool_size=20, max_overflow=20, connect_args={"factory": LockingConnection})
        lock = write_lock(Path(str(database)), BUSY_TIMEOUT_MS / 1000)
        event.listen(engine, "connect", lambda conn, _record: setattr(conn, "lock", lock))
    event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside one writer; NORMAL sync is safe in WAL (no corruption on crash).
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MB: bulk inserts keep their index pages in memory
    cur.close()


def _postgres_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # JSONB comes back as text, like SQLite's TEXT, so both backends hand the same str upward.
    from psycopg.types.string import TextLoader

    dbapi_conn.adapters.register_loader("jsonb", TextLoader)
    dbapi_conn.adapters.register_loader("json", TextLoader)


# PostgreSQL cannot store NUL in text nor \u0000 in JSONB (SQLite can): psycopg refuses the first
# before sending (a DataError without SQLSTATE), the server the second (22P05, or 22021).
_UNSTORABLE_TEXT = {"22P05", "22021"}


def unstorable_text(exc: BaseException) -> DataError | None:
    """The input error behind a PostgreSQL driver error about text it cannot store, else None."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - only PostgreSQL engines call this
        return None
    if not isinstance(exc, psycopg.DataError):
        return None
    if getattr(exc, "sqlstate", None) in _UNSTORABLE_TEXT or "NUL" in str(exc):
        return DataError("text may not contain NUL (\\u0000) characters: PostgreSQL cannot store them")
    return None


def _postgres_on_error(context: Any) -> None:
    translated = unstorable_text(context.original_exception)
    if translated is not None:
        raise translated


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def begin_write(conn: Connection) -> None:
    """Start ``conn``'s transaction as a writer, on SQLite (where a transaction that reads first
    takes its snapshot then, and fails if another writer commits before its first write). Call it
    first in the transaction; on PostgreSQL it does nothing."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
