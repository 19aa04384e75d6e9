"""Benchmark files into eval datasets, offline: GSM8K, MMLU, HumanEval and a generic JSONL.

- ``gsm8k``: JSONL rows ``{question, answer}``, the answer ending ``#### 42`` -> numeric grader;
- ``mmlu``: the original CSV (no header: question, A, B, C, D, answer letter; the subject from
  the file name ``<subject>_test.csv``) or JSONL ``{question, choices, answer (index or letter),
  subject}`` -> choice grader;
- ``humaneval``: JSONL ``{task_id, prompt, test, entry_point, canonical_solution}`` -> code_tests;
- ``jsonl``: ``{input (text or messages) | prompt | question, reference | answer | target,
  choices?, grader?, tags?}``.

All rows or none: a bad row stops the import with its file, line and field.
"""

from __future__ import annotations

import csv
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from thresher.errors import ConfigError, DataError, ErrorDetail
from thresher.model import Dataset, Record, Source
from thresher.store import Store

__all__ = ["BENCHMARK_FORMATS", "import_benchmark", "read_benchmark"]

BENCHMARK_FORMATS = ("gsm8k", "mmlu", "humaneval", "jsonl")


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                detail = ErrorDetail("json", (path.name, line_no), str(e))
                raise DataError(f"{path.name}:{line_no}: not JSON", [detail]) from None
            if not isinstance(row, dict):
                raise DataError(
                    f"{path.name}:{line_no}: expected an object",
                    [ErrorDetail("type", (path.name, line_no), "expected a JSON object", row)],
                )
            yield line_no, row


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _need(row: dict[str, Any], key: str, where: tuple[str, int]) -> Any:
    if key not in row or row[key] in (None, ""):
        raise DataError(f"{where[0]}:{where[1]}: missing {key!r}", [ErrorDetail("missing", (*where, key), "required")])
    return row[key]


def _gsm8k(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, row in _jsonl(path):
        where = (path.name, line)
        answer = str(_need(row, "answer", where))
        final = answer.rsplit("####", 1)[-1].strip().replace(",", "")
        content = {
            "kind": "eval_item",
            "input": _user(str(_need(row, "question", where))),
            "reference": final,
            "grader": {"type": "numeric"},
        }
        yield line, {"content": content, "metadata": {"tags": ["gsm8k"], "solution": answer}, "task_type": "closed_qa"}


def _mmlu_prompt(question: str, choices: list[str]) -> str:
    options = "\n".join(f"{string.ascii_uppercase[i]}. {c}" for i, c in enumerate(choices))
    return f"{question}\n\n{options}\n\nAnswer with the letter of the correct option."


def _mmlu_item(question: str, choices: list[str], answer: Any, subject: str | None) -> dict[str, Any]:
    letters = string.ascii_uppercase[: len(choices)]
    ref = letters[int(answer)] if isinstance(answer, int) or str(answer).isdigit() else str(answer).strip().upper()
    content = {
        "kind": "eval_item",
        "input": _user(_mmlu_prompt(question, choices)),
        "reference": ref,
        "choices": choices,
        "grader": {"type": "choice"},
    }
    tags = ["mmlu", *([f"subject:{subject}"] if subject else [])]
    return {"content": content, "metadata": {"tags": tags}, "task_type": "classification"}


def _mmlu(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".csv":
        subject = path.stem.removesuffix("_test").removesuffix("_dev").removesuffix("_val")
        with path.open(newline="", encoding="utf-8") as f:
            for line, cells in enumerate(csv.reader(f), 1):
                if len(cells) < 4:
                    raise DataError(
                        f"{path.name}:{line}: expected question, options and answer",
                        [ErrorDetail("columns", (path.name, line), "expected at least 4 columns", cells)],
                    )
                yield line, _mmlu_item(cells[0], cells[1:-1], cells[-1], subject)
        return
    for line, row in _jsonl(path):
        where = (path.name, line)
        yield (
            line,
            _mmlu_item(
                str(_need(row, "question", where)),
                list(_need(row, "choices", where)),
                row.get("answer"),
                row.get("subject"),
            ),
        )


def _humaneval(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, row in _jsonl(path):
        where = (path.name, line)
        prompt = str(_need(row, "prompt", where))
        params = {
            "prompt": prompt,
            "test": str(_need(row, "test", where)),
            "entry_point": _need(row, "entry_point", where),
        }
        content = {
            "kind": "eval_item",
            "input": _user(f"Complete this Python function. Reply with the code only.\n\n```python\n{prompt}```"),
            "grader": {"type": "code_tests", "params": params},
        }
        meta = {
            "tags": ["humaneval"],
            "task_id": row.get("task_id"),
            "canonical_solution": row.get("canonical_solution"),
        }
        yield line, {"content": content, "metadata": meta, "task_type": "generation"}


def _generic(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, row in _jsonl(path):
        where = (path.name, line)
        given = row.get("input", row.get("prompt", row.get("question")))
        if given is None:
            raise DataError(
                f"{path.name}:{line}: no input",
                [ErrorDetail("missing", (*where, "input"), "input, prompt or question")],
            )
        content: dict[str, Any] = {"kind": "eval_item", "input": _user(given) if isinstance(given, str) else given}
        ref = row.get("reference", row.get("answer", row.get("target")))
        if ref is not None:
            content["reference"] = ref if isinstance(ref, list) else str(ref)
        for key in ("choices", "grader"):
            if row.get(key) is not None:
                content[key] = row[key]
        meta = {"tags": list(row.get("tags") or [])}
        yield line, {"content": content, "metadata": meta, "task_type": row.get("task_type")}


_READERS = {"gsm8k": _gsm8k, "mmlu": _mmlu, "humaneval": _humaneval, "jsonl": _generic}


def read_benchmark(path: Path, fmt: str) -> Iterator[Record]:
    """Records of kind ``eval_item`` from a benchmark file (validated; errors name file and line)."""
    reader = _READERS.get(fmt)
    if reader is None:
        raise ConfigError(f"no benchmark format {fmt!r}; known: {', '.join(BENCHMARK_FORMATS)}")
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    for line, data in reader(path):
        try:
            yield Record.model_validate({**data, "source": Source(file=path.name, line=line, format=fmt)})
        except ValidationError as e:
            details = [ErrorDetail(d["type"], (path.name, line, *d["loc"]), d["msg"]) for d in e.errors()]
            raise DataError(f"{path.name}:{line}: not a valid eval item", details) from None


def import_benchmark(store: Store, dataset: Dataset, path: Path, fmt: str) -> int:
    """Write the file's items into ``dataset`` in one transaction; returns how many were new."""
    return store.add_records(dataset, read_benchmark(path, fmt))
