"""Shared by the TTS exports (``ljspeech``, ``hf-tts``): recorded takes as clips, audio as 16-bit PCM WAV.

A clip is the selected take of a submitted answer to the dataset's ``recording`` question on a
``text`` record (the script); several annotators recording one script make several clips (speakers).
The browser records webm/opus; every take is decoded with PyAV (any format it reads) and written as
mono 16-bit PCM WAV at ``SAMPLE_RATE`` (LJSpeech's 22,050 Hz), one frame at a time, so memory stays
one clip whatever the dataset's size.
"""

from __future__ import annotations

import re
import unicodedata
import wave
from collections.abc import Iterator
from itertools import chain
from typing import IO, Any

from thresher.errors import DataError, ErrorDetail, MissingExtra
from thresher.formats.base import ExportContext, ExportItem
from thresher.model import Question, RecordingQuestion

SAMPLE_RATE = 22_050
_SPACE = re.compile(r"\s+")
# Typographic punctuation a TTS front end may not know, as its ASCII spelling.
_ASCII = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": " - ", "…": "...", "|": " "})


def recording_question(ctx: ExportContext) -> RecordingQuestion | None:
    q: Question | None = next((q for q in ctx.questions if q.type == "recording"), None)
    return q if isinstance(q, RecordingQuestion) else None


def one_line(text: str) -> str:
    """The script on one line without ``|`` (``metadata.csv`` is one clip per line, ``|``-separated)."""
    return _SPACE.sub(" ", text.replace("|", " ")).strip()


def normalize_text(text: str) -> str:
    """LJSpeech's third column: the text as spoken, here Unicode-normalized (NFKC) with ASCII punctuation."""
    return one_line(unicodedata.normalize("NFKC", text).translate(_ASCII))


def clips(item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
    """One row per submitted recording of the record's script whose selected take is a stored blob."""
    q = recording_question(ctx)
    if q is None or item.kind != "text":
        return
    script = item.content()["text"]
    n = 0
    for r in item.responses:
        value = r.answers.get(q.name) if r.status == "submitted" else None
        if not isinstance(value, dict) or not value.get("takes"):
            continue
        selected = int(value.get("selected", 0))
        take = value["takes"][selected] if selected < len(value["takes"]) else None
        if take is None or not str(take["blob"]["uri"]).startswith("blob://"):
            continue
        n += 1
        yield {
            "id": f"{item.id[:16]}-{n}",
            "record_id": item.id,
            "uri": take["blob"]["uri"],
            "loc": (item.id, q.name, "takes", selected),
            "text": one_line(script),
            "normalized_text": normalize_text(script),
            "tags": dict(value.get("tags") or {}),
            "speaker": r.user,
            "split": item.split,
        }


def skip_reason(item: ExportItem, ctx: ExportContext, name: str) -> str:
    if item.kind != "text":
        return f"{name} takes text records (the script) with a recording answer"
    if recording_question(ctx) is None:
        return "the dataset has no recording question"
    return "no submitted recording whose selected take is a stored blob"


def transcode(ctx: ExportContext, clip: dict[str, Any], out: IO[bytes]) -> float:
    """Write the clip's take to ``out`` as mono 16-bit PCM WAV at ``SAMPLE_RATE``; return its seconds."""
    try:
        import av
    except ImportError:
        raise MissingExtra("av", "media") from None
    if ctx.open_blob is None:
        raise DataError("this export writes audio files and needs the store's blobs", [])
    frames = 0
    try:
        with ctx.open_blob(clip["uri"]) as src, av.open(src, mode="r") as container:
            if not container.streams.audio:
                raise ValueError("the file has no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            with wave.open(out, "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(SAMPLE_RATE)
                decoded = container.decode(container.streams.audio[0])
                for frame in chain(decoded, [None]):  # None flushes the resampler's buffered samples
                    for pcm in resampler.resample(frame):
                        data = pcm.to_ndarray().tobytes()
                        wav.writeframes(data)
                        frames += len(data) // 2
    except DataError:
        raise
    except Exception as e:  # PyAV raises InvalidDataError, OSError, ValueError... on a bad file
        msg = f"the selected take is not audio PyAV can decode ({e.__class__.__name__}: {e})"
        raise DataError(
            f"record {clip['record_id']}: unreadable take {clip['uri']}",
            [ErrorDetail("invalid_media", tuple(clip["loc"]), msg, clip["uri"])],
        ) from None
    return frames / SAMPLE_RATE
