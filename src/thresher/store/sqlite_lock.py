"""SQLite writers wait their turn on a file lock, not in SQLite's busy handler.

SQLite has one writer at a time. A connection that finds the database locked sleeps in its busy
handler, 1, 2, 5, 10 … up to 100 ms between tries, and does not learn when the lock is free. Two
processes that write often (the server's capture intake and its capture worker) then lose turns
to each other: a write that waits behind a 20 ms transaction can sleep for hundreds of
milliseconds, and one that keeps missing the gaps between the other's transactions waits longer
still. Measured: capture intake's insert waited p99 575 ms for a lock held about 20 ms at a time.

So every connection of a file database takes a lock before its first write in a transaction and
gives it back when the transaction ends: a thread lock within the process, then ``flock`` on a
file beside the database across processes. Both wake a waiter as soon as the holder lets go.

The lock only orders writers; SQLite's own lock still guarantees correctness. A write this module
does not recognize (or a writer outside Thresher, such as the ``sqlite3`` shell) simply falls back
to the busy handler. A thread that writes in one connection while its own transaction in another
holds the lock would wait for itself: it gets SQLite's "database is locked" error at once.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

# First words of the statements that take SQLite's write lock (explicit write transactions too).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")


def _is_write(sql: str) -> bool:
    return sql.lstrip()[:16].upper().startswith(_WRITES)


class WriteLock:
    """The writers' turn for one database file, shared by the process's connections to it."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout  # seconds a thread waits for another thread of this process
        self._threads = threading.Lock()
        self._owner: int | None = None  # the thread holding the lock
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._owner == threading.get_ident():
            raise sqlite3.OperationalError(
                "database is locked: this thread's transaction in another connection holds the write lock"
            )
        if not self._threads.acquire(timeout=self.timeout):
            raise sqlite3.OperationalError("database is locked")
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            # Blocking, without a timeout: whoever holds it is inside one SQLite write transaction,
            # which ends (or fails on SQLite's own busy timeout); the kernel frees it if it dies.
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._owner = threading.get_ident()

    def release(self) -> None:
        self._owner = None
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


_locks: dict[tuple[int, str], WriteLock] = {}
_locks_guard = threading.Lock()


def write_lock(database: Path, timeout: float) -> WriteLock:
    """The process's lock for ``database`` (one per file, so all its engines queue together)."""
    path = database.resolve().with_name(database.name + "-writer")
    # By pid too: a forked child opens its own file, since a shared open file shares its flock.
    key = (os.getpid(), str(path))
    with _locks_guard:
        if key not in _locks:
            _locks[key] = WriteLock(path, timeout)
        return _locks[key]


class LockingCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> LockingCursor:
        return self._locked(super().execute, sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> LockingCursor:
        return self._locked(super().executemany, sql, seq_of_parameters)

    def _locked(self, run: Any, sql: str, parameters: Any) -> LockingCursor:
        conn: LockingConnection = self.connection  # type: ignore[assignment]
        conn._before(sql)
        try:
            run(sql, parameters)
        finally:
            conn._after()
        return self


class LockingConnection(sqlite3.Connection):
    """A sqlite3 connection (``sqlite3.connect(..., factory=LockingConnection)``) that holds its
    database's ``WriteLock`` from its first write in a transaction to the transaction's end."""

    lock: WriteLock | None = None  # set on connect; None: no queueing (an in-memory database)
    _holding = False

    def cursor(self, factory: Any = LockingCursor) -> Any:
        return super().cursor(factory)

    def _before(self, sql: str) -> None:
        if self.lock is not None and not self._holding and _is_write(sql):
            self.lock.acquire()
            self._holding = True

    def _after(self) -> None:
        # A statement outside a transaction (DDL, or a failed first write) ends its own turn.
        if self._holding and not self.in_transaction:
            self._release()

    def _release(self) -> None:
        if self._holding and self.lock is not None:
            self._holding = False
            self.lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._after()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._after()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()
