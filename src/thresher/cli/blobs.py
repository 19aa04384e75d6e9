"""``thresher blobs gc``: remove the blobs no row refers to any more."""

from __future__ import annotations

from typing import Annotated

import typer

from thresher.cli.app import DbOpt, HomeOpt, _opened, _progress, console

blobs_app = typer.Typer(help="Blob storage (media files), shared by content.", no_args_is_help=True)


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
    from thresher.store.blob_gc import collect_blobs

    with _opened(home, db) as (_, store), _progress("reading references") as progress:
        report = collect_blobs(store, grace=grace_hours * 3600, dry_run=dry_run, progress=progress)
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{report.referenced:,} blobs referenced, {report.kept:,} kept; {verb} {len(report.removed):,} "
        f"files ({report.freed_bytes / 1e6:,.1f} MB)"
    )
