"""Pipelines as data: a YAML file (or Python objects) naming an input, an output and blocks.

```yaml
name: default
input: {dataset: raw}                 # optional version:, kinds:
output: {dataset: curated}            # optional version: (default <name>-<n>)
blocks:
  - validate
  - near_dedup: {threshold: 0.7, shingle: 3}
```

An unknown block or field fails at load time with the file, the line and the names that would fit.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thresher.curate.blocks.base import Block, BlockConfig, BlockType, ClusterBlock, blocks
from thresher.errors import DataError, ErrorDetail
from thresher.model import RECORD_KINDS


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="dataset name, or project/dataset")
    version: str | None = None
    kinds: list[str] = Field(default_factory=list)


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str
    version: str | None = Field(default=None, description="version name; default <pipeline>-<n>")


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str | None = None
    input: InputSpec | None = None
    output: OutputSpec | None = None
    blocks: list[Any] = Field(min_length=1)
    batch_size: int = Field(default=256, ge=1, le=100_000)


@dataclass
class BlockSpec:
    name: str
    config: BlockConfig

    def build(self) -> Block | ClusterBlock:
        return blocks()[self.name](self.config)

    @property
    def type(self) -> BlockType:
        return blocks()[self.name]

    def to_dict(self) -> dict[str, Any]:
        return {self.name: self.config.model_dump(mode="json")}


@dataclass
class PipelineSpec:
    name: str
    blocks: list[BlockSpec]
    input: InputSpec | None = None
    output: OutputSpec | None = None
    batch_size: int = 256
    description: str | None = None
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input": self.input.model_dump() if self.input else None,
            "output": self.output.model_dump() if self.output else None,
            "blocks": [b.to_dict() for b in self.blocks],
            "batch_size": self.batch_size,
        }


def block(name: str, **fields: Any) -> BlockSpec:
    """A block for a pipeline declared in Python: ``block("near_dedup", threshold=0.8)``."""
    return _block_spec(name, fields, ("<python>",), {}, 0)


def load_pipeline(path: Path) -> PipelineSpec:
    text = path.read_text(encoding="utf-8")
    return parse_pipeline(text, str(path))


def parse_pipeline(text: str, file: str = "<string>") -> PipelineSpec:
    lines: dict[tuple[Any, ...], int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise DataError(f"{file} is not valid YAML", [ErrorDetail("yaml", (file, line), str(e))]) from None
    data = _to_py(node, (), lines) if node is not None else None
    if not isinstance(data, dict):
        raise DataError(f"{file}: expected a mapping", [ErrorDetail("type", (file, 1), "expected a mapping")])
    return pipeline_from_dict(data, file, lines)


def pipeline_from_dict(
    data: dict[str, Any], file: str = "<python>", lines: dict[tuple[Any, ...], int] | None = None
) -> PipelineSpec:
    lines = lines or {}
    try:
        f = _File.model_validate(data)
    except ValidationError as e:
        raise _error(file, e, (), lines, _File) from None
    specs = []
    for i, entry in enumerate(f.blocks):
        fields: Any
        if isinstance(entry, str):
            name, fields = entry, {}
        elif isinstance(entry, dict) and len(entry) == 1:
            name, fields = next(iter(entry.items()))
            fields = fields or {}
        else:
            loc: tuple[Any, ...] = ("blocks", i)
            msg = "expected a block name, or a mapping of one block name to its fields"
            raise DataError(f"{file}: bad block", [ErrorDetail("block", (file, _line(lines, loc), *loc), msg, entry)])
        if not isinstance(fields, dict):
            loc = ("blocks", i, name)
            msg = "expected the block's fields as a mapping"
            raise DataError(f"{file}: bad block", [ErrorDetail("block", (file, _line(lines, loc), *loc), msg, fields)])
        specs.append(_block_spec(str(name), fields, (file,), lines, i))
    if f.input:
        bad = [k for k in f.input.kinds if k not in RECORD_KINDS]
        if bad:
            kloc: tuple[Any, ...] = ("input", "kinds")
            msg = f"unknown record kinds {bad}; expected some of {list(RECORD_KINDS)}"
            raise DataError(f"{file}: bad input", [ErrorDetail("kind", (file, _line(lines, kloc), *kloc), msg)])
    return PipelineSpec(f.name, specs, f.input, f.output, f.batch_size, f.description, file)


def _block_spec(name: str, fields: dict[str, Any], head: tuple[Any, ...], lines: dict[Any, int], i: int) -> BlockSpec:
    known = blocks()
    file = head[0]
    loc: tuple[Any, ...] = ("blocks", i)
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"expected one of {', '.join(sorted(known))}"
        msg = f"unknown block {name!r}; {hint}"
        raise DataError(f"{file}: {msg}", [ErrorDetail("unknown_block", (file, _line(lines, loc), *loc), msg, name)])
    cls = known[name]
    try:
        config = cls.Config.model_validate(fields)
        cls(config)  # built once here so a bad setting fails before the run
    except ValidationError as e:
        raise _error(file, e, (*loc, name), lines, cls.Config) from None
    except ValueError as e:
        msg = str(e)
        raise DataError(
            f"{file}: {msg}", [ErrorDetail("invalid_block", (file, _line(lines, loc), *loc), msg)]
        ) from None
    return BlockSpec(name, config)


def _error(
    file: str, e: ValidationError, prefix: tuple[Any, ...], lines: dict[Any, int], model: type[BaseModel]
) -> DataError:
    details = []
    for err in e.errors():
        loc = (*prefix, *err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            field = str(err["loc"][-1])
            sub = _submodel(model, err["loc"][:-1])
            names = list(sub.model_fields) if sub is not None else []
            close = difflib.get_close_matches(field, names, n=3, cutoff=0.5)
            msg = f"unknown field {field!r}; " + (
                f"did you mean {', '.join(close)}?" if close else f"expected one of {', '.join(names)}"
            )
        details.append(ErrorDetail(err["type"], (file, _line(lines, loc), *loc), msg, err.get("input")))
    return DataError(f"{file}: the pipeline does not fit", details)


def _submodel(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) else None
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        current = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _line(lines: dict[Any, int], loc: tuple[Any, ...]) -> int:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1


def _to_py(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k, v in node.value:
            key = yaml.safe_load(yaml.serialize(k)) if not isinstance(k, yaml.ScalarNode) else k.value
            lines[(*path, key)] = k.start_mark.line + 1
            out[key] = _to_py(v, (*path, key), lines)
            lines[(*path, key)] = k.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_py(v, (*path, i), lines) for i, v in enumerate(node.value)]
    return yaml.SafeLoader(yaml.serialize(node)).get_single_data() if node.tag else node.value
