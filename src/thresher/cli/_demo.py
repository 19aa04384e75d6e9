"""``thresher demo``: a home with sample data of every record kind, its stats, and every export.

The sample files ship in ``thresher/demo_data`` (written for this project, in the formats
real tools write); the demo's image and sound are generated here, deterministically.
"""

from __future__ import annotations

import math
import shutil
import struct
import wave
import zlib
from importlib.resources import files
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from thresher.cli._context import write_home
from thresher.formats import ExportOptions, formats
from thresher.formats.views import FEEDBACK_QUESTION, PREFERENCE_QUESTION
from thresher.model import (
    ChoiceQuestion,
    Question,
    RatingQuestion,
    Record,
    StepVerdictQuestion,
    TextQuestion,
)
from thresher.pipeline import export_dataset, import_file
from thresher.pipeline.stats import token_counts
from thresher.settings import HOME_MARKER
from thresher.store import Store

PROJECT, DATASET = "demo", "assistant"

QUESTIONS: list[Question] = [
    PREFERENCE_QUESTION,
    ChoiceQuestion(name="preferred", title="Which answer do you prefer, and why?", rationale="required"),
    *(
        RatingQuestion(
            name=dim,
            dimension=dim,
            min=1,
            max=7,
            per_candidate=True,
            required=False,
            anchors={1: "very poor", 4: "acceptable", 7: "excellent"},
        )
        for dim in ("helpfulness", "correctness", "style")
    ),
    TextQuestion(name="ideal_response", title="Write the ideal response", required=False),
    FEEDBACK_QUESTION,
    StepVerdictQuestion(name="steps", title="Judge each step of the run"),
]

FILES = [
    ("chats.openai.jsonl", None),
    ("instructions.thresher.jsonl", None),
    ("preferences.trl.jsonl", None),
    ("comparisons.thresher.jsonl", None),
    ("feedback.kto.jsonl", None),
    ("corpus.jsonl", None),
    ("agent_runs.thresher.jsonl", None),
    ("evals.thresher.jsonl", None),
]


def run_demo(out: Path, console: Console, serve_port: int | None = None) -> None:
    """Build the demo home; with ``serve_port``, then serve it on 127.0.0.1 until interrupted."""
    home = out / "home"
    if (home / HOME_MARKER).exists():
        shutil.rmtree(home)  # a previous demo: start clean so the figures are the same every run
    home.mkdir(parents=True)
    write_home(home, PROJECT, None)
    store = Store.open(home)
    try:
        _build(store, out, console)
        people = _workflows(store, out, console)
        if serve_port is not None:
            _serve(store, serve_port, people, console)
    finally:
        store.close()


def _workflows(store: Store, out: Path, console: Console) -> list[dict[str, str]]:
    """Queued annotation work of every kind, a curation run, an eval of two stages, media."""
    from thresher.annotate.demo import seed_demo_annotation
    from thresher.curate.demo import run_demo_curation
    from thresher.errors import MissingExtra
    from thresher.evals.demo import run_demo_evals

    seeded = seed_demo_annotation(store, PROJECT)
    work = ", ".join(f"{name} ({n})" for name, n in seeded["datasets"].items())
    console.print(f"\n[bold]annotation[/]: queued work in {escape(work)}")
    try:
        from thresher.media.demo import seed_demo_media

        media = seed_demo_media(store, PROJECT)
        console.print(f"[bold]media[/]: {escape(', '.join(f'{k} ({v})' for k, v in media.items()))}")
        for dataset, fmt, target in (
            ("images", "coco", "coco"),
            ("images", "yolo", "yolo"),
            ("videos", "mot", "mot"),
            ("speech", "webvtt", "webvtt"),
            ("speech", "rttm", "speech.rttm"),
        ):
            path = out / "exports" / target
            result = export_dataset(store, store.get_dataset(PROJECT, dataset), path, fmt)
            console.print(f"  exported {dataset} as {fmt:<7} {escape(str(path))} ({result.rows} rows)")
    except MissingExtra as e:
        console.print(f"[yellow]media datasets skipped[/]: {escape(str(e))}")
    report = run_demo_curation(store, PROJECT, out / "curation")
    console.print(f"[bold]curation[/]: default pipeline and triage rules; report {escape(str(report))}")
    evals = run_demo_evals(store, PROJECT, out / "evals")
    console.print(f"[bold]evals[/]: two stages on a demo suite; report {escape(str(evals))}")
    from thresher.generate.demo import run_demo_generate

    gen = run_demo_generate(store, PROJECT)
    console.print(
        f"[bold]generate[/]: {gen['comparisons']} comparisons ({gen['candidates']} candidates from two models) "
        f"in demo-generated @ {gen['version']}; rank them in the web app, then "
        f"`thresher export demo-generated --format trl-preference --out dpo.jsonl --home {escape(str(out / 'home'))}`"
    )
    users: list[dict[str, str]] = seeded["users"]
    return users


def _serve(store: Store, port: int, people: list[dict[str, str]], console: Console) -> None:
    from thresher.cli.serve import run
    from thresher.server import create_app
    from thresher.settings import Settings

    table = Table("user", "password", "role", title="demo logins")
    for p in people:
        table.add_row(escape(p["name"]), escape(p["password"]), escape(p["role"]))
    console.print(table)
    url = f"http://127.0.0.1:{port}/"
    console.print(f"\n[bold green]Open {url}[/] and log in as one of the users above (Ctrl+C stops the server).")
    run(create_app(store, Settings()), "127.0.0.1", port)


def _build(store: Store, out: Path, console: Console) -> None:
    store.create_project(PROJECT)
    ds = store.create_dataset(
        PROJECT,
        DATASET,
        questions=QUESTIONS,
        description="Sample data of every kind: chats, instructions, preferences, feedback, corpus, agents, evals",
        guidelines="Prefer answers that are correct first, then helpful, then well written.",
    )
    console.print(f"[bold]Demo home[/] {escape(str(out / 'home'))} ({store.backend})\n")
    data = files("thresher.demo_data")
    for name, fmt in FILES:
        with _resource(data.joinpath(name), out / "source" / name) as path:
            r = import_file(store, ds, path, fmt=fmt)
        console.print(f"imported {name:<30} as {r.format:<24} {r.added:>3} records, {r.responses} labels")
    n = _add_media(store, ds)
    console.print(f"added    {'media (generated)':<30} as {'media records':<24} {n:>3} records")

    version = store.create_version(ds, "v1", "the demo data as imported")
    console.print(f"\nversion v1: {version.record_count} records, manifest {version.manifest_hash[:16]}\n")

    stats = store.stats(ds, version)
    tokens = token_counts(store, ds, version)
    table = Table("kind", "records", "approx tokens", title=f"{PROJECT}/{DATASET} @ v1")
    for kind, count in stats.by_kind.items():
        table.add_row(kind, str(count), f"{tokens[kind]:,}")
    console.print(table)
    for title, counts in (("split", stats.by_split), ("task type", stats.by_task_type), ("source", stats.by_source)):
        console.print(f"by {title}: " + ", ".join(f"{escape(str(k))}={v}" for k, v in counts.items()))
    console.print(f"responses: {stats.responses}\n")

    exports = out / "exports"
    if exports.exists():
        shutil.rmtree(exports)
    table = Table("format", "file", "rows", "skipped", title="exports (eval items excluded from training formats)")
    options = ExportOptions(rewrite_question="ideal_response", preference_question="preference")
    for name, fmt_ in formats().items():
        if name == "generic" or fmt_.writes_files:
            continue  # generic needs a field mapping (`--map`); media formats export the media datasets
        target = exports / f"{name}.{fmt_.default_container}"
        result = export_dataset(store, ds, target, name, version=version, options=options)
        table.add_row(name, escape(str(target.relative_to(out))), str(result.rows), str(sum(result.skipped.values())))
    by_score = ExportOptions(rating_weights={"helpfulness": 1.0, "correctness": 2.0}, pairs="all", min_margin=0.1)
    target = exports / "trl-preference.by-likert.parquet"
    result = export_dataset(store, ds, target, "trl-preference", version=version, options=by_score)
    table.add_row("trl-preference (Likert)", escape(str(target.relative_to(out))), str(result.rows), "")
    console.print(table)
    console.print(
        f"\nEach export has a .manifest.json beside it. Browse: thresher show {DATASET} --home {out / 'home'}"
    )


class _resource:
    """A packaged data file as a real path (copied out when the package is zipped)."""

    def __init__(self, res: object, fallback: Path) -> None:
        self.res, self.fallback = res, fallback

    def __enter__(self) -> Path:
        path = Path(str(self.res))
        if path.is_file():
            return path
        self.fallback.parent.mkdir(parents=True, exist_ok=True)
        self.fallback.write_bytes(self.res.read_bytes())  # type: ignore[attr-defined]
        return self.fallback

    def __exit__(self, *exc: object) -> None:
        return None


def _add_media(store: Store, ds: object) -> int:
    from thresher.model import Dataset

    assert isinstance(ds, Dataset)
    png = store.blobs.put_bytes(_png(64, 48), "image/png")
    wav = store.blobs.put_bytes(_wav(1.0, 16000), "audio/wav")
    records = [
        Record(
            content={
                "kind": "media",
                "media_type": "image",
                "blob": png.model_dump(exclude_none=True),
                "info": {"width": 64, "height": 48},
                "caption": "A blue-to-orange gradient.",
                "context": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "image": {"uri": png.uri}},
                            {"type": "text", "text": "What colours do you see?"},
                        ],
                    },
                    {"role": "assistant", "content": "A smooth gradient from blue on the left to orange on the right."},
                ],
            },
            domains=["vision"],
        ),
        Record(
            content={
                "kind": "media",
                "media_type": "audio",
                "blob": wav.model_dump(exclude_none=True),
                "info": {"duration_s": 1.0, "sample_rate": 16000, "channels": 1, "codec": "pcm_s16le"},
            },
            domains=["speech"],
        ),
    ]
    return store.add_records(ds, records)


def _png(width: int, height: int) -> bytes:
    """A gradient PNG written with zlib: no imaging library needed."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((int(40 + 200 * x / width), 120, int(220 - 180 * x / width))) for x in range(width))
        for _ in range(height)
    )

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _wav(seconds: float, rate: int) -> bytes:
    """A 440 Hz tone, 16-bit mono WAV, written with the standard library's wave module."""
    import io

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = (int(12000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate)))
        w.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return buf.getvalue()
