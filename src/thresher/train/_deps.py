"""The optional ``train`` extra: checked where it is needed, with an error that names it."""

from __future__ import annotations

import importlib.metadata
import os

from thresher.errors import MissingExtra

TRAIN_LIBRARIES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers")


def require(extra: str = "train") -> None:
    """Raise ``MissingExtra`` unless the training libraries import; keep the hub offline."""
    # Runs never reach a model hub: base models are local folders (or registered endpoints).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    for name in ("torch", "transformers", "trl", "peft", "datasets"):
        try:
            __import__(name)
        except ImportError:
            raise MissingExtra(name, extra) from None


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a run depends on (recorded with every run)."""
    out: dict[str, str] = {}
    for name in ("thresher", *TRAIN_LIBRARIES):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out
