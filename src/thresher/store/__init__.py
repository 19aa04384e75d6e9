"""Persistence: SQLAlchemy tables and migrations, the repository, blob storage."""

from thresher.store.blobs import BlobStore
from thresher.store.rows import RecordRow
from thresher.store.store import RecordFilter, Stats, Store
from thresher.store.writer import RecordWriter

__all__ = ["BlobStore", "RecordFilter", "RecordRow", "RecordWriter", "Stats", "Store"]
