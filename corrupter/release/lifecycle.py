"""How a release comes to be: claimed for one config, resumed from its receipts, committed once.

    claim_release         refuse a finished release or another config's; record this config (its digest,
                          the config itself and the command that runs it: what `corrupter status` reads)
    read_claim            that record, as a Claim
    record_run_start      each run (the first and every resume) says when it started
    run_starts            when they started
    refuse_nested_release no release inside (or around) another one
    completed_receipts    the receipts of published shards whose bytes still match (a resume skips them)
    commit_release        write the metadata files, then the manifest listing them (create-once: the
                          commit), then remove the work area and record the release in the
                          benchmark's catalogue (NAME/index.json)
    write_release_file    one metadata file, before the commit (a leftover of an interrupted commit is
                          replaced; a committed release's file never is)
    committed_meanwhile   after a failed run: did another run of the config commit the release?

Two runs of one config may work on one release at once; the manifest is create-once, so exactly one
commits, and the other is told (ReleaseFinishedElsewhere) without losing anything of the winner's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from ..config import ReleaseConfig, config_digest, release_identity
from ..io.errors import AccessDenied, AlreadyExists, NotFound, StorageError
from ..io.redact import redact_urls
from ..io.storage import Storage, object_digest, open_storage
from ..seeding import SEED_SCHEME
from .catalogue import record_release
from .errors import ReleaseExistsError, ReleaseFinishedElsewhere
from .layout import (
    CONFIG_MARKER,
    MANIFEST,
    RECEIPTS,
    RUNS,
    WORK,
    benchmark_storage,
    receipt_path,
    release_ancestors,
)
from .manifest import FORMAT, FileEntry, ReleaseManifest, build_manifest, dump_manifest
from .receipts import Receipt, parse_receipt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """What ``_work/config.json`` records of an unfinished release (a claim written before the
    config and the command were recorded has only the digest)."""

    config_digest: str
    config: dict[str, Any] | None = None  # the whole config, URLs' user info redacted
    claimed_at: float | None = None  # Unix time of the first run's claim
    command: list[str] | None = None  # the command line that started it (None: through the API)
    cwd: str | None = None  # where it ran (relative paths in the config are relative to it)


def claim_release(config: ReleaseConfig, release: Storage, command: list[str] | None = None,
                  cwd: str | None = None) -> None:
    """Refuse a finished release; record this config on a new one, or check its digest on resume.

    The record (a Claim) holds the config and the command that started the job, so that `corrupter
    status` can plan the release and say how to resume it; secrets never go in it (the user info of
    URLs is redacted; the config holds no credentials)."""
    if release.exists(MANIFEST):
        raise ReleaseExistsError(finished_message(release))
    digest = config_digest(config)
    record = {"config_digest": digest, "config": config.model_dump(mode="json"), "claimed_at": time.time(),
              "command": command, "cwd": cwd}
    marker = redact_urls(json.dumps(record, sort_keys=True)).encode()
    try:
        release.write_bytes(CONFIG_MARKER, marker)
    except AlreadyExists:
        try:
            existing = json.loads(release.read_bytes(CONFIG_MARKER))
        except NotFound:  # another run of it committed and cleaned up meanwhile
            raise ReleaseExistsError(finished_message(release)) from None
        if existing.get("config_digest") != digest:
            raise ReleaseExistsError(
                f"{release.uri} is an unfinished release of a different config "
                f"({existing.get('config_digest')}, this one is {digest}); rerun the original config to "
                f"finish it, or choose a new version") from None


def read_claim(release: Storage) -> Claim | None:
    """The claim of an unfinished release; None where there is none (finished, or not a release).
    ValueError where ``_work/config.json`` is not a claim."""
    try:
        data = release.read_bytes(CONFIG_MARKER)
    except NotFound:
        return None
    try:
        record = json.loads(data)
        claim = Claim(**{k: record.get(k) for k in Claim.__dataclass_fields__})
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"{release.uri}/{CONFIG_MARKER} is not a release's claim") from None
    if not isinstance(claim.config_digest, str) or not (claim.command is None or isinstance(claim.command, list)):
        raise ValueError(f"{release.uri}/{CONFIG_MARKER} is not a release's claim")
    return claim


def record_run_start(release: Storage) -> None:
    """Note that a run of the job starts now (the rate `corrupter status` gives is this run's)."""
    now = time.time()
    try:
        release.write_bytes(f"{RUNS}/{time.time_ns()}.json", json.dumps({"started_at": now}).encode())
    except AlreadyExists:  # two runs in the same nanosecond: one record says it
        pass


def run_starts(release: Storage) -> list[float]:
    """When each recorded run started (records that do not parse are left out)."""
    starts = []
    for rel in release.list(RUNS):
        try:
            started = json.loads(release.read_bytes(rel)).get("started_at")
        except (NotFound, ValueError, AttributeError):
            continue
        if isinstance(started, (int, float)):
            starts.append(float(started))
    return starts


def finished_message(release: Storage) -> str:
    return (f"{release.uri} is a finished release (it has a {MANIFEST}); releases are immutable: "
            f"choose a new version")


def refuse_nested_release(config: ReleaseConfig, release: Storage) -> None:
    """A release may not be built inside another release (its shards would be strays there, and
    `verify` of the outer one would fail), nor around one."""
    for uri in release_ancestors(config):
        outer = open_storage(uri.rstrip("/"), config.s3)
        try:
            if not outer.exists(MANIFEST):
                continue
            manifest = json.loads(outer.read_bytes(MANIFEST))
        except (AccessDenied, NotFound, PermissionError, ValueError):
            continue  # a level this identity may not read, or not a release manifest: nothing to refuse
        if isinstance(manifest, dict) and str(manifest.get("format", "")).startswith(FORMAT.split("/")[0]):
            raise ReleaseExistsError(
                f"{release.uri} is inside the finished release {outer.uri}; a release may not hold another "
                f"one: choose an output.uri outside it")
    inner = next((rel for rel in release.list() if posixpath.basename(rel) == MANIFEST and rel != MANIFEST), None)
    if inner is not None:
        raise ReleaseExistsError(f"{release.uri} holds another release ({release.uri}/{inner}); a release may not "
                                 f"hold another one: choose another name, version or output.uri")


def completed_receipts(release: Storage, wanted: Collection[str]) -> dict[str, Receipt]:
    """Receipts of the published shards among ``wanted`` (shard paths) whose bytes still match, by
    path: a resumed job skips those. A receipt that does not parse is ignored (its shard is redone,
    and the worker accepts the published shard if the bytes agree)."""
    done: dict[str, Receipt] = {}
    for rel in release.list(RECEIPTS):
        try:
            receipt = parse_receipt(release.read_bytes(rel), f"{release.uri}/{rel}")
        except NotFound:
            continue  # another run of this config finished and cleaned up meanwhile: found at commit
        except ValueError as exc:
            log.warning("%s; its shard is redone", exc)
            continue
        if receipt.path not in wanted or rel != receipt_path(receipt.path):
            continue
        found = object_digest(release, receipt.path)  # chunked: shards can be GiBs
        if found is None:
            continue  # the shard is gone: redo it
        if found[0] != receipt.sha256:
            # shards are create-once, so a rerun could not replace it: say so now, not after hours
            raise StorageError(f"{release.uri}/{receipt.path} no longer matches the sha256 recorded when it "
                               f"was published; it was changed behind the job's back. Remove it and "
                               f"{rel}, then rerun to redo it")
        done[receipt.path] = receipt
    return done


# Writes a release's metadata files (given the manifest they describe) and returns their entries.
MetadataWriter = Callable[[ReleaseManifest], Iterable[FileEntry]]


def commit_release(config: ReleaseConfig, release: Storage, receipts: Iterable[Receipt],
                   write_metadata: MetadataWriter | None = None) -> ReleaseManifest:
    """Write the metadata files (``write_metadata``, given the manifest without them), then the
    manifest listing them with their sha256 (the commit), then remove the work area and record the
    release in NAME/index.json. Returns the manifest.

    Two runs of one config may race to here; the manifest is create-once, so exactly one commits. The
    other raises ReleaseFinishedElsewhere, after removing the work area too: the release is committed
    by then, so nothing of the winner's can be lost, and the loser's workers may have written receipts
    after the winner cleaned up.
    """
    manifest = build_manifest(
        name=config.name, version=config.version, config=release_identity(config),
        digest=config_digest(config), seed_scheme=SEED_SCHEME, receipts=receipts)
    if write_metadata is not None:
        manifest = manifest.with_files(write_metadata(manifest))
    data = dump_manifest(manifest)
    try:
        release.write_bytes(MANIFEST, data)
    except AlreadyExists:
        remove_work_area(release)
        raise ReleaseFinishedElsewhere(finished_elsewhere_message(release)) from None
    remove_work_area(release)
    catalogue(config, release, manifest, data)
    return manifest


def catalogue(config: ReleaseConfig, release: Storage, manifest: ReleaseManifest, data: bytes) -> None:
    """Record the committed release in NAME/index.json; if that fails the release stands, and the
    error says how to record it later."""
    try:
        record_release(benchmark_storage(config), manifest, hashlib.sha256(data).hexdigest())
    except StorageError as exc:
        raise StorageError(f"{release.uri} is committed, but the catalogue was not updated ({exc}); record it "
                           f"with `corrupter publish {release.uri} {config.output.uri}`") from None


def write_release_file(release: Storage, path: str, data: bytes) -> FileEntry:
    """Write one metadata file before the commit (create-once) and return its manifest entry.

    The file may be there already: written by another run of the same config (the same bytes: kept),
    or left by a run of this config interrupted before its commit, by other software (replaced). Once
    the release is committed its files are never replaced: ReleaseFinishedElsewhere.
    """
    entry = FileEntry(path=path, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    for _ in range(3):
        try:
            release.write_bytes(path, data)
            return entry
        except AlreadyExists:
            try:
                if release.read_bytes(path) == data:
                    return entry
            except NotFound:
                continue  # removed meanwhile: write it again
            if release.exists(MANIFEST):
                raise ReleaseFinishedElsewhere(finished_elsewhere_message(release)) from None
            log.warning("%s/%s: replacing a file left by an interrupted run", release.uri, path)
            release.delete([path])
    raise StorageError(f"{release.uri}/{path}: could not be written (replaced by another run three times)")


def committed_meanwhile(release: Storage) -> ReleaseFinishedElsewhere | None:
    """After this run failed: if another run committed the release meanwhile, the error to raise (its
    release stands; the work area is removed), else None."""
    if not release.exists(MANIFEST):
        return None
    remove_work_area(release)
    return ReleaseFinishedElsewhere(finished_elsewhere_message(release))


def finished_elsewhere_message(release: Storage) -> str:
    return (f"another run finished this release ({release.uri}) while this one was running; it is "
            f"complete (same config): check it with `corrupter verify {release.uri}`")


def remove_work_area(release: Storage) -> None:
    """Delete ``_work/`` (the config claim and receipts); only ever after the manifest exists."""
    release.delete(list(release.list(WORK)))
