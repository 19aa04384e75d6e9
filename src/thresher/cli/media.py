"""``thresher media``: import a folder of images / video / audio, a dataset file that references media,
probe a file, extract video frames."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.markup import escape

from thresher.cli.app import DbOpt, HomeOpt, _dataset, _opened, _progress, console, err

media_app = typer.Typer(help="Images, video and audio: import, probe, frames.")


@media_app.command("import")
def import_media(
    folder: Annotated[Path, typer.Argument(help="folder of media files (sub-folders included)")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="target dataset (created if missing)")],
    split: Annotated[str | None, typer.Option(help="set this split on every record")] = None,
    recursive: Annotated[bool, typer.Option(help="include sub-folders")] = True,
    rejects: Annotated[Path | None, typer.Option(help="rejects file (default: FOLDER.rejects.jsonl)")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Import every image, video and audio file of a folder; unreadable files are listed, the rest kept."""
    from thresher.media import import_folder

    with _opened(home, db) as (h, store), _progress(f"importing {folder.name}") as progress:
        ds = _dataset(store, h, dataset, create=True)
        result = import_folder(store, ds, folder, recursive=recursive, split=split, rejects=rejects, progress=progress)
    c = result.counts()
    console.print(
        f"{escape(str(folder))}: {c['added']:,} added, {c['duplicates']:,} duplicates, {c['rejected']:,} rejected, "
        f"{c['ignored']:,} not media → {escape(ds.project)}/{escape(ds.name)}"
    )
    for detail in result.rejected[:20]:
        err.print(f"  [red]rejected[/red] {escape(str(detail))}")
    if result.rejects:
        err.print(f"rejects: {escape(str(result.rejects))}")


@media_app.command("import-file")
def import_referencing(
    file: Annotated[Path, typer.Argument(help="dataset file whose rows reference media by path or relative URL")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="target dataset (created if missing)")],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="row format (default: detected)")] = None,
    base: Annotated[
        Path | None, typer.Option(help="folder the references are relative to (default: the file's)")
    ] = None,
    skip_invalid: Annotated[bool, typer.Option(help="keep the other rows when a media file is bad")] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Import a dataset file and store every local media file its rows reference (URLs stay references)."""
    from thresher.media import media_transform
    from thresher.pipeline import import_file

    with _opened(home, db) as (h, store):
        ds = _dataset(store, h, dataset, create=True)
        transform = media_transform(store.blobs, base or file.resolve().parent)
        result = import_file(store, ds, file, fmt=fmt, skip_invalid=skip_invalid, transform=transform)
    console.print(
        f"{escape(str(file))}: {result.added:,} added, {result.duplicates:,} duplicates, {result.invalid:,} invalid "
        f"({result.format}) → {escape(ds.project)}/{escape(ds.name)}"
    )
    if result.rejects:
        err.print(f"rejects: {escape(str(result.rejects))}")


@media_app.command("import-hf")
def import_hf_command(
    path: Annotated[Path, typer.Argument(help="a `save_to_disk` folder with Image / Audio / Video columns")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="target dataset (created if missing)")],
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Import a saved Hugging Face dataset whose rows hold images, audio or video."""
    from thresher.media.hf import import_hf

    with _opened(home, db) as (h, store):
        ds = _dataset(store, h, dataset, create=True)
        result = import_hf(store, ds, path)
    console.print(
        f"{escape(str(path))}: {result.added:,} added, {result.duplicates:,} duplicates, "
        f"{len(result.rejected):,} rejected → {escape(ds.project)}/{escape(ds.name)}"
    )
    for detail in result.rejected[:20]:
        err.print(f"  [red]rejected[/red] {escape(str(detail))}")


@media_app.command("probe")
def probe_command(file: Annotated[Path, typer.Argument(help="an image, video or audio file")]) -> None:
    """Print a file's media type and technical metadata as JSON."""
    from thresher.media import probe

    p = probe(file, file.name)
    doc = {"media_type": p.media_type, "mime_type": p.mime_type, **p.info.model_dump(exclude_none=True)}
    typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


@media_app.command("frames")
def frames_command(
    video: Annotated[Path, typer.Argument(help="a video file")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the JPEG frames")],
    fps: Annotated[float, typer.Option(help="frames per second to keep")] = 1.0,
    max_side: Annotated[int | None, typer.Option(help="scale frames down to this longer side")] = None,
) -> None:
    """Extract frames at a chosen rate as JPEG files (frame-000001.jpg...)."""
    from thresher.media.video import extract_frames

    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for n, frame in enumerate(extract_frames(video, fps, max_side), 1):
        frame.image.save(out / f"frame-{n:06d}.jpg", quality=90)
    console.print(f"{escape(str(video))}: {n:,} frames → {escape(str(out))}")


@media_app.command("import-coco")
def import_coco_command(
    annotations: Annotated[Path, typer.Argument(help="COCO annotations JSON")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="target dataset (created if missing)")],
    images: Annotated[Path | None, typer.Option(help="images folder (default: images/ beside the file)")] = None,
    captions: Annotated[Path | None, typer.Option(help="a COCO Captions file for the same images")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Import COCO detection / segmentation (and captions) with the images, as media records with their answers."""
    from thresher.media.annotations import import_coco

    with _opened(home, db) as (h, store):
        ds = _dataset(store, h, dataset, create=True)
        result = import_coco(store, ds, annotations, images, captions)
    console.print(
        f"{escape(str(annotations))}: {result.added:,} added, {result.duplicates:,} duplicates, "
        f"{len(result.rejected):,} rejected → {escape(ds.project)}/{escape(ds.name)}"
    )
    for detail in result.rejected[:20]:
        err.print(f"  [red]rejected[/red] {escape(str(detail))}")


@media_app.command("import-transcripts")
def import_transcripts_command(
    files: Annotated[list[Path], typer.Argument(help=".vtt, .srt or .rttm files named like their media")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="dataset holding the media")],
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Load WebVTT / SRT / RTTM transcripts as answers to the transcript question of the matching media records."""
    from thresher.media.annotations import import_transcripts

    with _opened(home, db) as (h, store):
        ds = _dataset(store, h, dataset)
        result = import_transcripts(store, ds, files)
    console.print(f"{result.added:,} transcripts loaded, {len(result.rejected):,} rejected")
    for detail in result.rejected[:20]:
        err.print(f"  [red]rejected[/red] {escape(str(detail))}")
