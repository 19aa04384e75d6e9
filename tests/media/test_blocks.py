"""The media curation blocks, applied to items the way a pipeline stage applies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from thresher.curate._items import Item
from thresher.curate.blocks.base import blocks
from thresher.errors import ConfigError
from thresher.media import ingest, probe, synth
from thresher.store.blobs import BlobStore


def _item(blobs: BlobStore, path: Path) -> Item:
    content = ingest(blobs, path).model_dump(mode="json", exclude_none=True, exclude={"kind"})
    return Item(id=f"rec-{path.stem}", kind="media", content=content)


def _block(name: str, blob_url: Path, **config: object) -> object:
    cls = blocks()[name]
    return cls(cls.Config.model_validate({"blob_url": str(blob_url), **config}))


def test_image_blocks_store_new_media_and_keep_the_original(tmp_path: Path, media_dir: Path) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    big = synth.make_image(tmp_path / "big.png", (400, 300), boxes=[(10, 10, 50, 50)])
    item = _item(blobs, big)
    original = item.content["blob"]["uri"]
    resize = _block("image_resize", tmp_path / "blobs", max_side=100)
    verdict = resize.apply(item)  # type: ignore[attr-defined]
    assert verdict.action == "changed" and verdict.reason == "image_resized"
    assert (item.content["info"]["width"], item.content["info"]["height"]) == (100, 75)
    assert item.content["blob"]["mime_type"] == "image/jpeg" and blobs.exists(original)
    assert item.metadata["media_ops"] == [{"op": "image_resized", "from": original, "size": [100, 75]}]
    assert resize.apply(item).action == "kept"  # type: ignore[attr-defined]  # small enough already
    item.to_record()  # still a valid record

    a, b = _item(blobs, big), _item(blobs, big)
    aug = _block("image_augment", tmp_path / "blobs", rotate_deg=15, brightness=0.3)
    aug.apply(a), aug.apply(b)  # type: ignore[attr-defined]
    assert a.content["blob"] == b.content["blob"]  # reproducible from seed and record id

    rotated = _item(blobs, media_dir / "rotated.jpg")
    _block("image_normalize", tmp_path / "blobs", mode="L").apply(rotated)  # type: ignore[attr-defined]
    assert (rotated.content["info"]["width"], rotated.content["info"]["height"]) == (48, 64)
    assert rotated.content["info"].get("orientation", 1) == 1  # pixels upright now: no tag to apply


def test_video_and_audio_blocks(tmp_path: Path, media_dir: Path) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    clip = _item(blobs, media_dir / "clip.mp4")
    shots = _block("video_shots", tmp_path / "blobs")
    assert shots.apply(clip).reason == "shots_detected"  # type: ignore[attr-defined]
    assert clip.metadata["shots"] == [[0.0, 1.5], [1.5, 3.0]]
    _block("video_downsample", tmp_path / "blobs", fps=5, max_side=80).apply(clip)  # type: ignore[attr-defined]
    info = probe(blobs.open(clip.content["blob"]["uri"]), "x.mp4").info
    assert (info.width, info.fps) == (80, 5.0) and clip.content["info"]["frame_count"] == 15

    tone = _item(blobs, media_dir / "tone.wav")  # 16 kHz stereo
    _block("audio_resample", tmp_path / "blobs", rate=8000).apply(tone)  # type: ignore[attr-defined]
    assert (tone.content["info"]["sample_rate"], tone.content["info"]["channels"]) == (8000, 1)
    loud = _block("audio_loudness", tmp_path / "blobs", target_lufs=-16.0)
    assert loud.apply(tone).reason == "audio_loudness_normalized"  # type: ignore[attr-defined]
    assert [op["op"] for op in tone.metadata["media_ops"]] == ["audio_resampled", "audio_loudness_normalized"]
    denoise = _block("audio_denoise", tmp_path / "blobs")
    assert denoise.apply(tone).action == "changed"  # type: ignore[attr-defined]


def test_blocks_need_blob_storage() -> None:
    cls = blocks()["image_resize"]
    with pytest.raises(ConfigError, match="blob_url"):
        cls(cls.Config())
