"""What an object is without reading it (ObjectHead), and copying bytes checked against the sha256 and
size they must have. Shared by both storage backends (storage.py, s3.py, s3upload.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from .errors import ContentMismatch


@dataclass(frozen=True)
class ObjectHead:
    """What the store says about an object without reading it: its size, and its sha256 when the store
    recorded one it checked at upload (S3); None where only reading the object tells (a local file)."""

    size: int
    sha256: str | None


def copy_checked(fh: BinaryIO, out: BinaryIO, size: int, sha256: str, where: str) -> None:
    """Copy ``fh`` to ``out``, hashing on the way; ContentMismatch unless it is exactly ``size`` bytes
    with that sha256."""
    digest, copied = hashlib.sha256(), 0
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        digest.update(chunk)
        copied += len(chunk)
        if copied > size:
            raise ContentMismatch(f"{where}: more than the {size} bytes expected")
        out.write(chunk)
    check_content(where, copied, digest.hexdigest(), size, sha256)


def check_content(where: str, size: int, sha256: str, want_size: int, want_sha256: str) -> None:
    if size != want_size:
        raise ContentMismatch(f"{where}: {size} bytes, expected {want_size}")
    if sha256 != want_sha256:
        raise ContentMismatch(f"{where}: sha256 {sha256}, expected {want_sha256}")
