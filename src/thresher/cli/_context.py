"""Finding the Thresher home, opening the store and naming datasets from the command line."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from thresher.errors import ConfigError
from thresher.settings import HOME_MARKER, Settings, find_home
from thresher.store import Store

DEFAULT_PROJECT = "default"


@dataclass
class Home:
    path: Path
    project: str
    database_url: str | None
    blob_url: str | None

    def open(self) -> Store:
        return Store.open(self.path, url=self.database_url, blob_url=self.blob_url)


def write_home(path: Path, project: str, database_url: str | None) -> None:
    lines = ["# Thresher home: the SQLite database and blob folder live beside this file.", f'project = "{project}"']
    if database_url:
        lines.append(f'database_url = "{database_url}"')
    (path / HOME_MARKER).write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_home(home: Path | None, db: str | None) -> Home:
    """The home from ``--home``, ``THRESHER_HOME`` or the nearest ``thresher.toml`` above the cwd."""
    settings = Settings()
    path = home or settings.home or find_home()
    if path is None:
        raise ConfigError("no Thresher home here: run `thresher init` first, or pass --home / set THRESHER_HOME")
    marker = path / HOME_MARKER
    if not marker.is_file():
        raise ConfigError(f"{path} is not a Thresher home (no {HOME_MARKER}); run `thresher init {path}`")
    try:
        config = tomllib.loads(marker.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{marker}: {e}") from None
    return Home(
        path=path,
        project=str(config.get("project", DEFAULT_PROJECT)),
        database_url=db or settings.database_url or config.get("database_url"),
        blob_url=settings.blob_url or config.get("blob_url"),
    )


def split_name(name: str, default_project: str) -> tuple[str, str]:
    """``project/dataset`` or ``dataset`` (in the home's project)."""
    if "/" in name:
        project, _, dataset = name.partition("/")
        return project, dataset
    return default_project, name
