"""MOTChallenge export with its frames: ``img1/000001.jpg ...`` decoded from the video, numbered as gt.txt
numbers them, re-read by py-motmetrics and by the layout the benchmark documents."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

pytest.importorskip("av")
Image = pytest.importorskip("PIL.Image")
np = pytest.importorskip("numpy")

from thresher.media import synth  # noqa: E402
from thresher.media.ingest import ingest  # noqa: E402
from thresher.model import Record, Response, TrackQuestion  # noqa: E402
from thresher.pipeline.exporter import export_dataset  # noqa: E402
from thresher.store import Store  # noqa: E402

FPS, SIZE, FRAMES = 10, (320, 240), 40


def white_box(path: Path) -> tuple[float, float, float, float]:
    """The box drawn in the frame: the bounding box of its white pixels, ``[x, y, w, h]``."""
    pixels = np.asarray(Image.open(path).convert("RGB"))
    ys, xs = np.nonzero(pixels.min(axis=2) > 200)
    return float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    store = Store.open(tmp_path / "home")
    store.create_project("p")
    ds = store.create_dataset("p", "clips", questions=[TrackQuestion(name="tracks", labels=["box"])])
    video = synth.make_video(tmp_path / "walk.mp4", FRAMES / FPS, fps=FPS, size=SIZE, shots=2)
    store.add_records(ds, [Record(content=ingest(store.blobs, video), metadata={"file_name": "walk.mp4"})])
    [row] = store.page_records(ds, limit=2)
    keyframes = [{"frame": f, "box": [float(v) for v in synth.box_at(f, FPS, SIZE)]} for f in (0, 20, FRAMES - 1)]
    track = {"track_id": "7", "label": "box", "keyframes": keyframes}
    store.save_response(Response(record_id=row.id, user="ann", answers={"tracks": [track]}))
    out = tmp_path / "mot"
    export_dataset(store, ds, out, "mot")
    store.close()
    return out / "walk"


def test_frames_are_written_as_the_layout_says(exported: Path) -> None:
    ini = configparser.ConfigParser()
    ini.read(exported / "seqinfo.ini")
    seq = ini["Sequence"]
    assert (seq["name"], seq["imDir"], seq["imExt"]) == ("walk", "img1", ".jpg")
    assert (int(seq["seqLength"]), int(seq["imWidth"]), int(seq["imHeight"])) == (FRAMES, *SIZE)
    frames = sorted((exported / seq["imDir"]).iterdir())
    assert [p.name for p in frames] == [f"{i:06d}{seq['imExt']}" for i in range(1, FRAMES + 1)]
    with Image.open(frames[0]) as first:
        assert (first.format, first.size) == ("JPEG", SIZE)

    # Frame k of gt.txt is the picture img1/00000k.jpg: the box drawn there is the box annotated.
    gt = [line.split(",") for line in (exported / "gt" / "gt.txt").read_text().splitlines()]
    assert [int(r[0]) for r in gt] == list(range(1, FRAMES + 1)) and {r[1] for r in gt} == {"7"}
    for r in gt:
        seen = white_box(exported / "img1" / f"{int(r[0]):06d}.jpg")
        # The box moves 4 px a frame: a frame off by one would overlap by 0.88 at best.
        assert iou(seen, tuple(float(v) for v in r[2:6])) > 0.93, r


def test_motmetrics_scores_the_frames_boxes_against_gt_perfectly(exported: Path, tmp_path: Path) -> None:
    import motmetrics as mm

    gt = mm.io.loadtxt(str(exported / "gt" / "gt.txt"), fmt="mot15-2D", min_confidence=1)
    assert sorted(gt.index.get_level_values("FrameId").unique()) == list(range(1, FRAMES + 1))
    # A "tracker": the white box found in each exported frame, written as a MOTChallenge result file.
    lines = []
    for i in range(1, FRAMES + 1):
        x, y, w, h = white_box(exported / "img1" / f"{i:06d}.jpg")
        lines.append(f"{i},1,{x:g},{y:g},{w:g},{h:g},1,-1,-1,-1")
    hyp_file = tmp_path / "hyp.txt"
    hyp_file.write_text("\n".join(lines) + "\n")
    hyp = mm.io.loadtxt(str(hyp_file), fmt="mot15-2D")
    # Distances computed here: motmetrics 1.4.0's own iou_matrix calls np.asfarray, gone in NumPy 2.
    acc = mm.MOTAccumulator(auto_id=False)
    for frame in range(1, FRAMES + 1):
        g, h = gt.loc[frame], hyp.loc[frame]
        boxes = ["X", "Y", "Width", "Height"]
        dists = [
            [1 - d if (d := iou(tuple(gb), tuple(hb))) >= 0.5 else np.nan for hb in h[boxes].to_numpy()]
            for gb in g[boxes].to_numpy()
        ]
        acc.update(list(g.index), list(h.index), np.array(dists), frameid=frame)
    summary = mm.metrics.create().compute(acc, metrics=["num_frames", "mota", "motp", "num_switches"])
    assert int(summary["num_frames"].iloc[0]) == FRAMES
    assert summary["mota"].iloc[0] == 1.0 and int(summary["num_switches"].iloc[0]) == 0
    assert summary["motp"].iloc[0] < 0.07  # motp is 1 - IoU here: the frames hold the annotated boxes
