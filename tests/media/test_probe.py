from __future__ import annotations

from pathlib import Path

import pytest

from thresher.errors import DataError
from thresher.media import media_type_of, probe


def test_image_size_as_displayed_with_exif_orientation(media_dir: Path) -> None:
    up = probe(media_dir / "upright.png", "upright.png")
    assert (up.media_type, up.mime_type, up.info.width, up.info.height) == ("image", "image/png", 64, 48)
    rot = probe(media_dir / "rotated.jpg", "rotated.jpg")
    assert (rot.info.width, rot.info.height, rot.info.orientation, rot.info.codec) == (48, 64, 6, "jpeg")


def test_video_fps_duration_frames_codec(media_dir: Path) -> None:
    v = probe(media_dir / "clip.mp4", "clip.mp4")
    assert v.media_type == "video" and v.mime_type == "video/mp4"
    assert (v.info.width, v.info.height, v.info.fps, v.info.frame_count, v.info.codec) == (160, 120, 10.0, 30, "h264")
    assert v.info.duration_s == pytest.approx(3.0, abs=0.11)


def test_audio_rate_channels_duration(media_dir: Path) -> None:
    a = probe(media_dir / "tone.wav", "tone.wav")
    assert (a.media_type, a.mime_type, a.info.sample_rate, a.info.channels) == ("audio", "audio/wav", 16000, 2)
    assert a.info.duration_s == pytest.approx(2.0)


def test_probe_reads_file_objects(media_dir: Path) -> None:
    with (media_dir / "clip.mp4").open("rb") as f:
        assert probe(f, "clip.mp4").info.frame_count == 30
        assert f.tell() == 0


@pytest.mark.parametrize("name", ["broken.png", "broken.mp4", "empty.wav"])
def test_corrupt_file_error_names_the_file(media_dir: Path, name: str) -> None:
    with pytest.raises(DataError) as e:
        probe(media_dir / name, name)
    assert e.value.details[0].loc == (name,)
    assert name in str(e.value) and "expected" in e.value.details[0].msg


def test_unknown_extension() -> None:
    assert media_type_of("notes.txt") is None and media_type_of("a/B.JPG") == "image"
    with pytest.raises(DataError, match=r"notes\.txt"):
        probe(Path("notes.txt"), "notes.txt")
