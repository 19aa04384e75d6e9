"""``thresher blobs gc``: remove the blobs no row refers to any more."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thresher.cli._context import load_home

blobs_app = typer.Typer(help="Blob storage (media files), shared by content.", no_args_is_help=True)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="Thresher home folder")]
DbOpt = Annotated[str | None, typer.Option("--db", help="database URL")]


@blobs_app.command("gc")
def blobs_gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only say what would be removed")] = False,
    grace_hours: Annotated[
        float, typer.Option(help="keep blobs newer than this: an upload may not have its record yet")
    ] = 1.0,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Remove blobs no record, response or other row refers to (a deleted project's media)."""
    from thresher.cli.app import _progress, console
    from thresher.store.blob_gc import collect_blobs

    h = load_home(home, db)
    store = h.open()
    try:
        with _progress("reading references") as progress:
            report = collect_blobs(store, grace=grace_hours * 3600, dry_run=dry_run, progress=progress)
    finally:
        store.close()
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{report.referenced:,} blobs referenced, {report.kept:,} kept; {verb} {len(report.removed):,} "
        f"files ({report.freed_bytes / 1e6:,.1f} MB)"
    )
