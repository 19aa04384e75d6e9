"""Technical metadata read from a media file: Pillow for images, soundfile (or PyAV) for audio, PyAV for video.

Image sizes are given as displayed, after the EXIF orientation is applied (as browsers show them,
and as annotators draw on them); ``orientation`` keeps the tag itself.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import IO, Any

from thresher.media._deps import bad_media, need
from thresher.model import MediaInfo
from thresher.model.content import MediaType

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".aac", ".opus"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg"})
_ORIENTATION_TAG = 0x0112
_ROTATED = {5, 6, 7, 8}  # orientations that swap width and height

Source = Path | IO[bytes]


@dataclass(frozen=True, slots=True)
class Probed:
    media_type: MediaType
    mime_type: str
    info: MediaInfo


def media_type_of(name: str) -> MediaType | None:
    """The media type a file name's extension says, or None for a file that is not media."""
    ext = PurePosixPath(name).suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return None


def _rewind(source: Source) -> Source:
    if not isinstance(source, Path):
        source.seek(0)
    return source


def probe(source: Source, name: str, media_type: MediaType | None = None) -> Probed:
    """Read ``source``'s metadata; ``name`` (the file name) picks the reader and appears in errors.

    Raises ``DataError`` naming the file when it is corrupt, truncated or not the media its name says.
    """
    kind = media_type or media_type_of(name)
    if kind is None:
        raise bad_media(name, "unknown media type; expected an image, audio or video file extension", "unknown_media")
    try:
        if kind == "image":
            return _probe_image(_rewind(source), name)
        if kind == "audio":
            return _probe_audio(_rewind(source), name)
        return _probe_video(_rewind(source), name)
    finally:
        _rewind(source)


def _probe_image(source: Source, name: str) -> Probed:
    Image = need("PIL.Image")
    try:
        with Image.open(source) as img:
            fmt = img.format
            orientation = int(img.getexif().get(_ORIENTATION_TAG) or 1)
            w, h = img.size
            frames = int(getattr(img, "n_frames", 1))
            img.load()  # decodes: a truncated or corrupt file fails here, not later in a thumbnail
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError, ValueError...
        raise bad_media(name, f"cannot read the image ({_why(e)}); expected a valid image file") from None
    if orientation in _ROTATED:
        w, h = h, w
    mime = Image.MIME.get(fmt or "", None) or _guess_mime(name, "image/octet-stream")
    info = MediaInfo(
        width=w,
        height=h,
        orientation=orientation if 1 <= orientation <= 8 else None,
        codec=(fmt or "").lower() or None,
        frame_count=frames if frames > 1 else None,
    )
    return Probed("image", mime, info)


def _probe_audio(source: Source, name: str) -> Probed:
    sf = need("soundfile")
    try:
        i = sf.info(source)
    except Exception:  # libsndfile does not read this container (e.g. AAC): PyAV does
        return _probe_av(_rewind(source), name, "audio")
    if not i.frames or not i.samplerate:
        raise bad_media(name, "the audio file has no samples; expected a non-empty recording")
    info = MediaInfo(
        duration_s=round(i.frames / i.samplerate, 6),
        sample_rate=int(i.samplerate),
        channels=int(i.channels),
        codec=str(i.subtype).lower() or None,
        frame_count=int(i.frames),
    )
    return Probed("audio", _guess_mime(name, "audio/" + str(i.format).lower()), info)


def _probe_video(source: Source, name: str) -> Probed:
    return _probe_av(source, name, "video")


def _probe_av(source: Source, name: str, kind: MediaType) -> Probed:
    av = need("av")
    try:
        with av.open(source if not isinstance(source, Path) else str(source)) as c:
            info = _av_info(c, kind)
    except Exception as e:
        raise bad_media(name, f"cannot read the {kind} ({_why(e)}); expected a valid {kind} file") from None
    return Probed(kind, _guess_mime(name, f"{kind}/octet-stream"), info)


def _av_info(c: Any, kind: MediaType) -> MediaInfo:
    duration = c.duration / 1_000_000 if c.duration else None
    if kind == "video":
        if not c.streams.video:
            raise ValueError("no video stream")
        v = c.streams.video[0]
        rate = v.average_rate or v.guessed_rate
        fps = float(Fraction(rate)) if rate else None
        if v.duration and v.time_base:
            duration = float(v.duration * v.time_base)
        frames = int(v.frames) or (round(duration * fps) if duration and fps else None)
        next(c.decode(v), None)  # the first frame decodes: the stream is not garbage behind a valid header
        audio = c.streams.audio[0] if c.streams.audio else None
        return MediaInfo(
            width=v.codec_context.width or None,
            height=v.codec_context.height or None,
            duration_s=round(duration, 6) if duration is not None else None,
            fps=round(fps, 6) if fps else None,
            frame_count=frames,
            codec=v.codec_context.name,
            sample_rate=(audio.codec_context.sample_rate or None) if audio else None,
            channels=(audio.codec_context.channels or None) if audio else None,
        )
    if not c.streams.audio:
        raise ValueError("no audio stream")
    a = c.streams.audio[0]
    if a.duration and a.time_base:
        duration = float(a.duration * a.time_base)
    return MediaInfo(
        duration_s=round(duration, 6) if duration is not None else None,
        sample_rate=a.codec_context.sample_rate or None,
        channels=a.codec_context.channels or None,
        codec=a.codec_context.name,
    )


_MIME = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".opus": "audio/ogg",
    ".mkv": "video/x-matroska",
}


def _guess_mime(name: str, default: str) -> str:
    return _MIME.get(PurePosixPath(name).suffix.lower()) or mimetypes.guess_type(name)[0] or default


def _why(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]
