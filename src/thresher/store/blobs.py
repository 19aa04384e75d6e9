"""Blob storage through fsspec: a local folder by default, any fsspec URL (s3://...) for teams.

Blobs are addressed by content (``blob://sha256/<hex>``), so the same file is stored once.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path
from typing import IO, BinaryIO

import fsspec

from thresher.errors import NotFound
from thresher.model import BlobRef

SCHEME = "blob://sha256/"
_CHUNK = 1 << 20


class BlobStore:
    def __init__(self, root: str) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(root)
        self.fs.makedirs(self.root, exist_ok=True)

    def _path(self, digest: str) -> str:
        return f"{self.root}/{digest[:2]}/{digest[2:4]}/{digest}"

    def put(self, stream: BinaryIO, mime_type: str | None = None) -> BlobRef:
        """Store a stream's bytes (read in chunks) and return its content address."""
        h = hashlib.sha256()
        tmp = f"{self.root}/tmp-{uuid.uuid4().hex}"  # moved into place once the hash is known
        size = 0
        with self.fs.open(tmp, "wb") as out:
            while chunk := stream.read(_CHUNK):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
        digest = h.hexdigest()
        final = self._path(digest)
        if self.fs.exists(final):
            self.fs.rm(tmp)
        else:
            self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
            self.fs.mv(tmp, final)
        return BlobRef(uri=SCHEME + digest, mime_type=mime_type, sha256=digest, size=size)

    def put_bytes(self, data: bytes, mime_type: str | None = None) -> BlobRef:
        return self.put(io.BytesIO(data), mime_type)

    def put_file(self, path: Path, mime_type: str | None = None) -> BlobRef:
        with path.open("rb") as f:
            return self.put(f, mime_type)

    def open(self, ref: BlobRef | str) -> IO[bytes]:
        uri = ref.uri if isinstance(ref, BlobRef) else ref
        if not uri.startswith(SCHEME):
            raise NotFound(f"{uri!r} is not a blob address ({SCHEME}...)")
        path = self._path(uri[len(SCHEME) :])
        if not self.fs.exists(path):
            raise NotFound(f"blob {uri} is not in the store")
        f: IO[bytes] = self.fs.open(path, "rb")
        return f

    def exists(self, ref: BlobRef | str) -> bool:
        uri = ref.uri if isinstance(ref, BlobRef) else ref
        return uri.startswith(SCHEME) and bool(self.fs.exists(self._path(uri[len(SCHEME) :])))
