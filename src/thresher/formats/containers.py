"""Containers: the file types rows travel in. Each reads rows lazily and writes them streaming.

Reading never raises on bad input: a row that cannot be decoded comes out as ``BadRow``
naming its line, so the importer can collect every problem (or skip bad lines on request).
"""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import orjson

from thresher.errors import ConfigError, MissingExtra, NotFound
from thresher.formats.base import Row, RowError

DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class BadRow:
    """A row that could not be decoded; ``fatal`` when nothing after it can be read."""

    line: int
    error: RowError
    fatal: bool = False


OutRow = dict[str, Any] | bytes  # bytes: a row already serialized as a JSON object


def as_dict(row: OutRow) -> dict[str, Any]:
    return orjson.loads(row) if isinstance(row, bytes) else row


class Container:
    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]] = ()
    writes_json_lines: ClassVar[bool] = False  # takes pre-serialized rows as they are

    def read(self, path: Path, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[Row | BadRow]:
        raise NotImplementedError

    def write(self, path: Path, rows: Iterable[OutRow]) -> int:
        raise NotImplementedError


_CONTAINERS: dict[str, Container] = {}


def _register(cls: type[Container]) -> type[Container]:
    _CONTAINERS[cls.name] = cls()
    return cls


def get_container(name: str) -> Container:
    try:
        return _CONTAINERS[name]
    except KeyError:
        raise NotFound(f"unknown container {name!r}; expected one of: {', '.join(sorted(_CONTAINERS))}") from None


def container_for(path: Path) -> Container:
    """Choose by extension; a folder is a saved Hugging Face dataset or a folder of Parquet files."""
    if path.is_dir():
        # save_to_disk writes state.json (a Dataset) or dataset_dict.json (a DatasetDict); a folder
        # of LLaMA-Factory exports also has a dataset_info.json, so that alone proves nothing.
        if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
            return _CONTAINERS["hf"]
        if any(path.rglob("*.parquet")):
            return _CONTAINERS["parquet"]
        raise ConfigError(f"{path}: a folder must be a saved Hugging Face dataset or hold .parquet files")
    suffix = "".join(path.suffixes[-1:]).lower()
    for c in _CONTAINERS.values():
        if suffix in c.extensions:
            return c
    known = sorted(e for c in _CONTAINERS.values() for e in c.extensions)
    raise ConfigError(f"{path}: unknown file type {suffix!r}; expected one of {known} (or pass --container)")


def _json_error(line: int, e: Exception, text: bytes) -> BadRow:
    msg = str(e).split(":", 1)[0] if isinstance(e, orjson.JSONDecodeError) else str(e)
    if isinstance(e, orjson.JSONDecodeError) and "unexpected end of data" in str(e).lower():
        msg = "the line ends in the middle of a JSON value (truncated file?)"
    elif isinstance(e, orjson.JSONDecodeError) and "utf-8" in str(e).lower():
        return BadRow(line, RowError("invalid UTF-8: expected UTF-8 text", type="invalid_utf8", input=text[:80]))
    return BadRow(line, RowError(f"invalid JSON: {msg}; expected one JSON object per line", type="invalid_json"))


@_register
class JSONLContainer(Container):
    name = "jsonl"
    extensions = (".jsonl", ".ndjson")
    writes_json_lines = True

    def read(self, path: Path, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[Row | BadRow]:
        with path.open("rb") as f:
            yield from read_jsonl_stream(f, max_record_bytes)

    def write(self, path: Path, rows: Iterable[OutRow]) -> int:
        n = 0
        with path.open("wb") as f:
            for row in rows:
                f.write(row if isinstance(row, bytes) else orjson.dumps(row))
                f.write(b"\n")
                n += 1
        return n


def read_jsonl_stream(f: BinaryIO, max_record_bytes: int) -> Iterator[Row | BadRow]:
    line_no = 0
    while True:
        raw = f.readline(max_record_bytes + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) > max_record_bytes and not raw.endswith(b"\n"):
            size = len(raw)
            while chunk := f.readline(1 << 20):  # skip the rest of the oversized line, never holding it
                size += len(chunk)
                if chunk.endswith(b"\n"):
                    break
            yield BadRow(
                line_no,
                RowError(
                    f"the line is {size / 2**20:.1f} MB; expected at most {max_record_bytes / 2**20:.1f} MB per record "
                    "(raise the limit with --max-record-mb)",
                    type="record_too_large",
                ),
            )
            continue
        if not raw.strip():
            continue
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as ue:
                yield BadRow(
                    line_no,
                    RowError(f"invalid UTF-8 at byte {ue.start}: expected UTF-8 text", type="invalid_utf8"),
                )
                continue
            yield _json_error(line_no, e, raw)
            continue
        if not isinstance(data, dict):
            yield BadRow(line_no, RowError(f"expected a JSON object, got {type(data).__name__}", type="not_an_object"))
            continue
        yield Row(line_no, data)


@_register
class JSONContainer(Container):
    """A JSON array of objects (LLaMA-Factory's files), parsed incrementally with ijson."""

    name = "json"
    extensions = (".json",)

    def read(self, path: Path, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[Row | BadRow]:
        import ijson

        item = 0
        with path.open("rb") as f:
            head = f.read(4096).lstrip()
            f.seek(0)
            prefix = "item" if head.startswith(b"[") else "data.item"
            try:
                for obj in ijson.items(f, prefix, use_float=True):
                    item += 1
                    if not isinstance(obj, dict):
                        yield BadRow(item, RowError(f"expected a JSON object, got {type(obj).__name__}"))
                        continue
                    yield Row(item, obj)
            except (ijson.JSONError, UnicodeDecodeError) as e:
                # yajl reports bad bytes as a lexical error; say what it is.
                bad_utf8 = isinstance(e, UnicodeDecodeError) or "utf8" in str(e).lower().replace("-", "")
                kind = "invalid_utf8" if bad_utf8 else "invalid_json"
                msg = f"invalid JSON after item {item}: {e}; expected a JSON array of objects"
                if bad_utf8:
                    msg = f"invalid UTF-8 after item {item}: expected UTF-8 text"
                yield BadRow(item + 1, RowError(msg, type=kind), fatal=True)

    def write(self, path: Path, rows: Iterable[OutRow]) -> int:
        # Pretty-printed like LLaMA-Factory's own files; written row by row, never held whole.
        dicts = map(as_dict, rows)
        n = 0
        with path.open("wb") as f:
            f.write(b"[")
            for row in dicts:
                f.write(b",\n  " if n else b"\n  ")
                f.write(orjson.dumps(row, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  "))
                n += 1
            f.write(b"\n]\n" if n else b"]\n")
        return n


@_register
class CSVContainer(Container):
    """CSV with a header row; cells holding JSON objects or arrays are written as JSON text."""

    name = "csv"
    extensions = (".csv", ".tsv")

    def read(self, path: Path, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[Row | BadRow]:
        csv.field_size_limit(max_record_bytes)
        dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
        with path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.DictReader(text, dialect=dialect)
            try:
                _ = reader.fieldnames  # reads the header now, so line_num counts from after it
                while True:
                    line = reader.line_num + 1  # where the record starts (a quoted cell may span lines)
                    data = next(reader, None)
                    if data is None:
                        break
                    if None in data:
                        yield BadRow(
                            line, RowError(f"the row has more cells than the header's {len(reader.fieldnames or [])}")
                        )
                        continue
                    yield Row(line, {k: v for k, v in data.items() if k is not None})
            except UnicodeDecodeError as e:
                yield BadRow(
                    reader.line_num + 1,
                    RowError(f"invalid UTF-8 at byte {e.start}: expected UTF-8 text", type="invalid_utf8"),
                    fatal=True,
                )
            except csv.Error as e:
                yield BadRow(reader.line_num, RowError(f"bad CSV: {e}"), fatal=True)

    header_sample = 1000

    def write(self, path: Path, rows: Iterable[OutRow]) -> int:
        # The header is the union of the first rows' keys; a later row with a new key cannot be
        # written without losing data, so it is an error rather than a silently dropped cell.
        dicts = map(as_dict, rows)
        it = iter(dicts)
        head = list(itertools.islice(it, self.header_sample))
        fields = list(dict.fromkeys(k for r in head for k in r))
        n = 0
        with path.open("w", encoding="utf-8", newline="") as f:
            if not head:
                return 0
            writer = csv.DictWriter(f, fieldnames=fields, restval="")
            writer.writeheader()
            known = set(fields)
            for r in itertools.chain(head, it):
                extra = sorted(set(r) - known)
                if extra:
                    raise ConfigError(
                        f"row {n + 1} has fields {extra} that the first {len(head)} rows lacked; "
                        "CSV needs one header: export as jsonl instead"
                    )
                writer.writerow({k: _cell(v) for k, v in r.items()})
                n += 1
        return n


def _cell(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return orjson.dumps(v).decode()
    return v


@_register
class ParquetContainer(Container):
    """A Parquet file, or a folder of them (split taken from file names like ``train-0000.parquet``)."""

    name = "parquet"
    extensions = (".parquet", ".pq")
    batch_rows = 2000
    schema_sample = 10_000

    def read(self, path: Path, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[Row | BadRow]:
        import pyarrow.parquet as pq

        files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
        for file in files:
            split = file.name.split("-")[0].split(".")[0] if path.is_dir() else None
            line = 0
            try:
                pf = pq.ParquetFile(file)
                for batch in pf.iter_batches(batch_size=self.batch_rows):
                    for data in batch.to_pylist():
                        line += 1
                        yield Row(line, data, split=split)
            except Exception as e:  # pyarrow raises ArrowInvalid/OSError on corrupt files
                yield BadRow(
                    line + 1, RowError(f"{file.name}: unreadable Parquet: {e}", type="invalid_parquet"), fatal=True
                )

    def write(self, path: Path, rows: Iterable[OutRow]) -> int:
        dicts = map(as_dict, rows)
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer: Any = None
        schema: Any = None
        n = 0
        buf: list[dict[str, Any]] = []

        def flush() -> None:
            nonlocal writer, schema
            if not buf:
                return
            if schema is None:
                # Columns are the union of the sample's keys, not the first row's (a later row may add tools).
                keys = list(dict.fromkeys(k for r in buf for k in r))
                buf[:] = [{k: r.get(k) for k in keys} for r in buf]
            table = pa.Table.from_pylist(buf, schema=schema)
            if schema is None:
                schema = table.schema
                writer = pq.ParquetWriter(path, schema)
            else:
                seen = pa.Table.from_pylist(buf).schema
                extra = sorted(set(seen.names) - set(schema.names))
                if extra:
                    raise ConfigError(
                        f"rows after {n - len(buf)} have fields {extra} that the first rows lacked; "
                        "Parquet needs one schema: export as jsonl instead"
                    )
            writer.write_table(table)
            buf.clear()

        try:
            for row in dicts:
                buf.append(row)
                n += 1
                if len(buf) >= (self.schema_sample if schema is None else self.batch_rows):
                    flush()
            flush()
        finally:
            if writer is not None:
                writer.close()
        if schema is None:
            pq.write_table(pa.table({}), path)
        return n


@_register
class HFDiskContainer(Container):
    """A dataset saved by ``datasets``' ``save_to_disk`` (a Dataset or a DatasetDict), read offline."""

    name = "hf"
    extensions = ()

    def read(self, path: Path, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[Row | BadRow]:
        try:
            import datasets
        except ImportError:
            raise MissingExtra("datasets", "hf") from None
        loaded = datasets.load_from_disk(str(path))
        parts = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
        for split, ds in parts:
            for i, data in enumerate(ds, start=1):
                yield Row(i, dict(data), split=split)

    def write(self, path: Path, rows: Iterable[OutRow]) -> int:
        dicts = map(as_dict, rows)
        try:
            import datasets
        except ImportError:
            raise MissingExtra("datasets", "hf") from None
        import tempfile

        count = [0]

        def gen() -> Iterator[dict[str, Any]]:
            for r in dicts:
                count[0] += 1
                yield r

        with tempfile.TemporaryDirectory() as cache:
            # A fresh fingerprint: datasets would otherwise try to hash (pickle) the generator.
            ds = datasets.Dataset.from_generator(gen, cache_dir=cache, fingerprint=uuid.uuid4().hex)
            ds.save_to_disk(str(path))
        return count[0]


@_register
class TextContainer(Container):
    """Plain text: one document per file by default, or per paragraph (blank-line separated)."""

    name = "txt"
    extensions: ClassVar[tuple[str, ...]] = (".txt", ".md")
    unit: ClassVar[str] = "file"

    def read(self, path: Path, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[Row | BadRow]:
        size = path.stat().st_size
        if self.unit == "file" and size > max_record_bytes:
            yield BadRow(
                1,
                RowError(
                    f"the file is {size / 1e6:.1f} MB, over the per-record limit; use paragraphs",
                    type="record_too_large",
                ),
            )
            return
        with path.open("rb") as f:
            if self.unit == "file":
                raw = f.read()
                try:
                    yield Row(1, {"text": raw.decode("utf-8")})
                except UnicodeDecodeError as e:
                    line = raw[: e.start].count(b"\n") + 1
                    yield BadRow(
                        line, RowError(f"invalid UTF-8 at byte {e.start}: expected UTF-8 text", type="invalid_utf8")
                    )
                return
            para: list[str] = []
            start = 1
            for i, raw_line in enumerate(f, start=1):
                try:
                    text = raw_line.decode("utf-8")
                except UnicodeDecodeError:
                    yield BadRow(i, RowError("invalid UTF-8: expected UTF-8 text", type="invalid_utf8"))
                    continue
                if text.strip():
                    if not para:
                        start = i
                    para.append(text)
                elif para:
                    yield Row(start, {"text": "".join(para).strip()})
                    para = []
            if para:
                yield Row(start, {"text": "".join(para).strip()})

    def write(self, path: Path, rows: Iterable[OutRow]) -> int:
        dicts = map(as_dict, rows)
        n = 0
        with path.open("w", encoding="utf-8") as f:
            for row in dicts:
                if n:
                    f.write("\n\n")
                text = str(row.get("text", ""))
                f.write(text)
                n += 1
            if n and not text.endswith("\n"):
                f.write("\n")
        return n


@_register
class TextParagraphsContainer(TextContainer):
    """Plain text with one document per paragraph (choose with ``--container txt-paragraphs``)."""

    name = "txt-paragraphs"
    extensions = ()
    unit = "paragraph"


def containers() -> dict[str, Container]:
    return dict(_CONTAINERS)
