"""`corrupter publish RELEASE DEST`: copy a finished release to ``DEST/NAME/VERSION``, checked on the way.

- The source must be finished (it has a manifest) and every object it lists must have the manifest's
  sha256 and size: each is hashed while it is copied, and one that differs stops the copy with its name
  before any of its bytes become visible at the destination.
- Every object is written create-once, the manifest last: until it lands the copy is not a release,
  and a rerun completes it, skipping objects already there with the right size and sha256 (on S3 read
  from the object's recorded checksum, without downloading it; locally by hashing the file).
- A different release at the destination is refused: another manifest, an object of the same name with
  other bytes, an unfinished build (``_work/``), or objects this release does not list.
- When the manifest is there, the release is recorded in ``DEST/NAME/index.json`` (the catalogue).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

from ..config.semver import check_semver
from ..io.content import ObjectHead
from ..io.errors import AccessDenied, AlreadyExists, ContentMismatch, NotFound
from ..io.storage import Storage, object_digest, open_storage
from ..release.catalogue import record_release
from ..release.errors import ManifestError, ReleaseExistsError, ShardMismatch, ShardMissing
from ..release.layout import MANIFEST, WORK, uri_ancestors
from ..release.manifest import FORMAT, manifest_bytes, parse_manifest
from ..release.objects import ListedObject, listed_objects

log = logging.getLogger(__name__)

OBJECT_THREADS = 4  # objects copied at once (a large one also sends its parts in parallel)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass
class PublishSummary:
    source: str
    destination: str  # DEST/NAME/VERSION
    copied: int = 0
    skipped: int = 0  # already at the destination with the right bytes (a rerun)
    bytes_copied: int = 0
    already_published: bool = False  # the destination held this very manifest
    catalogued: bool = False  # this call added the version to index.json
    seconds: float = 0.0


def publish_release(source_uri: str, dest_root: str, s3_options: object | None = None) -> PublishSummary:
    """Copy the release at ``source_uri`` to ``dest_root/NAME/VERSION``; see the module's doc."""
    start = time.perf_counter()
    source = open_storage(source_uri.rstrip("/"), s3_options)
    raw = manifest_bytes(source)  # ReleaseNotFinished names an unfinished release
    where = f"{source.uri}/{MANIFEST}"
    manifest = parse_manifest(raw, where)
    _check_names(manifest.name, manifest.version, where)
    objects = listed_objects(manifest, where)
    benchmark = open_storage(dest_root.rstrip("/"), s3_options).child(manifest.name)
    dest = benchmark.child(manifest.version)
    summary = PublishSummary(source=source.uri, destination=dest.uri)

    existing = _existing_manifest(dest)
    if existing is not None:
        if existing != raw:
            raise ReleaseExistsError(f"{dest.uri} holds a different release (its {MANIFEST} differs from "
                                     f"{where}); releases are immutable: publish under a new version")
        summary.already_published = True
    else:
        _refuse_inside_release(dest, s3_options)
        present = _refuse_foreign_objects(dest, objects)
        lock = threading.Lock()

        def copy_one(obj: ListedObject) -> None:
            copied = _copy_object(source, dest, obj, obj.path in present)
            with lock:
                if copied:
                    summary.copied += 1
                    summary.bytes_copied += obj.size or 0
                else:
                    summary.skipped += 1

        _run_all(copy_one, objects)
        try:
            dest.write_bytes(MANIFEST, raw)  # last: now it is a release
        except AlreadyExists:  # another publisher of it got there first: the same release, or refused
            if _existing_manifest(dest) != raw:
                raise ReleaseExistsError(f"{dest.uri}: a different release was published there meanwhile") from None
    summary.catalogued = record_release(benchmark, manifest, hashlib.sha256(raw).hexdigest())
    summary.seconds = time.perf_counter() - start
    return summary


def _check_names(name: str, version: str, where: str) -> None:
    """The manifest's name and version become paths at the destination: refuse anything else."""
    if not _NAME.fullmatch(name):
        raise ManifestError(f"{where}: name {name[:120]!r} is not 1 to 100 letters, digits, '.', '_' or '-'")
    try:
        check_semver(version)
    except ValueError as exc:
        raise ManifestError(f"{where}: {exc}; publish builds the destination path from it") from None


def _existing_manifest(dest: Storage) -> bytes | None:
    try:
        return dest.read_bytes(MANIFEST)
    except NotFound:
        return None


def _refuse_inside_release(dest: Storage, s3_options: object | None) -> None:
    """No copy inside another release (``publish R R`` would put one inside the source): its objects
    would be strays there, and `verify` of that release would fail."""
    for uri in uri_ancestors(dest.uri):
        outer = open_storage(uri.rstrip("/"), s3_options)
        try:
            found = json.loads(outer.read_bytes(MANIFEST))
        except (AccessDenied, NotFound, PermissionError, ValueError):
            continue  # nothing there, not a manifest, or a level this identity may not read
        if isinstance(found, dict) and str(found.get("format", "")).startswith(FORMAT.split("/")[0]):
            raise ReleaseExistsError(f"{dest.uri} is inside the release {outer.uri}; a release may not hold "
                                     f"another one: choose a destination outside it")


def _refuse_foreign_objects(dest: Storage, objects: list[ListedObject]) -> set[str]:
    """Before copying anything: the destination holds nothing but objects of this release (a partial
    copy of it, which the rerun completes). Returns the names there."""
    listed = {o.path for o in objects}
    present = set(dest.list())
    foreign = sorted(present - listed)
    work = [rel for rel in foreign if rel.split("/")[0] == WORK]
    if work:
        raise ReleaseExistsError(f"{dest.uri} is an unfinished release being built there ({WORK}/ exists); "
                                 f"finish it with `corrupter run` or publish under another version")
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ReleaseExistsError(f"{dest.uri} holds objects that are not part of this release ({shown}): a "
                                 f"different release is there; publish under another version")
    return present


def _copy_object(source: Storage, dest: Storage, obj: ListedObject, listed_there: bool) -> bool:
    """Copy one object unless it is already at the destination with the right bytes (only an object
    the destination's listing showed is looked at first; one written meanwhile is refused by the
    create-once write and checked then). True if copied."""
    if listed_there:
        _check_present(dest, obj, dest.head(obj.path))
        return False
    try:
        fh = source.open_read(obj.path)
    except NotFound:
        raise ShardMissing(f"{source.uri}/{obj.path}: missing; the manifest lists it") from None
    size = obj.size if obj.size is not None else _size_of(source, obj)
    try:
        with fh:
            dest.publish_stream(obj.path, fh, size, obj.sha256)
    except ContentMismatch as exc:
        raise ShardMismatch(f"{source.uri}/{obj.path} does not match the manifest ({exc}); nothing of it was "
                            f"published, and the copy stops: the source release was changed after it was built "
                            f"(`corrupter verify {source.uri}`)") from None
    except AlreadyExists:  # another publisher of the same release wrote it meanwhile: check it
        _check_present(dest, obj, dest.head(obj.path))
        return False
    log.info("published %s", obj.path)
    return True


def _size_of(source: Storage, obj: ListedObject) -> int:
    head = source.head(obj.path)
    if head is None:
        raise ShardMissing(f"{source.uri}/{obj.path}: missing; the manifest lists it")
    return head.size


def _check_present(dest: Storage, obj: ListedObject, head: ObjectHead | None) -> None:
    """An object already at the destination must be this release's: same size, same sha256 (the
    store's recorded checksum where it has one, else its bytes hashed)."""
    where = f"{dest.uri}/{obj.path}"
    if head is None:
        raise ReleaseExistsError(f"{where} vanished while publishing; rerun")
    if obj.size is not None and head.size != obj.size:
        raise ReleaseExistsError(f"{where} exists with {head.size} bytes, this release's has {obj.size}: a "
                                 f"different release is there; publish under another version")
    sha256 = head.sha256
    if sha256 is None:
        found = object_digest(dest, obj.path)
        sha256 = found[0] if found else None
    if sha256 != obj.sha256:
        raise ReleaseExistsError(f"{where} exists with other bytes (sha256 {sha256}, this release's is "
                                 f"{obj.sha256}): a different release is there; publish under another version")


def _run_all(task: Callable[[ListedObject], None], objects: list[ListedObject]) -> None:
    """Run ``task`` on every object, OBJECT_THREADS at a time; the first error stops the rest (those
    not started are cancelled, those running finish) and is raised."""
    with ThreadPoolExecutor(OBJECT_THREADS, thread_name_prefix="publish") as pool:
        futures = [pool.submit(task, obj) for obj in objects]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f.done() and f.exception() is not None), None)
        if failed is not None:
            for future in futures:
                future.cancel()
            raise failed.exception()  # type: ignore[misc]
