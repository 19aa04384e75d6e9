"""Settings: the one place that reads the environment (``THRESHER_`` prefix)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

HOME_MARKER = "thresher.toml"


class Settings(BaseSettings):
    """``THRESHER_HOME``, ``THRESHER_DATABASE_URL``, ``THRESHER_BLOB_URL``."""

    model_config = SettingsConfigDict(env_prefix="THRESHER_", extra="ignore")

    home: Path | None = None
    database_url: str | None = None
    blob_url: str | None = None
    # Server
    cookie_secure: bool = True  # browsers send Secure cookies over https and to http://localhost
    max_body_bytes: int = 32 * 1024 * 1024
    login_attempts_per_minute: int = 10
    webhook_retry_seconds: float = 2.0  # first retry of a failed webhook delivery; doubles each time
    # Webhooks may post to loopback / private / link-local addresses (SSRF guard off): tests, closed networks.
    webhooks_allow_private: bool = False
    # Run the shipped triage rules (thresher/curate/pipelines/triage.yaml) on each captured record,
    # after the response: a failed agent run becomes SFT work and an eval item as it arrives.
    triage_on_capture: bool = True
    # Where captured events become records (and are triaged), behind intake: "process" (a worker
    # process beside the server, at low priority, so it never takes intake's CPU or GIL) or
    # "thread" (in the server process; the fallback for a store another process cannot open,
    # such as an in-memory SQLite database).
    capture_worker: str = "process"
    capture_idle_seconds: float = 0.5  # how often an idle worker looks for new events (a capture wakes it)
    # Capture group commit: a group takes at most this many events, and about this much work.
    capture_group_events: int = 1000
    capture_group_seconds: float = 0.05


def find_home(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` holding a ``thresher.toml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / HOME_MARKER).is_file():
            return folder
    return None
