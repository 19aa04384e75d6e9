"""Thresher: the data that trains and evaluates LLMs and agents, in one self-hosted place.

``import thresher`` loads the data model only: no database driver, server or optional extra.
"""

from thresher._version import __version__
from thresher.errors import (
    ConfigError,
    Conflict,
    DataError,
    ErrorDetail,
    Forbidden,
    FormatDetectionError,
    MissingExtra,
    NotFound,
    RateLimited,
    ThresherError,
    TooLarge,
    Unauthorized,
)

__all__ = [
    "ConfigError",
    "Conflict",
    "DataError",
    "ErrorDetail",
    "Forbidden",
    "FormatDetectionError",
    "MissingExtra",
    "NotFound",
    "RateLimited",
    "ThresherError",
    "TooLarge",
    "Unauthorized",
    "__version__",
]
