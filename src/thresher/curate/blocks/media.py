"""Media preprocessing blocks: images (resize, normalize, augment), video (downsample, shots), audio
(resample, loudness, noise reduction).

A block that changes media stores the new file in blob storage (by content hash) and points the
record at it; the original blob is kept and named in ``metadata.media_ops`` with each operation
and its parameters, so the change is on record and reversible. Blocks run in worker processes,
so each reaches blob storage through ``blob_url`` (default: the ``THRESHER_BLOB_URL`` setting;
for a local home, ``<home>/blobs``). The work is ``thresher.media``'s pure functions.
Frame extraction and splitting long recordings make several records from one, which a
per-record block cannot; they are ``thresher media frames`` and ``thresher.media.audio.split_audio``.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from thresher.curate._items import Item
from thresher.curate.blocks.base import KEEP, Block, BlockConfig, Verdict, changed, register_block
from thresher.errors import ConfigError


class MediaBlockConfig(BlockConfig):
    blob_url: str | None = Field(default=None, description="blob storage (default: the THRESHER_BLOB_URL setting)")


class _MediaBlock(Block):
    kinds = ("media",)
    media_type: ClassVar[str] = ""
    config: MediaBlockConfig

    def __init__(self, config: MediaBlockConfig) -> None:
        super().__init__(config)
        from thresher.media._deps import need
        from thresher.settings import Settings
        from thresher.store.blobs import BlobStore

        need("PIL"), need("av"), need("soundfile")  # fail at build time, naming the extra
        url = config.blob_url or Settings().blob_url
        if not url:
            raise ConfigError(f"block {self.name}: set blob_url (e.g. myhome/blobs) or THRESHER_BLOB_URL")
        self.blobs = BlobStore(url)

    def applies_to(self, item: Item) -> bool:
        return item.kind == "media" and item.content.get("media_type") == self.media_type

    def _read(self, item: Item) -> bytes:
        with self.blobs.open(item.content["blob"]["uri"]) as f:
            data: bytes = f.read()
            return data

    def _replace(self, item: Item, data: bytes, ext: str, op: str, params: dict[str, Any]) -> Verdict:
        """Store ``data`` as the record's media (probed again), keeping the original's address in metadata."""
        from thresher.media import probe

        probed = probe(io.BytesIO(data), f"media{ext}", item.content["media_type"])
        ref = self.blobs.put_bytes(data, probed.mime_type)
        before = item.content["blob"]["uri"]
        content = dict(item.content)
        content["blob"] = ref.model_dump(exclude_none=True)
        content["info"] = probed.info.model_dump(exclude_none=True)
        item.set_content(content)
        item.metadata = {
            **item.metadata,
            "media_ops": [*item.metadata.get("media_ops", []), {"op": op, "from": before, **params}],
        }
        return changed(op, **params)


class ImageResizeConfig(MediaBlockConfig):
    max_side: int | None = Field(default=1024, gt=0, description="longer side at most this many pixels")
    size: tuple[int, int] | None = Field(default=None, description="[width, height] instead of max_side")
    mode: Literal["fit", "fill", "stretch"] = "fit"
    format: Literal["JPEG", "PNG", "WEBP"] = "JPEG"


@register_block("image_resize")
class ImageResize(_MediaBlock):
    """Scales images down (upright first, by EXIF orientation); images already small enough are kept."""

    Config = ImageResizeConfig
    config: ImageResizeConfig
    media_type = "image"

    def apply(self, item: Item) -> Verdict:
        from thresher.media import image

        c = self.config
        img = image.open_image(self._read(item))
        if c.size is None and c.max_side is not None and max(img.size) <= c.max_side:
            return KEEP
        out = image.resize(img, max_side=None if c.size else c.max_side, size=c.size, mode=c.mode)
        ext = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[c.format]
        return self._replace(item, image.encode(out, c.format), ext, "image_resized", {"size": list(out.size)})


class ImageNormalizeConfig(MediaBlockConfig):
    mode: Literal["RGB", "L"] = "RGB"
    autocontrast: bool = False
    format: Literal["JPEG", "PNG", "WEBP"] = "PNG"


@register_block("image_normalize")
class ImageNormalize(_MediaBlock):
    """One colour mode (alpha flattened), upright pixels (EXIF applied), optional contrast stretch."""

    Config = ImageNormalizeConfig
    config: ImageNormalizeConfig
    media_type = "image"

    def apply(self, item: Item) -> Verdict:
        from thresher.media import image

        c = self.config
        out = image.normalize(image.open_image(self._read(item)), c.mode, c.autocontrast)
        ext = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[c.format]
        return self._replace(item, image.encode(out, c.format), ext, "image_normalized", {"mode": c.mode})


class ImageAugmentConfig(MediaBlockConfig):
    seed: int = 0
    hflip: float = Field(default=0.5, ge=0, le=1)
    rotate_deg: float = Field(default=0.0, ge=0, le=180)
    brightness: float = Field(default=0.0, ge=0, le=1)
    contrast: float = Field(default=0.0, ge=0, le=1)


@register_block("image_augment")
class ImageAugment(_MediaBlock):
    """A random variant per record (flip, rotation, brightness, contrast), reproducible from seed and record id."""

    Config = ImageAugmentConfig
    config: ImageAugmentConfig
    media_type = "image"

    def apply(self, item: Item) -> Verdict:
        import zlib

        from thresher.media import image

        c = self.config
        img = image.open_image(self._read(item))
        seed = zlib.crc32(f"{c.seed}:{item.id}".encode())
        out, params = image.augment(img, seed, c.hflip, c.rotate_deg, c.brightness, c.contrast)
        return self._replace(item, image.encode(out, "PNG"), ".png", "image_augmented", params)


class VideoDownsampleConfig(MediaBlockConfig):
    fps: float | None = Field(default=None, gt=0)
    max_side: int | None = Field(default=None, gt=0)
    crf: int = Field(default=28, ge=0, le=51)


@register_block("video_downsample")
class VideoDownsample(_MediaBlock):
    """Re-encodes video as H.264 at a lower frame rate and/or size."""

    Config = VideoDownsampleConfig
    config: VideoDownsampleConfig
    media_type = "video"

    def apply(self, item: Item) -> Verdict:
        from thresher.media import video

        c = self.config
        info = item.content.get("info", {})
        if (c.fps is None or (info.get("fps") or 0) <= c.fps) and (
            c.max_side is None or max(info.get("width") or 0, info.get("height") or 0) <= c.max_side
        ):
            return KEEP
        with tempfile.TemporaryDirectory(prefix="thresher-video-") as tmp:
            dst = Path(tmp) / "out.mp4"
            with self.blobs.open(item.content["blob"]["uri"]) as f:
                video.downsample(f, dst, fps=c.fps, max_side=c.max_side, crf=c.crf)
            data = dst.read_bytes()
        return self._replace(item, data, ".mp4", "video_downsampled", {"fps": c.fps, "max_side": c.max_side})


class VideoShotsConfig(MediaBlockConfig):
    threshold: float = Field(default=30.0, gt=0, description="mean absolute RGB change (0..255) that makes a cut")
    min_shot_s: float = Field(default=0.5, ge=0)


@register_block("video_shots")
class VideoShots(_MediaBlock):
    """Finds shot boundaries and writes them to ``metadata.shots`` as ``[start_s, end_s]`` pairs."""

    Config = VideoShotsConfig
    config: VideoShotsConfig
    media_type = "video"

    def apply(self, item: Item) -> Verdict:
        from thresher.media import video

        with self.blobs.open(item.content["blob"]["uri"]) as f:
            shots = video.detect_shots(f, self.config.threshold, self.config.min_shot_s)
        item.metadata = {**item.metadata, "shots": [list(s) for s in shots]}
        return changed("shots_detected", shots=len(shots))


class AudioResampleConfig(MediaBlockConfig):
    rate: int = Field(default=16000, gt=0)
    mono: bool = True


@register_block("audio_resample")
class AudioResample(_MediaBlock):
    """Resamples audio (polyphase) to one rate, optionally mixed to mono; written as 16-bit WAV."""

    Config = AudioResampleConfig
    config: AudioResampleConfig
    media_type = "audio"

    def apply(self, item: Item) -> Verdict:
        from thresher.media import audio

        info = item.content.get("info", {})
        if info.get("sample_rate") == self.config.rate and (not self.config.mono or info.get("channels") == 1):
            return KEEP
        data, rate = audio.load_audio(self._read(item), mono=self.config.mono)
        out = audio.audio_bytes(audio.resample(data, rate, self.config.rate), self.config.rate)
        return self._replace(item, out, ".wav", "audio_resampled", {"rate": self.config.rate})


class AudioLoudnessConfig(MediaBlockConfig):
    target_lufs: float = Field(default=-23.0, le=0)


@register_block("audio_loudness")
class AudioLoudness(_MediaBlock):
    """Normalizes integrated loudness (ITU-R BS.1770, pyloudnorm) to a target, without clipping."""

    Config = AudioLoudnessConfig
    config: AudioLoudnessConfig
    media_type = "audio"

    def apply(self, item: Item) -> Verdict:
        from thresher.media import audio

        data, rate = audio.load_audio(self._read(item))
        out = audio.normalize_loudness(data, rate, self.config.target_lufs)
        params = {"target_lufs": self.config.target_lufs}
        return self._replace(item, audio.audio_bytes(out, rate), ".wav", "audio_loudness_normalized", params)


class AudioDenoiseConfig(MediaBlockConfig):
    noise_s: float | None = Field(default=None, gt=0, description="leading seconds that hold noise only")
    prop_decrease: float = Field(default=1.0, gt=0, le=1)


@register_block("audio_denoise")
class AudioDenoise(_MediaBlock):
    """Spectral-gating noise reduction (noisereduce)."""

    Config = AudioDenoiseConfig
    config: AudioDenoiseConfig
    media_type = "audio"

    def apply(self, item: Item) -> Verdict:
        from thresher.media import audio

        data, rate = audio.load_audio(self._read(item))
        out = audio.reduce_noise(data, rate, self.config.noise_s, prop_decrease=self.config.prop_decrease)
        params = {"noise_s": self.config.noise_s}
        return self._replace(item, audio.audio_bytes(out, rate), ".wav", "audio_denoised", params)
