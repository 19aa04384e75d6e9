from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from PIL import Image

from thresher.errors import NotFound
from thresher.media import ingest, peaks, thumbnail
from thresher.store import Store


def test_thumbnail_is_upright_small_and_cached(sqlite_store: Store, media_dir: Path) -> None:
    content = ingest(sqlite_store.blobs, media_dir / "rotated.jpg")
    first = thumbnail(sqlite_store.blobs, content.blob, "image", size=32)
    img = Image.open(io.BytesIO(first))
    assert img.format == "JPEG" and img.size == (24, 32)  # 64x48 stored, orientation 6: shown 48x64
    cached = list(sqlite_store.blobs.fs.find(f"{sqlite_store.blobs.root}/derived"))
    assert len(cached) == 1 and content.blob.sha256 in cached[0]
    assert thumbnail(sqlite_store.blobs, content.blob, "image", size=32) == first


def test_video_poster_and_audio_peaks(sqlite_store: Store, media_dir: Path) -> None:
    video = ingest(sqlite_store.blobs, media_dir / "clip.mp4")
    poster = Image.open(io.BytesIO(thumbnail(sqlite_store.blobs, video.blob, "video", size=80)))
    assert poster.size == (80, 60)
    audio = ingest(sqlite_store.blobs, media_dir / "tone.wav")
    data = orjson.loads(peaks(sqlite_store.blobs, audio.blob, buckets=100))
    assert data["sample_rate"] == 16000 and data["duration_s"] == 2.0
    assert len(data["peaks"]) == 200 and max(data["peaks"]) == pytest.approx(0.3, abs=0.01)
    with pytest.raises(NotFound):
        thumbnail(sqlite_store.blobs, audio.blob, "audio")
