"""The Ray engine's output: any ``fsspec`` location, written so that no reader ever sees half a file.

A Ray task writes its Parquet file, and then the file's marker, straight to the build's output:
a local or shared path, or a URL (``s3://``, ``gs://``, ``file://``, ``memory://`` in tests). On
a file system that renames (a local or mounted one) a file is written under a temporary name in
its final folder and renamed; elsewhere (object stores) it is uploaded in an fsspec transaction
and committed once whole, so a worker killed mid-write leaves nothing under the final name.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import posixpath
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

logger = logging.getLogger(__name__)

CHUNK = 1 << 22  # bytes read at a time when a file is hashed


def open_store(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The file system of ``url`` (a path or an fsspec URL) and the path on it."""
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path.rstrip("/") or "/"


def join(*parts: str) -> str:
    """``parts`` joined with ``/`` (paths on an fsspec file system are POSIX-style)."""
    return posixpath.join(*parts)


def url_of(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """``path`` on ``fs`` as something another process opens with :func:`open_store` (a plain local path)."""
    return path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path)


def renames(fs: fsspec.AbstractFileSystem) -> bool:
    """Whether ``fs`` renames a file in one step (a local or mounted file system)."""
    return isinstance(fs, LocalFileSystem)


@contextmanager
def write_whole(fs: fsspec.AbstractFileSystem, path: str) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` whole when the block ends, or not at all.

    Raises:
        Whatever the block raises; nothing is left under ``path`` then (nor under a temporary name).
    """
    parent, name = posixpath.split(path)
    if renames(fs):
        fs.makedirs(parent, exist_ok=True)
        tmp = join(parent, f".{name}.{uuid.uuid4().hex}.tmp")  # one per attempt: a retried task never shares it
        try:
            with fs.open(tmp, "wb") as f:
                yield f
            fs.mv(tmp, path)
        finally:
            if fs.exists(tmp):
                fs.rm(tmp)
        return
    with fs.transaction:  # the upload is committed when the transaction ends without an error, else discarded
        f = fs.open(path, "wb")
        yield f
        f.close()


class HashingWriter(io.RawIOBase):
    """Writes through to ``raw`` and keeps the SHA-256 and size of what went by."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self.raw, self.sha256, self.size = raw, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha256.update(view)
        self.size += view.nbytes
        self.raw.write(view)
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.raw.flush()


def file_digest(fs: fsspec.AbstractFileSystem, path: str) -> tuple[int, str]:
    """Size and SHA-256 (hex) of ``path``, read a chunk at a time."""
    sha, size = hashlib.sha256(), 0
    with fs.open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def write_json(fs: fsspec.AbstractFileSystem, path: str, data: Any) -> None:
    """Write ``data`` as JSON at ``path``, whole or not at all."""
    with write_whole(fs, path) as f:
        f.write(json.dumps(data, sort_keys=True).encode())


def read_json(fs: fsspec.AbstractFileSystem, path: str) -> Any | None:
    """The JSON at ``path``; ``None`` when it is missing or not JSON (it is then not trusted)."""
    try:
        return json.loads(fs.cat_file(path))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        logger.warning("ignoring %s: %s", path, exc)
        return None
