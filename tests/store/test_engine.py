"""Database URLs, SQLite settings, migrations and blob storage."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from thresher.errors import ConfigError, NotFound
from thresher.model import BlobRef, Record
from thresher.store import BlobStore, Store
from thresher.store import blobs as blobs_module
from thresher.store.engine import DB_FILE, resolve_url

MIGRATIONS = Path(blobs_module.__file__).parent / "migrations"


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


# -- resolve_url ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [None, ""])
def test_resolve_url_defaults_to_sqlite_in_home(url: str | None, tmp_path: Path) -> None:
    assert resolve_url(url, tmp_path) == f"sqlite:///{tmp_path / DB_FILE}"
    assert DB_FILE == "thresher.db"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@db.example/thr",
        "postgresql://u:s3cret@db:5433/thr",
        "postgresql+psycopg2://u@db.example/thr",
        "postgresql+psycopg://u@db.example/thr",
    ],
)
def test_resolve_url_uses_psycopg_for_postgres(url: str, tmp_path: Path) -> None:
    out = resolve_url(url, tmp_path)
    parsed, given = make_url(out), make_url(url)
    assert parsed.get_backend_name() == "postgresql"
    assert parsed.get_driver_name() == "psycopg"
    assert create_engine(out).dialect.driver == "psycopg"  # no connection is made
    assert (parsed.username, parsed.password, parsed.host, parsed.port, parsed.database) == (
        given.username,
        given.password,  # the password is kept, not masked
        given.host,
        given.port,
        given.database,
    )


def test_resolve_url_rewrites_psycopg2_explicitly(tmp_path: Path) -> None:
    assert resolve_url("postgresql+psycopg2://u:pw@db/thr", tmp_path) == "postgresql+psycopg://u:pw@db/thr"


@pytest.mark.parametrize("url", ["sqlite:////data/t.db", "sqlite://"])
def test_resolve_url_keeps_sqlite_urls(url: str, tmp_path: Path) -> None:
    assert resolve_url(url, tmp_path) == url


@pytest.mark.parametrize("url", ["mysql://u@db/thr", "mssql+pyodbc://u@db/thr", "oracle://u@db/x"])
def test_resolve_url_rejects_other_backends(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected sqlite or postgresql"):
        resolve_url(url, tmp_path)


def test_resolve_url_rejects_garbage(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="bad database URL"):
        resolve_url("not a url at all", tmp_path)


# -- SQLite ---------------------------------------------------------------------------------------


def test_sqlite_file_is_in_the_home_in_wal_mode_with_foreign_keys(sqlite_store: Store, tmp_path: Path) -> None:
    assert sqlite_store.backend == "sqlite"
    assert (tmp_path / "home" / DB_FILE).is_file()
    assert (tmp_path / "home" / "blobs").is_dir()
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 10000


def test_sqlite_enforces_foreign_keys(sqlite_store: Store) -> None:
    now = "2026-01-01 00:00:00"
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), sqlite_store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO responses (id, record_id, user_name, answers, status, created_at, updated_at) "
                "VALUES ('r', 'no-such-record', 'ann', '{}', 'submitted', :now, :now)"
            ),
            {"now": now},
        )


# -- migrations -----------------------------------------------------------------------------------


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = Store.open(home)
    ds = first.ensure_dataset("p", "d")
    first.add_records(ds, [Record(content={"kind": "text", "text": "kept"})])
    first.close()
    second = Store.open(home)  # upgrading an up-to-date database changes nothing
    try:
        with second.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [_head()]
        assert second.count_records(second.get_dataset("p", "d")) == 1
    finally:
        second.close()


def test_reopening_is_idempotent_on_both_backends(store: Store, tmp_path: Path) -> None:
    ds = store.ensure_dataset("p", "d")
    store.add_records(ds, [Record(content={"kind": "text", "text": "kept"})])
    url = store.engine.url.render_as_string(hide_password=False) if store.backend == "postgresql" else None
    again = Store.open(tmp_path / "home", url=url)  # the fixture's home: the same database
    try:
        assert again.backend == store.backend
        with again.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [_head()]
        assert again.count_records(again.get_dataset("p", "d")) == 1
        assert {
            "alembic_version",
            "projects",
            "datasets",
            "records",
            "dataset_versions",
            "version_records",
            "responses",
            "version_responses",
            "suggestions",
            "imports",
        } <= set(inspect(again.engine).get_table_names())
    finally:
        again.close()


# -- blobs ----------------------------------------------------------------------------------------


def test_blob_put_bytes_dedups_by_sha256(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    data = b"\x89PNG fake image bytes"
    digest = hashlib.sha256(data).hexdigest()
    ref = blobs.put_bytes(data, "image/png")
    assert ref == BlobRef(uri=f"blob://sha256/{digest}", mime_type="image/png", sha256=digest, size=len(data))
    again = blobs.put(io.BytesIO(data))
    assert again.uri == ref.uri and again.sha256 == digest
    other = blobs.put_bytes(b"other bytes")
    assert other.uri != ref.uri
    files = sorted(p.relative_to(tmp_path / "blobs").as_posix() for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    assert files == sorted(
        f"{d[:2]}/{d[2:4]}/{d}" for d in (digest, hashlib.sha256(b"other bytes").hexdigest())
    )  # one file per content, no temporary files left behind


def test_blob_put_streams_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobs_module, "_CHUNK", 4)
    blobs = BlobStore(str(tmp_path / "blobs"))
    data = bytes(range(256)) * 3
    ref = blobs.put(io.BytesIO(data))
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.size == len(data)
    with blobs.open(ref) as f:
        assert f.read() == data


def test_blob_put_file_open_and_exists(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    src = tmp_path / "clip.wav"
    src.write_bytes(b"RIFF....WAVE")
    ref = blobs.put_file(src, "audio/wav")
    assert blobs.exists(ref) and blobs.exists(ref.uri)
    with blobs.open(ref.uri) as f:
        assert f.read() == b"RIFF....WAVE"
    assert blobs.put_bytes(b"RIFF....WAVE").uri == ref.uri


def test_blob_unknown_is_not_found(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    missing = "blob://sha256/" + hashlib.sha256(b"never stored").hexdigest()
    assert not blobs.exists(missing)
    assert not blobs.exists("https://example.com/a.png")
    with pytest.raises(NotFound, match="not in the store"):
        blobs.open(missing)
    with pytest.raises(NotFound, match="not a blob address"):
        blobs.open(BlobRef(uri="https://example.com/a.png"))


def test_store_blobs_live_in_the_home(sqlite_store: Store, tmp_path: Path) -> None:
    ref = sqlite_store.blobs.put_bytes(b"abc")
    assert (tmp_path / "home" / "blobs" / ref.sha256[:2] / ref.sha256[2:4] / ref.sha256).is_file()  # type: ignore[index]
