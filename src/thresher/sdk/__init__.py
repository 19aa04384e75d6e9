"""The Thresher SDK: capture chat turns, preferences, feedback and agent runs from a deployed
app, and read or write datasets from a notebook.

    from thresher.sdk import Client
    client = Client("http://localhost:8600", "thr_...")
    client.turn("session-1", "user", "Hi!")

Depends on httpx and Thresher's data model only (no server, no database driver). Errors are
Thresher's (:mod:`thresher.errors`); capture calls never block and never raise once an event
is valid: delivery problems are retried, logged and counted (``sent``, ``failed``, ``dropped``).
"""

from thresher.sdk._async import AsyncClient
from thresher.sdk._client import Client
from thresher.sdk._openai import wrap_openai
from thresher.sdk._trace import Run, Trace, current_run

__all__ = ["AsyncClient", "Client", "Run", "Trace", "current_run", "wrap_openai"]
