"""Multimodal SFT rows: LLaMA-Factory sharegpt with images / videos / audios, stored media, and back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PIL")

from thresher.errors import DataError
from thresher.formats import detect_format
from thresher.media import media_transform, probe, synth
from thresher.pipeline import export_dataset, import_file
from thresher.store import Store

ROWS = [
    {
        "conversations": [
            {"from": "human", "value": "<image>Who is in the picture?"},
            {"from": "gpt", "value": "A blue square."},
            {"from": "human", "value": "And here?<image>"},
            {"from": "gpt", "value": "Two boxes."},
        ],
        "images": ["imgs/a.png", "imgs/b.png"],
    },
    {
        "conversations": [{"from": "human", "value": "<audio>What is said?"}, {"from": "gpt", "value": "A tone."}],
        "audios": ["imgs/t.wav"],
    },
]


def test_sharegpt_media_round_trip(sqlite_store: Store, tmp_path: Path) -> None:
    synth.make_image(tmp_path / "imgs" / "a.png", (32, 24))
    synth.make_image(tmp_path / "imgs" / "b.png", (32, 24), boxes=[(1, 1, 5, 5), (10, 10, 5, 5)])
    synth.make_tone(tmp_path / "imgs" / "t.wav", 0.5)
    data = tmp_path / "mllm.json"
    data.write_text(json.dumps(ROWS))
    assert detect_format("mllm.json", ROWS).name == "sharegpt-media"
    ds = sqlite_store.ensure_dataset("p", "vlm")
    result = import_file(sqlite_store, ds, data, transform=media_transform(sqlite_store.blobs, tmp_path))
    assert (result.format, result.added) == ("sharegpt-media", 2)
    first = sqlite_store.page_records(ds, limit=1)[0].to_record()
    parts: list[Any] = first.content.messages[0].content  # type: ignore[union-attr,assignment]
    assert [p.type for p in parts] == ["image", "text"] and parts[0].image.uri.startswith("blob://")

    out = tmp_path / "export" / "mllm.json"
    exported = export_dataset(sqlite_store, ds, out, "sharegpt-media")
    assert exported.rows == 2
    rows = json.loads(out.read_text())
    assert rows[0]["conversations"][0]["value"] == "<image>Who is in the picture?"
    assert rows[0]["conversations"][2]["value"] == "And here?<image>"
    assert all(p.startswith("media/") for p in rows[0]["images"]) and len(rows[0]["images"]) == 2
    for path in [*rows[0]["images"], *rows[1]["audios"]]:
        assert probe(out.parent / path, path).media_type in ("image", "audio")  # the files are there and readable
    entry = json.loads((out.parent / "dataset_info.json").read_text())["mllm"]
    assert entry["formatting"] == "sharegpt" and entry["columns"]["images"] == "images"
    assert entry["columns"]["audios"] == "audios" and "videos" not in entry["columns"]

    # and back in: the exported folder imports as the same records
    again = sqlite_store.ensure_dataset("p", "again")
    back = import_file(sqlite_store, again, out, transform=media_transform(sqlite_store.blobs, out.parent))
    assert back.added == 2
    assert {r.content_hash for r in sqlite_store.page_records(again, limit=5)} == {
        r.content_hash for r in sqlite_store.page_records(ds, limit=5)
    }


def test_placeholder_count_must_match(sqlite_store: Store, tmp_path: Path) -> None:
    shutil.rmtree(tmp_path / "x", ignore_errors=True)
    bad = [{**ROWS[0], "images": ["imgs/a.png"]}]
    data = tmp_path / "bad.json"
    data.write_text(json.dumps(bad))
    ds = sqlite_store.ensure_dataset("p", "bad")
    with pytest.raises(DataError) as e:
        import_file(sqlite_store, ds, data, fmt="sharegpt-media")
    assert e.value.details[0].loc == ("bad.json", 1, "images") and "placeholders" in e.value.details[0].msg


def test_openai_chat_with_inlined_images_round_trip(sqlite_store: Store, tmp_path: Path) -> None:
    import base64
    import io

    from PIL import Image

    synth.make_image(tmp_path / "cat.jpg", (40, 30), boxes=[(2, 2, 10, 10)])
    rows = [
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "What is it?"},
                                                   {"type": "image_url", "image_url": {"url": "cat.jpg"}}]},
                      {"role": "assistant", "content": "A box."}]},
    ]  # fmt: skip
    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = sqlite_store.ensure_dataset("p", "vision")
    import_file(sqlite_store, ds, data, transform=media_transform(sqlite_store.blobs, tmp_path))
    out = tmp_path / "out" / "vision.jsonl"
    assert export_dataset(sqlite_store, ds, out, "openai-chat-media").rows == 1
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    url = row["messages"][0]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (40, 30)

    again = sqlite_store.ensure_dataset("p", "vision-again")  # the inlined image is stored again, same record
    result = import_file(sqlite_store, again, out, transform=media_transform(sqlite_store.blobs, out.parent))
    assert (result.format, result.added) == ("openai-chat", 1)
    assert (
        sqlite_store.page_records(again, limit=1)[0].content_hash
        == sqlite_store.page_records(ds, limit=1)[0].content_hash
    )
