"""Shared fixtures: a store on SQLite and on a real PostgreSQL server started for the session.

The PostgreSQL server is Debian's (``initdb``/``pg_ctl`` from the ``postgresql`` package),
started on a unix socket in a temporary folder. Set ``THRESHER_TEST_DATABASE_URL`` to use a
server of your own instead. With ``THRESHER_REQUIRE_POSTGRES=1`` (as ``make test`` sets) a
missing server fails the run instead of skipping its tests.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from thresher.store import Store


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PostgresServer:
    """A throwaway PostgreSQL cluster; one fresh database per test."""

    def __init__(self) -> None:
        self.url_base = os.environ.get("THRESHER_TEST_DATABASE_URL")
        self.root: str | None = None
        self.version = "external"
        if self.url_base:
            return
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
        self.root = tempfile.mkdtemp(prefix="thresher-pg-", dir="/tmp")
        as_user: list[str] = []
        if os.geteuid() == 0:  # postgres refuses to run as root: run it as Debian's postgres user
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        data = f"{self.root}/data"
        self._ctl = [*as_user, pg_ctl, "-D", data]
        subprocess.run(
            [*as_user, initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip
        opts = f"-k {self.root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            [*self._ctl, "-o", opts, "-l", f"{self.root}/log", "-w", "start"], check=True, capture_output=True
        )
        self.url_base = f"postgresql+psycopg://postgres@/{{db}}?host={self.root}"
        self.version = subprocess.run(
            [_pg_bin("postgres") or "postgres", "--version"], capture_output=True, text=True
        ).stdout.strip()

    def _admin(self, sql: str) -> None:
        import psycopg

        assert self.url_base is not None
        admin = self.url_base.format(db="postgres").replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql)

    def new_database(self) -> str:
        assert self.url_base is not None
        if "{db}" not in self.url_base:
            return self.url_base  # an external server: the caller owns its database
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._admin(f"CREATE DATABASE {name}")
        return self.url_base.format(db=name)

    def drop_database(self, url: str) -> None:
        if self.url_base and "{db}" in self.url_base:
            name = url.split("?")[0].rsplit("/", 1)[-1]
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.root:
            subprocess.run([*self._ctl, "-m", "immediate", "stop"], capture_output=True)
            shutil.rmtree(self.root, ignore_errors=True)


_PG: dict[str, Any] = {}


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except (RuntimeError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", b"") or b""
        message = f"cannot start PostgreSQL: {e} {detail.decode(errors='replace')[-500:]}"
        if os.environ.get("THRESHER_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    _PG["version"] = server.version
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    url = pg_server.new_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "home")
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same tests on both backends."""
    if request.param == "sqlite":
        s = Store.open(tmp_path / "home")
    else:
        url = request.getfixturevalue("pg_url")
        s = Store.open(tmp_path / "home", url=url)
    yield s
    s.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    def count(outcome: str) -> int:
        return sum(1 for r in terminalreporter.stats.get(outcome, []) if r.when == "call" and "postgres" in r.keywords)

    passed, failed = count("passed"), count("failed")
    if passed or failed:
        terminalreporter.write_line(
            f"PostgreSQL ({_PG.get('version', '?')}): {passed} tests ran against a real server, {failed} failed"
        )
