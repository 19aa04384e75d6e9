"""SQLite writers queue on the write lock (thresher.store.sqlite_lock), across threads and processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from thresher.store.engine import begin_write, make_engine
from thresher.store.sqlite_lock import LockingConnection


def _engine(path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS log (who TEXT, at REAL)")
    return engine


def _hold_write(path: str, started: object, seconds: float) -> None:
    """In another process: hold a write transaction for ``seconds``, then commit."""
    engine = _engine(Path(path))
    with engine.connect() as conn, conn.begin():
        conn.execute(text("INSERT INTO log VALUES ('child', :at)"), {"at": time.time()})
        started.set()  # type: ignore[attr-defined]
        time.sleep(seconds)
        conn.execute(text("INSERT INTO log VALUES ('child-end', :at)"), {"at": time.time()})
    engine.dispose()


def test_connections_of_a_file_database_take_the_lock(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "a.db")
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, LockingConnection)
        assert raw.lock is not None and raw.lock.path == (tmp_path / "a.db-writer").resolve()
    memory = make_engine("sqlite://")
    with memory.connect() as conn:
        assert not isinstance(conn.connection.dbapi_connection, LockingConnection)


def test_a_writer_waits_for_another_threads_transaction_and_goes_on_when_it_ends(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "a.db")
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("INSERT INTO log VALUES ('first', 0)"))
            holding.set()
            time.sleep(0.3)
            order.append("first commits")

    def second() -> None:
        holding.wait()
        with engine.connect() as conn, conn.begin():
            conn.execute(text("INSERT INTO log VALUES ('second', 0)"))
            order.append("second wrote")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert order == ["first commits", "second wrote"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM log")).scalar() == 2


def test_a_rollback_and_a_failed_write_give_the_lock_back(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "a.db")
    with engine.connect() as conn:
        with conn.begin() as tx:
            conn.execute(text("INSERT INTO log VALUES ('gone', 0)"))
            tx.rollback()
        with pytest.raises(OperationalError):  # fails before any transaction starts
            conn.execute(text("INSERT INTO nowhere VALUES (1)"))
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, LockingConnection)
        assert not raw._holding
    done = threading.Event()

    def other() -> None:  # would wait forever if the lock were still held
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO log VALUES ('other', 0)"))
        done.set()

    th = threading.Thread(target=other, daemon=True)
    th.start()
    assert done.wait(5)


def test_a_thread_writing_in_a_second_connection_while_it_holds_the_lock_fails_at_once(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "a.db")
    with engine.connect() as outer, outer.begin():
        outer.execute(text("INSERT INTO log VALUES ('outer', 0)"))
        start = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"), engine.begin() as inner:
            inner.execute(text("INSERT INTO log VALUES ('inner', 0)"))
        assert time.monotonic() - start < 1.0  # not SQLite's 10 s busy timeout, nor forever


def test_writers_in_two_processes_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    engine = _engine(path)
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    child = ctx.Process(target=_hold_write, args=(str(path), started, 0.5))
    child.start()
    try:
        assert started.wait(30)
        with engine.connect() as conn, conn.begin():
            begin_write(conn)  # waits for the child's transaction to end
            conn.execute(text("INSERT INTO log VALUES ('parent', :at)"), {"at": time.time()})
    finally:
        child.join(30)
    assert child.exitcode == 0
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT who, at FROM log")).all())
    assert rows["parent"] >= rows["child-end"]  # the parent wrote only once the child had committed


def test_sqlite_busy_handler_still_guards_writers_outside_thresher(tmp_path: Path) -> None:
    """A plain sqlite3 connection (the shell, another tool) takes no file lock: SQLite's own lock
    still keeps it and Thresher's writers apart."""
    path = tmp_path / "a.db"
    engine = _engine(path)
    plain = sqlite3.connect(path, timeout=10, check_same_thread=False)
    plain.execute("BEGIN IMMEDIATE")
    plain.execute("INSERT INTO log VALUES ('plain', 0)")
    released = threading.Timer(0.3, plain.commit)
    released.start()
    with engine.begin() as conn:  # waits in the busy handler, then writes
        conn.execute(text("INSERT INTO log VALUES ('thresher', 0)"))
    released.join()
    plain.close()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM log")).scalar() == 2
