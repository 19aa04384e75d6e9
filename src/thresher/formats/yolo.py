"""YOLO detection and segmentation (the Ultralytics layout): ``images/<split>/``, ``labels/<split>/``, ``data.yaml``.

One label file per image, one line per object: ``class cx cy w h`` for a box, ``class x1 y1 x2 y2 ...``
for a polygon, all normalized to 0..1 by the image size; class numbers index ``names`` in
``data.yaml``. Masks (RLE) have no YOLO form and are left out (counted in the manifest).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from thresher.formats._media import MediaFormat, answer, copy_blob, media_name, question_of, unique
from thresher.formats.base import ExportContext, ExportItem
from thresher.formats.registry import register_format
from thresher.model import RegionQuestion


def _n(v: float) -> str:
    return f"{min(1.0, max(0.0, v)):.6f}"


@register_format
class Yolo(MediaFormat):
    name = "yolo"
    description = "YOLO detection / segmentation (Ultralytics): images/, labels/, data.yaml (region answers)"
    question_types = ("region",)
    media_types = ("image",)

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        c = item.content()
        q = question_of(ctx, "region")
        info = c.get("info", {})
        if c.get("media_type") != "image" or q is None or not info.get("width") or not info.get("height"):
            return
        regions = answer(item, q.name)
        if regions is None:
            return
        yield {
            "file_name": media_name(item),
            "uri": c["blob"]["uri"],
            "width": info["width"],
            "height": info["height"],
            "split": item.split or "train",
            "regions": regions,
        }

    def write_files(self, target: Path, rows: Iterator[dict[str, Any]], ctx: ExportContext) -> None:
        q = question_of(ctx, "region")
        names = list(q.labels) if isinstance(q, RegionQuestion) else []
        index = {name: i for i, name in enumerate(names)}
        taken: set[str] = set()
        splits: set[str] = set()
        for row in rows:
            split = row["split"]
            splits.add(split)
            flat = PurePosixPath(row["file_name"]).name  # YOLO pairs images and labels by stem: keep one level
            name = unique(f"{split}/{flat}", taken).split("/", 1)[1]
            copy_blob(ctx, row["uri"], target / "images" / split / name)
            w, h = row["width"], row["height"]
            lines = []
            for r in row["regions"]:
                cls = index.setdefault(r["label"], len(index))
                if "box" in r:
                    x, y, bw, bh = r["box"]
                    lines.append(f"{cls} {_n((x + bw / 2) / w)} {_n((y + bh / 2) / h)} {_n(bw / w)} {_n(bh / h)}")
                elif "polygon" in r:
                    lines.append(f"{cls} " + " ".join(f"{_n(px / w)} {_n(py / h)}" for px, py in r["polygon"]))
            label = target / "labels" / split / (PurePosixPath(name).stem + ".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(line + "\n" for line in lines))
        target.mkdir(parents=True, exist_ok=True)
        ordered = sorted(splits) or ["train"]
        data: dict[str, Any] = {"path": ".", "train": f"images/{'train' if 'train' in splits else ordered[0]}"}
        for split in ("val", "test"):
            if split in splits:
                data[split] = f"images/{split}"
        data["val"] = data.get("val", data["train"])
        data["names"] = {i: name for name, i in sorted(index.items(), key=lambda kv: kv[1])}
        (target / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
