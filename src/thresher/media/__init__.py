"""Images, video and audio: probing, storage by content hash, previews, intake and preprocessing.

Needs the ``media`` extra (``pip install 'thresher[media]'``): Pillow, PyAV, soundfile and numpy
are imported when first used, so ``import thresher.media`` works without them.
"""

from __future__ import annotations

from thresher.media.derived import peaks, peaks_of, poster_bytes, thumbnail, thumbnail_bytes
from thresher.media.ingest import MediaImportResult, import_folder, ingest, media_transform
from thresher.media.probe import Probed, media_type_of, probe

__all__ = [
    "MediaImportResult",
    "Probed",
    "import_folder",
    "ingest",
    "media_transform",
    "media_type_of",
    "peaks",
    "peaks_of",
    "poster_bytes",
    "probe",
    "thumbnail",
    "thumbnail_bytes",
]
