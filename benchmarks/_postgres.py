"""A throwaway PostgreSQL server for the benchmarks (the start/stop logic of tests/conftest.py).

Debian's ``initdb``/``pg_ctl`` start a cluster in a temporary folder, listening only on a unix
socket there; as root it runs as the ``postgres`` user. Durability is switched off (fsync,
synchronous_commit, full_page_writes) exactly as in the test suite: the figures measure CPU
and protocol cost, not the disk. Always ``stop()`` it (the class is a context manager).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from types import TracebackType


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def available() -> bool:
    return bool(_pg_bin("initdb") and _pg_bin("pg_ctl"))


class PostgresServer:
    def __init__(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
        self.root: str | None = tempfile.mkdtemp(prefix="thresher-bench-pg-", dir="/tmp")
        as_user: list[str] = []
        if os.geteuid() == 0:  # postgres refuses to run as root
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        data = f"{self.root}/data"
        self._ctl = [*as_user, pg_ctl, "-D", data]
        self._started = False
        try:
            subprocess.run(
                [*as_user, initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
                check=True,
                capture_output=True,
            )
            opts = (
                f"-k {self.root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            subprocess.run(
                [*self._ctl, "-o", opts, "-l", f"{self.root}/log", "-w", "start"], check=True, capture_output=True
            )
            self._started = True
        except BaseException:
            self.stop()
            raise
        self.url_base = f"postgresql+psycopg://postgres@/{{db}}?host={self.root}"
        postgres = _pg_bin("postgres") or "postgres"
        self.version = subprocess.run([postgres, "--version"], capture_output=True, text=True).stdout.strip()

    def new_database(self) -> str:
        """A fresh database; returns its SQLAlchemy URL (``postgresql+psycopg://...``)."""
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(psycopg_url(self.url_base.format(db="postgres")), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url_base.format(db=name)

    def stop(self) -> None:
        if self.root is None:
            return
        if self._started:
            subprocess.run([*self._ctl, "-m", "immediate", "stop"], capture_output=True)
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def psycopg_url(sqlalchemy_url: str) -> str:
    """The libpq URL psycopg takes for a SQLAlchemy ``postgresql+psycopg://`` URL."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
