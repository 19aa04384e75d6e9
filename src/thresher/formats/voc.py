"""Pascal VOC: ``Annotations/<name>.xml`` per image, ``JPEGImages/``, ``ImageSets/Main/<split>.txt``.

Boxes are VOC's 1-based inclusive pixel corners: a box ``[x, y, w, h]`` (0-based, pixels) is
``xmin = x + 1, ymin = y + 1, xmax = x + w, ymax = y + h``. Polygons and masks are written as
their bounding boxes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from thresher.formats._media import MediaFormat, answer, copy_blob, media_name, question_of, unique
from thresher.formats.base import ExportContext, ExportItem
from thresher.formats.coco import polygon_bbox, rle_area_bbox
from thresher.formats.registry import register_format


def _box(r: dict[str, Any]) -> list[float]:
    if "box" in r:
        return list(r["box"])
    if "polygon" in r:
        return polygon_bbox(r["polygon"])
    return rle_area_bbox(r["mask"])[1]


@register_format
class Voc(MediaFormat):
    name = "voc"
    description = "Pascal VOC detection: Annotations/*.xml, JPEGImages/, ImageSets/Main (region answers)"
    question_types = ("region",)
    media_types = ("image",)

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        c = item.content()
        q = question_of(ctx, "region")
        if c.get("media_type") != "image" or q is None:
            return
        regions = answer(item, q.name)
        if regions is None:
            return
        info = c.get("info", {})
        yield {
            "file_name": media_name(item),
            "uri": c["blob"]["uri"],
            "width": info.get("width") or 0,
            "height": info.get("height") or 0,
            "split": item.split or "train",
            "regions": regions,
        }

    def write_files(self, target: Path, rows: Iterator[dict[str, Any]], ctx: ExportContext) -> None:
        taken: set[str] = set()
        sets: dict[str, list[str]] = {}
        (target / "Annotations").mkdir(parents=True, exist_ok=True)
        for row in rows:
            name = unique(PurePosixPath(row["file_name"]).name, taken)
            stem = PurePosixPath(name).stem
            copy_blob(ctx, row["uri"], target / "JPEGImages" / name)
            sets.setdefault(row["split"], []).append(stem)
            root = ET.Element("annotation")
            ET.SubElement(root, "folder").text = "JPEGImages"
            ET.SubElement(root, "filename").text = name
            ET.SubElement(ET.SubElement(root, "source"), "database").text = ctx.dataset_name
            size = ET.SubElement(root, "size")
            for tag, v in (("width", row["width"]), ("height", row["height"]), ("depth", 3)):
                ET.SubElement(size, tag).text = str(v)
            ET.SubElement(root, "segmented").text = "0"
            for r in row["regions"]:
                x, y, w, h = _box(r)
                obj = ET.SubElement(root, "object")
                ET.SubElement(obj, "name").text = r["label"]
                ET.SubElement(obj, "pose").text = "Unspecified"
                ET.SubElement(obj, "truncated").text = "0"
                ET.SubElement(obj, "difficult").text = "0"
                bb = ET.SubElement(obj, "bndbox")
                corners = (round(x) + 1, round(y) + 1, round(x + w), round(y + h))
                for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
                    ET.SubElement(bb, tag).text = str(v)
            ET.indent(root)
            ET.ElementTree(root).write(target / "Annotations" / f"{stem}.xml", encoding="utf-8", xml_declaration=False)
        main = target / "ImageSets" / "Main"
        main.mkdir(parents=True, exist_ok=True)
        for split, stems in sets.items():
            (main / f"{split}.txt").write_text("".join(s + "\n" for s in stems))
