"""Optional dependencies of ``thresher.media``, imported when first needed (``pip install 'thresher[media]'``)."""

from __future__ import annotations

import importlib
from types import ModuleType

from thresher.errors import DataError, ErrorDetail, MissingExtra

_PACKAGES = {
    "PIL": "pillow",
    "av": "av",
    "soundfile": "soundfile",
    "numpy": "numpy",
    "pycocotools": "pycocotools",
    "pyloudnorm": "pyloudnorm",
    "noisereduce": "noisereduce",
}


def need(module: str) -> ModuleType:
    """Import ``module`` or raise ``MissingExtra`` naming the ``media`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(_PACKAGES.get(module.split(".")[0], module), "media") from None


def bad_media(name: str, msg: str, type: str = "invalid_media") -> DataError:
    """A media file that cannot be read: the error names the file and says what was expected."""
    return DataError(f"{name}: not a readable media file", [ErrorDetail(type, (name,), msg)])
