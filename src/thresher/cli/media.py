"""``thresher media``: import a folder of images / video / audio, a dataset file that references media,
probe a file, extract video frames, load a model's pre-annotations."""

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


def _pairs(items: list[str], sep: str, what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, found, value = item.partition(sep)
        if not found or not key.strip():
            raise typer.BadParameter(f"{item!r}: expected {what}")
        out[key.strip()] = value.strip()
    return out


@media_app.command("prelabel")
def prelabel_command(
    endpoint: Annotated[str, typer.Argument(help="the model endpoint's URL (see docs/media.md for the protocol)")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="dataset holding the media")],
    model: Annotated[str, typer.Option("--model", "-m", help="the model's name: the suggestions' agent")],
    question: Annotated[str | None, typer.Option(help="question to answer (default: the first media one)")] = None,
    version: Annotated[str | None, typer.Option(help="only the records of this dataset version")] = None,
    send: Annotated[str, typer.Option(help="base64 (the file in the request) or url (the endpoint fetches it)")] = (
        "base64"
    ),
    media_url: Annotated[
        str | None, typer.Option(help="with --send url: this server's base URL as the endpoint reaches it")
    ] = None,
    media_key: Annotated[
        str | None, typer.Option(help="with --send url: an API key (read role) the endpoint fetches media with")
    ] = None,
    label_map: Annotated[
        list[str] | None, typer.Option("--map", help="detections' class name to label: car=vehicle (repeatable)")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option(help="a header for the endpoint: 'Authorization: Bearer ...' (repeatable)")
    ] = None,
    min_score: Annotated[float, typer.Option(help="drop detections scored below this")] = 0.0,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="requests in flight at most")] = 4,
    retries: Annotated[int, typer.Option(min=0, max=10, help="tries again after a connection error, 429 or 5xx")] = 3,
    timeout: Annotated[float, typer.Option(help="seconds one request may take")] = 60.0,
    redo: Annotated[bool, typer.Option(help="ask again for records that already hold this model's suggestion")] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Load a model's pre-annotations for each media record as suggestions that annotators correct.

    Bad answers are listed per record and the run goes on; a second run skips the records done."""
    from thresher.media.prelabel import Prelabeler
    from thresher.store import RecordFilter

    media_only = RecordFilter(kinds=("media",))

    if send not in ("base64", "url"):
        raise typer.BadParameter("--send: expected base64 or url")
    media_headers = {"Authorization": f"Bearer {media_key}"} if media_key else None
    with (
        _opened(home, db) as (h, store),
        Prelabeler(
            store,
            endpoint,
            agent=model,
            send="url" if send == "url" else "base64",
            media_url=media_url,
            media_headers=media_headers,
            headers=_pairs(header or [], ":", "Name: value"),
            label_map=_pairs(label_map or [], "=", "class=label"),
            min_score=min_score,
            concurrency=concurrency,
            retries=retries,
            timeout=timeout,
        ) as labeler,
    ):
        ds = _dataset(store, h, dataset)
        total = store.count_records(ds, store.get_version(ds, version) if version else None, media_only)
        with _progress(f"asking {model}", total) as progress:
            result = labeler.run(ds.project, ds.name, question=question, version=version, redo=redo, progress=progress)
    c = result.counts()
    console.print(
        f"{escape(ds.project)}/{escape(ds.name)} · {escape(result.question)} by {escape(model)}: "
        f"{c['suggested']:,} suggested, {c['already']:,} already there, {c['failed']:,} failed, "
        f"{c['not_applicable']:,} not applicable"
        + (f", {c['dropped_detections']:,} detections dropped" if c["dropped_detections"] else "")
    )
    for detail in result.errors[:20]:
        err.print(f"  [red]failed[/red] {escape(str(detail))}")
    if result.failed > 20:
        err.print(f"  … and {result.failed - 20:,} more")
