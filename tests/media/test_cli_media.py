"""``thresher media`` as a user runs it: import a folder, probe, frames, HF datasets, COCO back in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thresher.cli import app
from thresher.store import Store

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_media_commands(tmp_path: Path, media_dir: Path) -> None:
    home = tmp_path / "home"
    run("init", str(home), "--project", "acme")
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("upright.png", "rotated.jpg", "clip.mp4", "broken.png"):
        shutil.copy(media_dir / name, photos / name)
    out = run("media", "import", str(photos), "-d", "pics", "--home", str(home))
    assert "3 added" in out and "1 rejected" in out

    info = json.loads(run("media", "probe", str(media_dir / "clip.mp4")))
    assert info["media_type"] == "video" and info["fps"] == 10.0 and info["frame_count"] == 30
    out = run("media", "frames", str(media_dir / "clip.mp4"), "-o", str(tmp_path / "frames"), "--fps", "2")
    assert "6 frames" in out and len(list((tmp_path / "frames").glob("frame-*.jpg"))) == 6

    result = runner.invoke(app, ["media", "probe", str(media_dir / "broken.mp4")])
    assert result.exit_code != 0 and "broken.mp4" in (result.output + str(result.exception))


def test_hf_media_and_coco_round_trips(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    from thresher.media.annotations import import_coco
    from thresher.media.demo import seed_demo_media
    from thresher.media.hf import import_hf
    from thresher.pipeline import export_dataset

    store = Store.open(tmp_path / "home")
    try:
        seed_demo_media(store, "demo", images=2)
        images = store.get_dataset("demo", "images")
        before = {r.content_hash for r in store.page_records(images, limit=10)}

        export_dataset(store, images, tmp_path / "hf.parquet", "hf-media")
        loaded = datasets.load_dataset("parquet", data_files=str(tmp_path / "hf.parquet"), split="train")
        assert type(loaded.features["image"]).__name__ == "Image"
        assert loaded[0]["image"].size == (320, 240) and json.loads(loaded[0]["answers"])["objects"]
        back = store.create_dataset("demo", "from-hf")
        assert import_hf(store, back, tmp_path / "hf.parquet").added == 2
        assert {r.content_hash for r in store.page_records(back, limit=10)} == before

        speech = store.get_dataset("demo", "speech")
        export_dataset(store, speech, tmp_path / "audio.parquet", "hf-media")
        audio = datasets.load_dataset("parquet", data_files=str(tmp_path / "audio.parquet"), split="train")
        assert set(audio.features) == {"audio", "file_name", "caption", "answers", "split"}
        assert type(audio.features["audio"]).__name__ == "Audio"
        audio.save_to_disk(str(tmp_path / "saved"))  # a save_to_disk folder imports too
        assert import_hf(store, store.create_dataset("demo", "from-saved"), tmp_path / "saved").added == 2

        export_dataset(store, images, tmp_path / "coco", "coco")
        coco = store.create_dataset("demo", "from-coco")
        result = import_coco(
            store, coco, tmp_path / "coco" / "annotations.json", captions=tmp_path / "coco" / "captions.json"
        )
        assert (result.added, result.rejected) == (1, [])  # one of the two demo images is labelled
        row = store.page_records(coco, limit=1)[0]
        (response,) = store.list_responses(row.id)
        original = next(r for r in store.page_records(images, limit=10) if r.content_hash == row.content_hash)
        (source,) = store.list_responses(original.id)
        assert response.answers["objects"] == source.answers["objects"]  # boxes and polygons survive the trip
        assert response.answers["caption"] == "A street."
    finally:
        store.close()
