from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from thresher.media import import_folder, media_transform
from thresher.model import MediaContent
from thresher.pipeline import import_file
from thresher.store import Store


def _folder(media_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "cats").mkdir(parents=True)
    shutil.copy(media_dir / "upright.png", root / "cats" / "a.png")
    shutil.copy(media_dir / "rotated.jpg", root / "b.jpg")
    shutil.copy(media_dir / "clip.mp4", root / "clip.mp4")
    shutil.copy(media_dir / "tone.wav", root / "tone.wav")
    shutil.copy(media_dir / "broken.png", root / "broken.png")
    (root / "README.txt").write_text("not media")
    return root


def test_folder_import_keeps_good_files_and_rejects_corrupt_ones(
    sqlite_store: Store, media_dir: Path, tmp_path: Path
) -> None:
    root = _folder(media_dir, tmp_path)
    ds = sqlite_store.create_dataset(sqlite_store.ensure_project("p").name, "media")
    result = import_folder(sqlite_store, ds, root)
    assert result.counts() == {"files": 5, "added": 4, "duplicates": 0, "ignored": 1, "rejected": 1}
    assert result.rejected[0].loc == ("broken.png",)
    assert result.rejects is not None
    reject = orjson.loads(result.rejects.read_bytes().splitlines()[0])
    assert reject["file"] == "broken.png" and reject["error"]["type"] == "invalid_media"

    rows = {r.to_record().metadata["file_name"]: r.to_record() for r in sqlite_store.page_records(ds, limit=10)}
    assert set(rows) == {"cats/a.png", "b.jpg", "clip.mp4", "tone.wav"}
    cat = rows["cats/a.png"]
    assert cat.metadata["folder"] == "cats" and isinstance(cat.content, MediaContent)
    assert sqlite_store.blobs.exists(cat.content.blob) and cat.content.blob.size == (root / "cats/a.png").stat().st_size
    video = rows["clip.mp4"].content
    assert isinstance(video, MediaContent) and video.info.fps == 10.0 and video.media_type == "video"

    again = import_folder(sqlite_store, ds, root)  # same bytes: nothing new, stored once
    assert (again.added, again.duplicates) == (0, 4)


def test_dataset_file_referencing_media_by_relative_path(sqlite_store: Store, media_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    shutil.copy(media_dir / "upright.png", tmp_path / "imgs" / "up.png")
    shutil.copy(media_dir / "broken.png", tmp_path / "imgs" / "bad.png")
    rows = [
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "What is it?"},
                                                   {"type": "image_url", "image_url": {"url": "imgs/up.png"}}]},
                      {"role": "assistant", "content": "A box."}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "imgs/bad.png"}}]},
                      {"role": "assistant", "content": "?"}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "imgs/missing.png"}}]},
                      {"role": "assistant", "content": "?"}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.org/x.png"}}]},
                      {"role": "assistant", "content": "remote: kept as a reference"}]},
    ]  # fmt: skip
    data = tmp_path / "chat.jsonl"
    data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    ds = sqlite_store.create_dataset(sqlite_store.ensure_project("p").name, "vlm")
    transform = media_transform(sqlite_store.blobs, data.parent)
    result = import_file(sqlite_store, ds, data, fmt="openai-chat", skip_invalid=True, transform=transform)
    assert (result.added, result.invalid) == (2, 2)
    errors = {e.loc[1]: e for e in result.errors}
    assert errors[2].loc[2:] == ("messages", 0, "content", 0, "image", "uri") and "imgs/bad.png" in errors[2].msg
    assert "no such file" in errors[3].msg
    uris = [
        r.to_record().content.messages[0].content[-1].image.uri  # type: ignore[union-attr,index]
        for r in sqlite_store.page_records(ds, limit=10)
    ]
    assert uris[0].startswith("blob://sha256/") and sqlite_store.blobs.exists(uris[0])
    assert uris[1] == "https://example.org/x.png"


def test_media_record_rows_get_their_metadata(sqlite_store: Store, media_dir: Path, tmp_path: Path) -> None:
    shutil.copy(media_dir / "clip.mp4", tmp_path / "clip.mp4")
    data = tmp_path / "media.jsonl"
    row = {"content": {"kind": "media", "media_type": "video", "blob": {"uri": "clip.mp4"}}}
    data.write_bytes(orjson.dumps(row) + b"\n")
    ds = sqlite_store.create_dataset(sqlite_store.ensure_project("p").name, "vids")
    import_file(sqlite_store, ds, data, transform=media_transform(sqlite_store.blobs, tmp_path))
    content = sqlite_store.page_records(ds, limit=1)[0].to_record().content
    assert isinstance(content, MediaContent)
    assert content.info.frame_count == 30 and content.blob.mime_type == "video/mp4"
    # the record is hashed as stored (with its blob address), so a second import of the same file adds nothing
    again = import_file(sqlite_store, ds, data, transform=media_transform(sqlite_store.blobs, tmp_path))
    assert (again.added, again.duplicates) == (0, 1)


def test_base_install_imports_without_the_extra() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['PIL'] = None; sys.modules['av'] = None; sys.modules['soundfile'] = None\n"
        "import thresher.media, thresher.formats\n"
        "from thresher.errors import MissingExtra\n"
        "from pathlib import Path\n"
        "try:\n    thresher.media.probe(Path('x.png'), 'x.png')\nexcept MissingExtra as e:\n    print(e.extra)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "media"


@pytest.mark.parametrize("missing", ["nothing-here"])
def test_folder_that_does_not_exist(sqlite_store: Store, tmp_path: Path, missing: str) -> None:
    from thresher.errors import DataError

    ds = sqlite_store.create_dataset(sqlite_store.ensure_project("p").name, "m")
    with pytest.raises(DataError, match=missing):
        import_folder(sqlite_store, ds, tmp_path / missing)
