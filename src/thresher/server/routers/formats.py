"""The file formats the server reads and writes, from the formats registry (the web app's import and
export pages list them from here, so a new format module shows up there without a web change)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from thresher.errors import ConfigError
from thresher.formats import Format, containers, formats
from thresher.server.deps import PrincipalDep
from thresher.server.errors import ERROR_RESPONSES

router = APIRouter(prefix="/formats", tags=["formats"], responses=ERROR_RESPONSES)


class FormatPublic(BaseModel):
    name: str
    description: str
    importable: bool = Field(description="rows of this format can be imported (`records/import`)")
    exportable: bool = Field(description="a dataset can be exported in this format (`exports`)")
    kinds: list[str] = Field(description="record kinds it reads into and writes from")
    question_types: list[str] = Field(
        description="question types whose answers it carries (labels in the file) or needs (media exports)"
    )
    media_types: list[str] = Field(description="image / video / audio: the media it holds (media formats only)")
    training: bool = Field(description="training rows: eval items are never exported in it")
    writes_files: bool = Field(description="writes a file or folder of its own (COCO, MOT...): no file type choice")
    needs_mapping: bool = Field(description="needs a field mapping (`generic`), which only the CLI can pass")
    default_container: str
    extensions: list[str] = Field(description="file name endings of its default file type")


class ContainerPublic(BaseModel):
    name: str
    extensions: list[str] = Field(description="empty for a folder (a saved Hugging Face dataset)")


class FormatsPublic(BaseModel):
    formats: list[FormatPublic]
    containers: list[ContainerPublic] = Field(description="file types row formats can be read from and written to")


def _overrides(fmt: Format, method: str) -> bool:
    return getattr(type(fmt), method) is not getattr(Format, method)


def _needs_mapping(fmt: Format) -> bool:
    try:
        fmt.configure({})
    except ConfigError:
        return True
    return False


def _public(fmt: Format) -> FormatPublic:
    box = containers().get(fmt.default_container)
    carried = [q.type for q in fmt.questions]
    needed = list(getattr(fmt, "question_types", ()))  # media formats: the answers they are made of
    return FormatPublic(
        name=fmt.name,
        description=fmt.description,
        # Media annotation files are read by `thresher media import-annotations`, not row by row.
        importable=_overrides(fmt, "parse") and not fmt.writes_files,
        exportable=_overrides(fmt, "to_rows"),
        kinds=list(fmt.kinds),
        question_types=list(dict.fromkeys([*carried, *needed])),
        media_types=list(getattr(fmt, "media_types", ())) if fmt.writes_files else [],
        training=fmt.training,
        writes_files=fmt.writes_files,
        needs_mapping=_needs_mapping(fmt),
        default_container=fmt.default_container,
        extensions=list(box.extensions) if box is not None else [],
    )


@router.get("", response_model=FormatsPublic, summary="Import and export formats, and file types (any signed-in user)")
def list_formats(principal: PrincipalDep) -> FormatsPublic:
    return FormatsPublic(
        formats=[_public(f) for f in formats().values()],
        containers=[ContainerPublic(name=c.name, extensions=list(c.extensions)) for c in containers().values()],
    )
