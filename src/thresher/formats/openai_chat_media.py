"""OpenAI chat fine-tuning JSONL with the media inlined: stored images as ``data:`` URLs in ``image_url``
parts (as OpenAI's vision fine-tuning takes them), stored audio as ``input_audio`` parts (base64 WAV or
MP3). Video has no OpenAI chat part: a conversation with video is skipped, with the reason.

Importing a file of this format with ``thresher media import-file`` stores the inlined images again.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from thresher.formats.base import ExportContext, ExportItem
from thresher.formats.openai_chat import OpenAIChat
from thresher.formats.registry import register_format

MAX_INLINE_BYTES = 20 * 1024 * 1024  # a file larger than this is left out of the row (skipped, with the reason)
_AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3"}


class _Skip(Exception):
    pass


def _inline(ctx: ExportContext, ref: dict[str, Any]) -> bytes:
    uri = ref["uri"]
    if ctx.open_blob is None or not uri.startswith("blob://"):
        raise _Skip(f"{uri} is not a stored file")
    if (ref.get("size") or 0) > MAX_INLINE_BYTES:
        raise _Skip(f"{uri} is over {MAX_INLINE_BYTES // 2**20} MB")
    with ctx.open_blob(uri) as f:
        return f.read()


def _mime_types(value: Any, out: dict[str, str] | None = None) -> dict[str, str]:
    """Blob URI -> MIME type of every blob reference in the content (OpenAI's parts drop the type)."""
    out = {} if out is None else out
    if isinstance(value, dict):
        if isinstance(value.get("uri"), str) and isinstance(value.get("mime_type"), str):
            out[value["uri"]] = value["mime_type"]
        for v in value.values():
            _mime_types(v, out)
    elif isinstance(value, list):
        for v in value:
            _mime_types(v, out)
    return out


@register_format
class OpenAIChatMedia(OpenAIChat):
    name = "openai-chat-media"
    description = "OpenAI chat fine-tuning JSONL with images as data: URLs and audio as input_audio (vision SFT)"
    kinds = ("conversation",)  # type: ignore[assignment]
    specificity = 0

    def sniff(self, row: dict[str, Any]) -> bool:
        return False  # reads as openai-chat; `thresher media import-file` stores the inlined images

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        try:
            rows = [self._inline_row(row, ctx, _mime_types(item.content())) for row in super().to_rows(item, ctx)]
        except _Skip:
            return
        yield from rows

    def _inline_row(self, row: dict[str, Any], ctx: ExportContext, mimes: dict[str, str]) -> dict[str, Any]:
        for m in row["messages"]:
            content = m.get("content")
            if not isinstance(content, list):
                continue
            parts = []
            for p in content:
                if p.get("type") == "image_url" and str(p["image_url"].get("url", "")).startswith("blob://"):
                    ref = {"uri": p["image_url"]["url"]}
                    data = base64.b64encode(_inline(ctx, ref)).decode()
                    mime = mimes.get(ref["uri"]) or "image/png"
                    p = {**p, "image_url": {**p["image_url"], "url": f"data:{mime};base64,{data}"}}
                elif p.get("type") == "audio":
                    fmt = _AUDIO_FORMATS.get(p["audio"].get("mime_type") or mimes.get(p["audio"]["uri"], ""), "wav")
                    data = base64.b64encode(_inline(ctx, p["audio"])).decode()
                    p = {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}
                elif p.get("type") == "video":
                    raise _Skip("OpenAI chat has no video parts")
                parts.append(p)
            m["content"] = parts
        return row

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        try:
            for row in super().to_rows(item, ctx):
                self._inline_row(row, ctx, {})
        except _Skip as e:
            return str(e)
        return super().skip_reason(item, ctx)
