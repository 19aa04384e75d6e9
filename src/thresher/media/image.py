"""Image preprocessing with Pillow: upright, resize, normalize, augment. Pure functions, image in, image out."""

from __future__ import annotations

import io
import random
from typing import IO, Any, Literal

from thresher.media._deps import need

Image_ = Any  # PIL.Image.Image


def open_image(src: bytes | IO[bytes]) -> Image_:
    """An image, decoded and turned upright by its EXIF orientation."""
    Image = need("PIL.Image")
    ImageOps = need("PIL.ImageOps")
    img = Image.open(io.BytesIO(src) if isinstance(src, bytes) else src)
    img.load()
    return ImageOps.exif_transpose(img)


def resize(
    img: Image_,
    max_side: int | None = None,
    size: tuple[int, int] | None = None,
    mode: Literal["fit", "fill", "stretch"] = "fit",
) -> Image_:
    """``max_side``: the longer side at most that, aspect kept. ``size``: fit inside, fill + centre-crop, or stretch."""
    Image = need("PIL.Image")
    ImageOps = need("PIL.ImageOps")
    if max_side is not None:
        out = img.copy()
        out.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return out
    if size is None:
        return img
    if mode == "fill":
        return ImageOps.fit(img, size, Image.Resampling.LANCZOS)
    if mode == "stretch":
        return img.resize(size, Image.Resampling.LANCZOS)
    return ImageOps.contain(img, size, Image.Resampling.LANCZOS)


def normalize(img: Image_, mode: Literal["RGB", "L"] = "RGB", autocontrast: bool = False) -> Image_:
    """One colour mode (alpha flattened on white), optionally contrast stretched."""
    Image = need("PIL.Image")
    ImageOps = need("PIL.ImageOps")
    if img.mode in ("RGBA", "LA", "P"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
    out = img.convert(mode)
    return ImageOps.autocontrast(out) if autocontrast else out


def augment(
    img: Image_,
    seed: int,
    hflip: float = 0.5,
    rotate_deg: float = 0.0,
    brightness: float = 0.0,
    contrast: float = 0.0,
) -> tuple[Image_, dict[str, Any]]:
    """A random variant, reproducible from ``seed``; returns it and the parameters drawn (for lineage)."""
    ImageEnhance = need("PIL.ImageEnhance")
    ImageOps = need("PIL.ImageOps")
    rng = random.Random(seed)
    params: dict[str, Any] = {"seed": seed}
    out = img
    if rng.random() < hflip:
        out, params["hflip"] = ImageOps.mirror(out), True
    if rotate_deg:
        angle = round(rng.uniform(-rotate_deg, rotate_deg), 2)
        out, params["rotate"] = out.rotate(angle, expand=False, fillcolor=(0, 0, 0)), angle
    if brightness:
        f = round(1 + rng.uniform(-brightness, brightness), 3)
        out, params["brightness"] = ImageEnhance.Brightness(out).enhance(f), f
    if contrast:
        f = round(1 + rng.uniform(-contrast, contrast), 3)
        out, params["contrast"] = ImageEnhance.Contrast(out).enhance(f), f
    return out, params


def encode(img: Image_, format: Literal["JPEG", "PNG", "WEBP"] = "PNG", quality: int = 90) -> bytes:
    out = io.BytesIO()
    if format == "JPEG" and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    img.save(out, format, **({"quality": quality} if format != "PNG" else {}))
    return out.getvalue()
