"""``thresher serve``: the HTTP API under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thresher.cli._context import load_home


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8600,
    home: Annotated[Path | None, typer.Option("--home", help="Thresher home folder")] = None,
    db: Annotated[str | None, typer.Option("--db", help="database URL")] = None,
    insecure_cookies: Annotated[
        bool, typer.Option(help="send session cookies over plain http too (only behind a trusted proxy or for tests)")
    ] = False,
) -> None:
    """Serve the API (and, later, the web app) until interrupted."""
    import uvicorn

    from thresher.server import create_app
    from thresher.settings import Settings

    h = load_home(home, db)
    store = h.open()
    settings = Settings(cookie_secure=not insecure_cookies)
    app = create_app(store, settings)
    typer.echo(f"Thresher API on http://{host}:{port}/api/v1 (docs: /api/v1/docs), store: {store.backend}")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        store.close()
