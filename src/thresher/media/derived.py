"""Thumbnails, video posters and audio waveform peaks: made once per blob and size, then cached.

The cache sits in blob storage beside the blobs, keyed by the source's content hash
(``<root>/derived/<kind>/<hh>/<sha256>``): the same file uploaded twice shares its thumbnail, and
any fsspec store (a folder, S3) holds it.
"""

from __future__ import annotations

import io
import math
import uuid
from typing import IO, Any

import orjson

from thresher.errors import NotFound
from thresher.media._deps import bad_media, need
from thresher.model import BlobRef
from thresher.model.content import MediaType
from thresher.store.blobs import SCHEME, BlobStore

THUMB_SIZE = 256
POSTER_SIZE = 640
PEAK_BUCKETS = 1000
_ORIENTATION = 0x0112


def _digest(ref: BlobRef | str) -> str:
    uri = ref.uri if isinstance(ref, BlobRef) else ref
    if not uri.startswith(SCHEME):
        raise NotFound(f"{uri!r} is not a blob address ({SCHEME}...)")
    return uri[len(SCHEME) :]


_made_dirs: set[str] = set()  # folders this process has made: one mkdir each, not one per preview


def _cached(blobs: BlobStore, key: str, digest: str, make: Any) -> bytes:
    path = f"{blobs.root}/derived/{key}/{digest[:2]}/{digest}"
    if blobs.fs.exists(path):
        with blobs.fs.open(path, "rb") as f:
            data: bytes = f.read()
            return data
    data = make()
    folder = path.rsplit("/", 1)[0]
    if folder not in _made_dirs:
        blobs.fs.makedirs(folder, exist_ok=True)
        _made_dirs.add(folder)
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"  # written aside and moved into place: readers never see half a file
    try:
        f = blobs.fs.open(tmp, "wb")
    except FileNotFoundError:  # the folder went away since this process made it
        blobs.fs.makedirs(folder, exist_ok=True)
        f = blobs.fs.open(tmp, "wb")
    with f:
        f.write(data)
    blobs.fs.mv(tmp, path)
    return data


def thumbnail_bytes(src: IO[bytes] | str, size: int = THUMB_SIZE, quality: int = 80) -> bytes:
    """A JPEG at most ``size`` pixels on its longer side, upright (EXIF orientation applied)."""
    Image = need("PIL.Image")
    ImageOps = need("PIL.ImageOps")
    with Image.open(src) as img:
        w, h = img.size
        scale = min(1.0, size / max(w, h))
        # JPEG: libjpeg decodes at 1/2, 1/4 or 1/8 scale straight to about the thumbnail's size (much faster)
        img.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
        img.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        if img.getexif().get(_ORIENTATION, 1) != 1:  # turn the small image, not the big one
            img = ImageOps.exif_transpose(img)
        return _jpeg(img, quality)


def _jpeg(img: Any, quality: int) -> bytes:
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def poster_bytes(src: IO[bytes] | str, size: int = POSTER_SIZE, at: float = 0.1, quality: int = 80) -> bytes:
    """A JPEG of the frame ``at`` (a fraction of the duration) of a video, at most ``size`` pixels wide or high."""
    av = need("av")
    Image = need("PIL.Image")
    with av.open(src) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        duration = float(stream.duration * stream.time_base) if stream.duration else (c.duration or 0) / 1e6
        if duration > 0 and at > 0:
            c.seek(int(duration * at / stream.time_base), stream=stream, backward=True)
        frame = next(c.decode(stream), None)
        if frame is None:
            raise ValueError("the video has no frames")
        img = frame.to_image()
    img.thumbnail((size, size), Image.Resampling.BILINEAR)
    return _jpeg(img, quality)


def peaks_of(src: IO[bytes] | str, buckets: int = PEAK_BUCKETS) -> dict[str, Any]:
    """Min and max of each of ``buckets`` slices of an audio file (channels mixed), as wavesurfer.js draws them.

    Streams the file block by block: memory is one block, whatever the recording's length.
    """
    np = need("numpy")
    sf = need("soundfile")
    with sf.SoundFile(src) as f:
        frames, rate = f.frames, f.samplerate
        per = max(1, math.ceil(frames / buckets))
        mins, maxs = [], []
        for block in f.blocks(blocksize=per * max(1, 65536 // per), dtype="float32", always_2d=True):
            mono = block.mean(axis=1)
            n = len(mono) // per * per
            if n:
                chunks = mono[:n].reshape(-1, per)
                mins.extend(chunks.min(axis=1).tolist())
                maxs.extend(chunks.max(axis=1).tolist())
            if n < len(mono):
                rest = mono[n:]
                mins.append(float(rest.min()))
                maxs.append(float(rest.max()))
    data = np.empty(2 * len(mins), dtype="float32")
    data[0::2], data[1::2] = mins, maxs
    return {
        "sample_rate": rate,
        "duration_s": round(frames / rate, 6) if rate else 0.0,
        "samples_per_peak": per,
        "peaks": [round(float(v), 4) for v in data],  # [min0, max0, min1, max1, ...], in [-1, 1]
    }


def thumbnail(blobs: BlobStore, ref: BlobRef | str, media_type: MediaType, size: int = THUMB_SIZE) -> bytes:
    """The cached JPEG preview of a blob: the image itself or a video's poster frame. Audio has none (use peaks)."""
    digest = _digest(ref)
    if media_type == "audio":
        raise NotFound("audio has no thumbnail; ask for its waveform peaks")

    def make() -> bytes:
        with blobs.open(ref) as f:
            try:
                return thumbnail_bytes(f, size) if media_type == "image" else poster_bytes(f, size)
            except Exception as e:
                raise bad_media(digest, f"cannot make a preview ({e}); expected a valid {media_type}") from None

    return _cached(blobs, f"{'thumb' if media_type == 'image' else 'poster'}-{size}", digest, make)


def peaks(blobs: BlobStore, ref: BlobRef | str, buckets: int = PEAK_BUCKETS) -> bytes:
    """The cached waveform peaks of an audio blob, as JSON bytes (``peaks_of``)."""
    digest = _digest(ref)

    def make() -> bytes:
        with blobs.open(ref) as f:
            try:
                return orjson.dumps(peaks_of(f, buckets))
            except Exception as e:
                raise bad_media(digest, f"cannot read the audio ({e}); expected a valid audio file") from None

    return _cached(blobs, f"peaks-{buckets}", digest, make)
