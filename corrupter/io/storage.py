"""Where releases live: a local directory (the embedded default) or S3-compatible object storage.

Both backends keep the same promises: a published object appears only complete (written to a
temporary file, then hard-linked to its name locally; one create-once PUT on S3), is never
overwritten, and carries a known sha256.

The one exception is a catalogue (``NAME/index.json``), replaced only by compare-and-swap
(``read_tagged`` / ``replace_tagged``): a write succeeds only if the object is still the one read
(S3: ``If-Match`` on its ETag, ``If-None-Match: *`` for the first; locally: under an exclusive lock,
then an atomic rename), so two writers at once cannot lose each other's change.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from .content import ObjectHead, copy_checked
from .errors import AlreadyExists, ChangedMeanwhile, NotFound, StorageError
from .paths import check_relative


class Storage(Protocol):
    """A flat namespace of immutable objects under one root (a directory or an S3 prefix)."""

    uri: str

    def exists(self, rel: str) -> bool: ...
    def read_bytes(self, rel: str) -> bytes: ...
    def open_read(self, rel: str) -> BinaryIO: ...
    def publish_file(self, local_path: str, rel: str, sha256: str) -> None: ...
    def write_bytes(self, rel: str, data: bytes) -> None: ...
    def list(self, prefix: str = "") -> Iterator[str]: ...
    def delete(self, rels: list[str]) -> None: ...
    def child(self, rel: str) -> Storage: ...
    def publish_stream(self, rel: str, fh: BinaryIO, size: int, sha256: str) -> None: ...
    def head(self, rel: str) -> ObjectHead | None: ...
    def read_tagged(self, rel: str) -> tuple[bytes, str] | None: ...
    def replace_tagged(self, rel: str, data: bytes, tag: str | None) -> None: ...


def _hash_stream(fh: BinaryIO) -> tuple[str, int]:
    """(sha256 hex, size) of a stream, read in chunks: shards can be GiBs."""
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: str) -> str:
    with open(path, "rb") as fh:
        return _hash_stream(fh)[0]


def object_digest(storage: Storage, rel: str) -> tuple[str, int] | None:
    """(sha256 hex, size) of a stored object; None if it does not exist."""
    try:
        with storage.open_read(rel) as fh:
            return _hash_stream(fh)
    except NotFound:
        return None


class LocalStorage:
    """A directory; files are written to a temporary name in the same folder, then hard-linked to
    their name (which fails if it exists: create-once, where a rename would overwrite)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.uri = str(self.root)

    def _path(self, rel: str) -> Path:
        return self.root / check_relative(rel)

    def exists(self, rel: str) -> bool:
        return self._path(rel).is_file()

    def read_bytes(self, rel: str) -> bytes:
        try:
            return self._path(rel).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{self._path(rel)}: not found") from None

    def open_read(self, rel: str) -> BinaryIO:
        try:
            return open(self._path(rel), "rb")
        except FileNotFoundError:
            raise NotFound(f"{self._path(rel)}: not found") from None

    def publish_file(self, local_path: str, rel: str, sha256: str) -> None:
        target = self._path(rel)
        if target.exists():
            raise AlreadyExists(f"{target} already exists")
        staged = _staging_file(target)
        staged.close()
        shutil.copyfile(local_path, staged.name)
        if sha256_file(staged.name) != sha256:
            os.unlink(staged.name)
            raise StorageError(f"{target}: staged copy does not match sha256 {sha256}")
        _link_once(staged.name, target)

    def write_bytes(self, rel: str, data: bytes) -> None:
        target = self._path(rel)
        with _staging_file(target) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _link_once(fh.name, target)

    def publish_stream(self, rel: str, fh: BinaryIO, size: int, sha256: str) -> None:
        """Create-once copy of a stream that must be ``size`` bytes with ``sha256`` (checked before the
        name appears: ContentMismatch leaves nothing behind)."""
        target = self._path(rel)
        if target.exists():
            raise AlreadyExists(f"{target} already exists")
        with _staging_file(target) as out:
            try:
                copy_checked(fh, out, size, sha256, str(target))
                out.flush()
                os.fsync(out.fileno())
            except BaseException:
                out.close()
                os.unlink(out.name)
                raise
        _link_once(out.name, target)

    def head(self, rel: str) -> ObjectHead | None:
        try:
            return ObjectHead(self._path(rel).stat().st_size, None) if self.exists(rel) else None
        except FileNotFoundError:
            return None

    def read_tagged(self, rel: str) -> tuple[bytes, str] | None:
        """The object and its tag (the sha256 of its bytes: what replace_tagged compares); None if absent."""
        try:
            data = self.read_bytes(rel)
        except NotFound:
            return None
        return data, hashlib.sha256(data).hexdigest()

    def replace_tagged(self, rel: str, data: bytes, tag: str | None) -> None:
        """Write ``data`` if the object is still the one whose tag is ``tag`` (None: still absent), else
        ChangedMeanwhile. An exclusive lock (flock on a hidden file beside it: released by the kernel if
        the process dies) covers the compare and the atomic rename, across threads and processes."""
        target = self._path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / f".{target.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self.read_tagged(rel)
            if (current[1] if current else None) != tag:
                raise ChangedMeanwhile(f"{target} changed since it was read")
            with _staging_file(target) as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(fh.name, 0o644)
            os.replace(fh.name, target)  # atomic: readers see the old or the new catalogue, whole

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self._path(prefix)
        if base.is_file():
            found = [base]
        else:  # os.walk skips folders that vanish meanwhile (another run cleaning its work area)
            found = [Path(folder, name) for folder, _, names in os.walk(base) for name in names]
        for path in sorted(found):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(self.root).as_posix()

    def delete(self, rels: list[str]) -> None:
        for rel in rels:
            path = self._path(rel)
            path.unlink(missing_ok=True)
            for parent in path.parents:  # drop folders the deletions emptied, up to the root
                if parent == self.root or not parent.is_relative_to(self.root):
                    break
                try:
                    parent.rmdir()
                except OSError:  # not empty (a file arrived), or another run removed it first
                    break

    def child(self, rel: str) -> LocalStorage:
        return LocalStorage(self._path(rel))


def _staging_file(target: Path):
    """An open temporary file next to ``target``; its folder is made first (and again if another
    run's clean-up removed the empty folder in between)."""
    for attempt in range(3):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            return tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False)
        except FileNotFoundError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _link_once(staged: str, target: Path) -> None:
    """Atomically give ``staged`` the name ``target`` unless ``target`` exists (create-once)."""
    os.chmod(staged, 0o444)
    try:
        os.link(staged, target)  # fails if the target exists, unlike rename
    except FileExistsError:
        raise AlreadyExists(f"{target} already exists") from None
    finally:
        os.unlink(staged)


def is_s3_uri(uri: str) -> bool:
    return uri.startswith("s3://")


def open_storage(uri: str, s3_options: object | None = None) -> Storage:
    """A Storage for a local path or an ``s3://bucket/prefix`` URI."""
    if is_s3_uri(uri):
        from .s3 import S3Storage  # boto3 is imported only when S3 is used

        return S3Storage.from_uri(uri, s3_options)
    return LocalStorage(uri)


def open_input(uri: str, s3_options: object | None = None) -> BinaryIO:
    """A readable stream of an input shard, local or on S3 (streamed, never copied whole)."""
    if is_s3_uri(uri):
        from .s3 import open_s3_object

        return open_s3_object(uri, s3_options)
    try:
        return open(uri, "rb")
    except FileNotFoundError:
        raise StorageError(f"input shard {uri}: not found") from None
    except IsADirectoryError:
        raise StorageError(f"input shard {uri}: is a directory, not a tar file") from None
