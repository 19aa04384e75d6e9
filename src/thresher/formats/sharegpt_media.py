"""LLaMA-Factory multimodal sharegpt: turns with ``<image>`` / ``<video>`` / ``<audio>`` placeholders and the
files in ``images`` / ``videos`` / ``audios`` (as LLaMA-Factory's mllm_demo data).

Reading turns each placeholder into a media part (its file stored by ``thresher media import-file``);
writing does the reverse and copies each stored file to ``media/<sha256>.<ext>`` beside the data
file, which the ``dataset_info.json`` entry's columns point LLaMA-Factory to.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thresher.formats._chat import make_record
from thresher.formats._media import MEDIA_COLUMNS, copy_media_files, media_placeholders, with_media_parts
from thresher.formats.base import ExportContext, ExportItem, Parsed, Row, RowError
from thresher.formats.containers import get_container
from thresher.formats.registry import register_format
from thresher.formats.sharegpt import (
    _COLUMNS,
    _EXTRA_COLUMNS,
    ShareGPT,
    _system_turn,
    _tools_column,
    _with_tools,
    check_turns,
    read_conversation,
    write_messages,
)
from thresher.formats.views import sft_messages


@register_format
class ShareGPTMedia(ShareGPT):
    name = "sharegpt-media"
    description = "LLaMA-Factory multimodal sharegpt SFT JSON: <image>/<video>/<audio> turns + images/videos/audios"
    kinds = ("conversation",)  # type: ignore[assignment]
    specificity = 3
    columns = (*_COLUMNS, *_EXTRA_COLUMNS, *((c, c, False) for c in MEDIA_COLUMNS))  # type: ignore[assignment]
    empty_reason = "no assistant answer to train on"

    def sniff(self, row: dict[str, Any]) -> bool:
        allowed = {"conversations", "system", "tools", *MEDIA_COLUMNS}
        turns = row.get("conversations")
        return (
            "conversations" in row
            and set(row) <= allowed
            and any(c in row for c in MEDIA_COLUMNS)
            and isinstance(turns, list)
            and all(isinstance(t, dict) and "from" in t for t in turns)
        )

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        messages, metadata = read_conversation(row)
        if not messages:
            raise RowError("the conversation is empty: expected turns", ("conversations",), "empty_conversation")
        content = _with_tools({"kind": "conversation", "messages": with_media_parts(messages, row)}, row)
        yield Parsed(make_record(content, metadata=metadata))

    def build(self, item: ExportItem, ctx: ExportContext) -> list[dict[str, Any]]:
        messages = sft_messages(item, ctx)
        if messages is None:
            return []
        messages, media = media_placeholders(messages)
        turns, extra = write_messages(messages, self.name, _system_turn(item))
        check_turns(turns, self.name, ends_on_prompt=False)
        return [{"conversations": turns, **extra, **_tools_column(item), **media}]

    def finish_export(self, data_path: Path, ctx: ExportContext, manifest: dict[str, Any]) -> list[Path]:
        written = super().finish_export(data_path, ctx, manifest)
        box = get_container(str(manifest.get("container", self.default_container)))
        copy_media_files((r.data for r in box.read(data_path) if isinstance(r, Row)), data_path.parent, ctx)
        return written
