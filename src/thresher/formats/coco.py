"""COCO: object detection (boxes), segmentation (polygons, RLE masks) and captions, with the images.

Writes a folder: ``annotations.json`` (``images``, ``annotations``, ``categories``; ``bbox`` is
``[x, y, width, height]`` in pixels; ``segmentation`` is a flat polygon ``[[x1, y1, x2, y2, ...]]``,
a box's own four corners for box regions, or RLE ``{size, counts}``), ``captions.json`` when the
dataset has captions (COCO Captions layout), and ``images/`` with each image under its imported
name. Read by ``pycocotools.coco.COCO``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from thresher.formats._media import MediaFormat, answer, copy_blob, media_name, question_of, unique
from thresher.formats.base import ExportContext, ExportItem
from thresher.formats.registry import register_format
from thresher.model import RegionQuestion


def polygon_area(points: list[list[float]]) -> float:
    """Shoelace area of a closed polygon."""
    n = len(points)
    return abs(sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n))) / 2


def polygon_bbox(points: list[list[float]]) -> list[float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def rle_area_bbox(mask: dict[str, Any]) -> tuple[float, list[float]]:
    """Area and box of a COCO RLE mask (needs pycocotools; ``counts`` as a string or a list of runs)."""
    from thresher.media._deps import need

    mask_utils = need("pycocotools.mask")
    rle = dict(mask)
    if isinstance(rle.get("counts"), list):
        h, w = rle["size"]
        rle = mask_utils.frPyObjects(rle, h, w)
    return float(mask_utils.area(rle)), [float(v) for v in mask_utils.toBbox(rle)]


@register_format
class Coco(MediaFormat):
    name = "coco"
    description = "COCO detection / segmentation / captions: annotations.json + images/ (region and caption answers)"
    question_types = ("region",)
    media_types = ("image",)

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        c = item.content()
        if c.get("media_type") != "image":
            return
        region_q = question_of(ctx, "region")
        caption_q = next((q for q in ctx.questions if q.type == "text" and "caption" in q.name), None)
        regions = answer(item, region_q.name) if region_q else None
        caption = answer(item, caption_q.name) if caption_q else None
        caption = caption or c.get("caption")
        if not regions and not caption:
            return
        info = c.get("info", {})
        yield {
            "file_name": media_name(item),
            "uri": c["blob"]["uri"],
            "width": info.get("width"),
            "height": info.get("height"),
            "record_id": item.id,
            "regions": regions or [],
            "caption": caption,
        }

    def write_files(self, target: Path, rows: Iterator[dict[str, Any]], ctx: ExportContext) -> None:
        q = question_of(ctx, "region")
        labels = list(q.labels) if isinstance(q, RegionQuestion) else []
        cat = {name: i + 1 for i, name in enumerate(labels)}
        images: list[dict[str, Any]] = []
        annotations: list[dict[str, Any]] = []
        captions: list[dict[str, Any]] = []
        taken: set[str] = set()
        (target / "images").mkdir(parents=True, exist_ok=True)
        for image_id, row in enumerate(rows, 1):
            name = unique(row["file_name"], taken)
            copy_blob(ctx, row["uri"], target / "images" / name)
            images.append(
                {
                    "id": image_id,
                    "file_name": name,
                    "width": row["width"],
                    "height": row["height"],
                    "thresher_record_id": row["record_id"],
                }
            )
            for r in row["regions"]:
                ann = self._annotation(r, cat)
                ann.update(id=len(annotations) + 1, image_id=image_id)
                annotations.append(ann)
            if row["caption"]:
                captions.append({"id": len(captions) + 1, "image_id": image_id, "caption": row["caption"]})
        categories = [{"id": i, "name": name, "supercategory": "object"} for name, i in cat.items()]
        info = {"description": f"{ctx.dataset_name}, exported by Thresher", "version": "1.0"}
        doc = {"info": info, "images": images, "annotations": annotations, "categories": categories}
        (target / "annotations.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        if captions:
            caps = {"info": info, "images": images, "annotations": captions}
            (target / "captions.json").write_bytes(orjson.dumps(caps, option=orjson.OPT_INDENT_2))

    @staticmethod
    def _annotation(r: dict[str, Any], cat: dict[str, int]) -> dict[str, Any]:
        ann: dict[str, Any] = {"category_id": cat.setdefault(r["label"], len(cat) + 1), "iscrowd": 0}
        if "box" in r:
            x, y, w, h = r["box"]
            box_polygon = [x, y, x + w, y, x + w, y + h, x, y + h]  # not []: pycocotools' annToMask needs a shape
            ann.update(bbox=[x, y, w, h], area=w * h, segmentation=[box_polygon])
        elif "polygon" in r:
            pts = r["polygon"]
            ann.update(segmentation=[[v for p in pts for v in p]], area=polygon_area(pts), bbox=polygon_bbox(pts))
        else:
            area, bbox = rle_area_bbox(r["mask"])
            ann.update(
                segmentation=r["mask"],
                area=area,
                bbox=bbox,
                iscrowd=1 if isinstance(r["mask"].get("counts"), list) else 0,
            )
        if "frame" in r:
            ann["frame"] = r["frame"]
        if not math.isfinite(float(ann["area"])):
            ann["area"] = 0.0
        return ann
