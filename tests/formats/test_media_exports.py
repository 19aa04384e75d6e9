"""Media exports, each re-read by the library or the spec that owns the format."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("PIL")
pytest.importorskip("av")
pycoco = pytest.importorskip("pycocotools.coco")
mask_utils = pytest.importorskip("pycocotools.mask")
webvtt = pytest.importorskip("webvtt")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from thresher.media import synth  # noqa: E402
from thresher.media.demo import seed_demo_media  # noqa: E402
from thresher.model import Response  # noqa: E402
from thresher.pipeline.exporter import export_dataset  # noqa: E402
from thresher.store import Store  # noqa: E402


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    root = tmp_path_factory.mktemp("media-exports")
    store = Store.open(root / "home")
    seed_demo_media(store, "demo", images=4)
    ds = store.get_dataset("demo", "images")
    rows = store.page_records(ds, limit=10)
    labelled = {r.id for r in rows if store.list_responses(r.id)}
    target = next(r for r in rows if r.id not in labelled)
    m = np.zeros((240, 320), dtype=np.uint8, order="F")
    m[10:30, 200:260] = 1
    rle = mask_utils.encode(m)
    mask = {"size": rle["size"], "counts": rle["counts"].decode()}
    answers = {
        "objects": [{"label": "sign", "mask": mask}, {"label": "vehicle", "box": [5, 6, 50.5, 40]}],
        "scene": {"choice": "park"},
    }
    store.save_response(Response(record_id=target.id, user="ann", answers=answers))
    yield store, root
    store.close()


def _export(home: tuple[Store, Path], dataset: str, fmt: str) -> Path:
    store, root = home
    out = root / "out" / dataset / fmt
    result = export_dataset(store, store.get_dataset("demo", dataset), out, fmt)
    assert result.rows > 0 and result.manifest.exists()
    return out


def test_coco_loads_in_pycocotools(home: tuple[Store, Path]) -> None:
    out = _export(home, "images", "coco")
    coco = pycoco.COCO(str(out / "annotations.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["vehicle", "person", "sign"]
    assert len(coco.getImgIds()) == 3 and len(coco.getAnnIds()) == 2 * 2 + 2
    for img in coco.loadImgs(coco.getImgIds()):
        assert (out / "images" / img["file_name"]).is_file() and (img["width"], img["height"]) == (320, 240)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]])):
            m = coco.annToMask(ann)  # polygons, RLE and boxes all decode
            assert m.shape == (240, 320)
            if ann["segmentation"]:
                assert m.sum() == pytest.approx(ann["area"], rel=0.15)
    sign = coco.loadAnns(coco.getAnnIds(catIds=coco.getCatIds(catNms=["sign"])))[0]
    assert sign["area"] == 20 * 60 and sign["bbox"] == [200.0, 10.0, 60.0, 20.0]
    caps = pycoco.COCO(str(out / "captions.json"))
    assert {a["caption"] for a in caps.loadAnns(caps.getAnnIds())} == {"A street."}


def test_yolo_layout(home: tuple[Store, Path]) -> None:
    out = _export(home, "images", "yolo")
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "vehicle", 1: "person", 2: "sign"} and data["train"] == "images/train"
    images = sorted((out / "images" / "train").iterdir())
    labels = sorted((out / "labels" / "train").iterdir())
    assert [p.stem for p in images] == [p.stem for p in labels] and len(images) == 3
    for label in labels:
        for line in label.read_text().splitlines():
            cls, *vals = line.split()
            assert int(cls) in data["names"] and all(0.0 <= float(v) <= 1.0 for v in vals)
            assert len(vals) == 4 or (len(vals) >= 6 and len(vals) % 2 == 0)
    first = (out / "labels" / "train" / "street-00.txt").read_text().splitlines()
    # vehicle box [20, 30, 80, 60] on 320x240: centre (60, 60), size 80x60
    assert first[0] == "0 0.187500 0.250000 0.250000 0.250000"


def test_voc_xml(home: tuple[Store, Path]) -> None:
    out = _export(home, "images", "voc")
    root = ET.parse(out / "Annotations" / "street-00.xml").getroot()
    assert root.findtext("filename") == "street-00.png" and root.findtext("size/width") == "320"
    obj = root.findall("object")[0]
    box = [int(obj.findtext(f"bndbox/{k}") or 0) for k in ("xmin", "ymin", "xmax", "ymax")]
    assert obj.findtext("name") == "vehicle" and box == [21, 31, 100, 90]
    assert (out / "JPEGImages" / "street-00.png").is_file()
    assert len((out / "ImageSets" / "Main" / "train.txt").read_text().split()) == 3


def test_mot_ground_truth(home: tuple[Store, Path]) -> None:
    out = _export(home, "videos", "mot")
    seq = out / "clip-0"
    ini = dict(line.split("=", 1) for line in (seq / "seqinfo.ini").read_text().splitlines()[1:])
    assert ini["frameRate"] == "10" and ini["seqLength"] == "40" and ini["imWidth"] == "320"
    rows = [line.split(",") for line in (seq / "gt" / "gt.txt").read_text().splitlines()]
    assert all(len(r) == 9 for r in rows)
    assert [int(r[0]) for r in rows] == list(range(1, 41))  # every frame, 1-based, keyframes interpolated
    for r in rows:
        frame = int(r[0]) - 1
        assert [float(v) for v in r[2:6]] == pytest.approx(synth.box_at(frame, 10, (320, 240)), abs=0.01)
        assert r[1] == "1" and r[6] == "1" and r[7] == "1"


def test_webvtt_reads_back(home: tuple[Store, Path]) -> None:
    out = _export(home, "speech", "webvtt")
    (vtt,) = out.glob("*.vtt")
    captions = webvtt.read(str(vtt))
    assert [c.voice for c in captions] in (["A", "B"], ["B", "A"])
    assert captions[0].start == "00:00:00.000" and "train to the coast" in " ".join(c.text for c in captions)
    video = _export(home, "videos", "webvtt")
    assert [c.text for c in webvtt.read(str(video / "clip-0.vtt"))] == ["Blue background.", "Red background."]


SRT_CUE = re.compile(r"(\d+)\n(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)\n((?:.+\n)+)")


def test_srt_strict(home: tuple[Store, Path]) -> None:
    out = _export(home, "videos", "srt")
    text = (out / "clip-0.srt").read_text()
    cues = text.split("\n\n")
    assert all(SRT_CUE.fullmatch(c if c.endswith("\n") else c + "\n") for c in cues)
    assert [m.group(1) for m in SRT_CUE.finditer(text)] == ["1", "2"]
    assert "00:00:02,000 --> 00:00:04,000\nRed background." in text


def test_rttm_by_its_spec(home: tuple[Store, Path]) -> None:
    out = _export(home, "speech", "rttm")
    lines = out.read_text().splitlines()
    assert len(lines) == 2
    for line in lines:
        f = line.split(" ")
        assert len(f) == 10 and f[0] == "SPEAKER" and f[2] == "1" and f[5] == f[6] == f[8] == f[9] == "<NA>"
        assert f[1].startswith("dialogue-") and float(f[3]) >= 0 and float(f[4]) > 0 and f[7] in ("A", "B")


def test_records_without_answers_are_counted_as_skipped(home: tuple[Store, Path]) -> None:
    store, root = home
    result = export_dataset(store, store.get_dataset("demo", "speech"), root / "skip" / "x.rttm", "rttm")
    assert result.records == 2 and result.rows == 1
    assert result.skipped == {"no submitted answer for rttm": 1}


def test_transcripts_read_back_into_answers(home: tuple[Store, Path]) -> None:
    from thresher.media.annotations import import_transcripts

    store, _ = home
    speech = store.get_dataset("demo", "speech")
    vtt = next(_export(home, "speech", "webvtt").glob("*.vtt"))
    srt = next(_export(home, "speech", "srt").glob("*.srt"))
    rttm = _export(home, "speech", "rttm")
    original = next(
        a for r in store.page_records(speech, limit=5) for resp in store.list_responses(r.id) for a in [resp.answers]
    )["transcript"]
    for files in ([vtt], [srt], [rttm]):
        result = import_transcripts(store, speech, files)
        assert (result.added, result.rejected) == (1, []), [str(e) for e in result.rejected]
        row = next(r for r in store.page_records(speech, limit=5) if store.list_responses(r.id, user="import"))
        (imported,) = store.list_responses(row.id, user="import")
        segs = imported.answers["transcript"]
        assert [(s["start"], s["end"]) for s in segs] == [(s["start"], s["end"]) for s in original]
        # SRT has no speakers and RTTM no text: they come from the annotator's segments with the same times
        assert [(s["text"], s["speaker"]) for s in segs] == [(s["text"], s["speaker"]) for s in original]


def test_folder_export_replaces_its_own_earlier_export_only(home: tuple[Store, Path]) -> None:
    from thresher.errors import ConfigError

    store, root = home
    out = _export(home, "images", "yolo")
    (out / "stale.txt").write_text("from the last run")
    _export(home, "images", "yolo")  # the folder an export made is replaced whole
    assert not (out / "stale.txt").exists() and (out / "data.yaml").exists()
    mine = root / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("not an export")
    with pytest.raises(ConfigError, match="no earlier export"):
        export_dataset(store, store.get_dataset("demo", "images"), mine, "yolo")
    assert (mine / "keep.txt").exists()
