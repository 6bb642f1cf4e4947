"""The job: plan, skip what is done, run the rest on a pool of Ray actors, then write the manifest."""

from __future__ import annotations

import json
import logging
import os
import posixpath
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ReleaseConfig, config_digest, release_identity
from ..io.manifest import FORMAT, MANIFEST, build_manifest, dump_manifest
from ..io.storage import (
    AccessDenied,
    AlreadyExists,
    NotFound,
    Storage,
    StorageError,
    is_s3_uri,
    object_digest,
    open_storage,
)
from ..seeding import SEED_SCHEME
from .dryrun import dry_run_variants
from .errors import JobFailed, ReleaseExistsError, ReleaseFinishedElsewhere
from .loopback import keep_private_cluster_on_loopback
from .plan import WorkUnit, plan_units
from .worker import RECEIPTS, receipt_path, release_storage

log = logging.getLogger(__name__)

WORK = "_work"
CONFIG_MARKER = f"{WORK}/config.json"

__all__ = ["JobFailed", "ReleaseExistsError", "ReleaseFinishedElsewhere", "Summary", "run_release"]


@dataclass
class Summary:
    release: str
    images: int = 0
    shards: int = 0
    skipped_units: int = 0
    units: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    workers: int = 0
    device: str = "cpu"
    peak_worker_rss_bytes: int = 0
    startup_seconds: float = 0.0  # of ``seconds``: starting Ray and the workers (until the first is ready)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    @property
    def images_per_second_after_startup(self) -> float:
        working = self.seconds - self.startup_seconds
        return self.images / working if working > 0 and self.images else 0.0


def claim_release(config: ReleaseConfig, release: Storage) -> None:
    """Refuse a finished release; record this config's digest on a new one, or check it on resume."""
    if release.exists(MANIFEST):
        raise ReleaseExistsError(_finished_message(release))
    digest = config_digest(config)
    marker = json.dumps({"config_digest": digest}, sort_keys=True).encode()
    try:
        release.write_bytes(CONFIG_MARKER, marker)
    except AlreadyExists:
        try:
            existing = json.loads(release.read_bytes(CONFIG_MARKER))
        except NotFound:  # another run of it committed and cleaned up meanwhile
            raise ReleaseExistsError(_finished_message(release)) from None
        if existing.get("config_digest") != digest:
            raise ReleaseExistsError(
                f"{release.uri} is an unfinished release of a different config "
                f"({existing.get('config_digest')}, this one is {digest}); rerun the original config to "
                f"finish it, or choose a new version") from None


def _finished_message(release: Storage) -> str:
    return (f"{release.uri} is a finished release (it has a {MANIFEST}); releases are immutable: "
            f"choose a new version")


def release_ancestors(config: ReleaseConfig) -> list[str]:
    """Every location above the release (its parent first), as a URI: where an enclosing release's
    manifest would be."""
    base = config.output.uri
    if is_s3_uri(base):
        bucket, _, prefix = base[len("s3://"):].partition("/")
        parts = [p for p in f"{prefix}/{config.name}/{config.version}".split("/") if p]
        return [f"s3://{bucket}/" + "/".join(parts[:i]) for i in range(len(parts) - 1, -1, -1)]
    here = (Path(base) / config.name / config.version).resolve()
    return [str(p) for p in here.parents]


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


def completed_receipts(release: Storage, units: list[WorkUnit]) -> dict[str, dict[str, Any]]:
    """Receipts of published shards whose bytes still match (a resumed job skips those)."""
    wanted = {o.path for u in units for o in u.outputs}
    done: dict[str, dict[str, Any]] = {}
    for rel in release.list(RECEIPTS):
        try:
            receipt = json.loads(release.read_bytes(rel))
        except NotFound:
            continue  # another run of this config finished and cleaned up meanwhile: found at commit
        path = receipt.get("path")
        if path not in wanted or rel != receipt_path(path):
            continue
        found = object_digest(release, path)  # chunked: shards can be GiBs
        if found is None:
            continue  # the shard is gone: redo it
        if found[0] != receipt["sha256"]:
            # shards are create-once, so a rerun could not replace it: say so now, not after hours
            raise StorageError(f"{release.uri}/{path} no longer matches the sha256 recorded when it was "
                               f"published; it was changed behind the job's back. Remove it and "
                               f"{rel}, then rerun to redo it")
        done[path] = receipt
    return done


def check_inputs(units: list[WorkUnit]) -> None:
    """Fail before any work if a local input shard is missing (S3 inputs are checked when read)."""
    missing = sorted({u.source for u in units if not is_s3_uri(u.source) and not os.path.isfile(u.source)})
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise StorageError(f"input shard(s) not found: {shown}")


def run_release(config: ReleaseConfig, *, address: str | None = None, progress: bool = True) -> Summary:
    """Build the release described by ``config``; resumes an unfinished one."""
    keep_private_cluster_on_loopback(address)  # before Ray is imported
    from .ray_pool import run_units  # Ray is imported only when a job actually runs

    start = time.perf_counter()
    release = release_storage(config)
    units = plan_units(config)  # plan, inputs and parameters are checked before the version is claimed
    check_inputs(units)
    dry_run_variants(config, (o.variant for u in units for o in u.outputs))
    refuse_nested_release(config, release)
    claim_release(config, release)
    done = completed_receipts(release, units)
    pending = [u for u in units if not all(o.path in done for o in u.outputs)]
    summary = Summary(release=release.uri, units=len(units), skipped_units=len(units) - len(pending))
    if pending:
        log.info("%d of %d units to run (%d done earlier)", len(pending), len(units), summary.skipped_units)
        try:
            result = run_units(config, pending, address=address, progress=progress)
        except JobFailed:
            if release.exists(MANIFEST):  # another run committed meanwhile: its release stands
                remove_work_area(release)
                raise ReleaseFinishedElsewhere(_finished_elsewhere(release)) from None
            raise
        done.update(result.receipts)
        summary.images, summary.peak_worker_rss_bytes = result.images, result.peak_worker_rss_bytes
        summary.workers, summary.device = result.workers, result.device
        summary.startup_seconds = result.startup_seconds
    manifest = commit_release(config, release, [done[o.path] for u in units for o in u.outputs])
    summary.shards = manifest["totals"]["shards"]
    summary.quarantined = manifest["totals"]["source_samples_quarantined"]
    summary.seconds = time.perf_counter() - start
    return summary


def commit_release(config: ReleaseConfig, release: Storage, receipts: list[dict[str, Any]]) -> dict[str, Any]:
    """Write the manifest (the commit), then remove the work area. Returns the manifest.

    Two runs of one config may race to here; the manifest is create-once, so exactly one commits. The
    other raises ReleaseFinishedElsewhere, after removing the work area too: the release is committed
    by then, so nothing of the winner's can be lost, and the loser's workers may have written receipts
    after the winner cleaned up.
    """
    manifest = build_manifest(
        name=config.name, version=config.version, config=release_identity(config),
        digest=config_digest(config), seed_scheme=SEED_SCHEME, receipts=receipts)
    try:
        release.write_bytes(MANIFEST, dump_manifest(manifest))
    except AlreadyExists:
        remove_work_area(release)
        raise ReleaseFinishedElsewhere(_finished_elsewhere(release)) from None
    remove_work_area(release)
    return manifest


def _finished_elsewhere(release: Storage) -> str:
    return (f"another run finished this release ({release.uri}) while this one was running; it is "
            f"complete (same config): check it with `corrupter verify {release.uri}`")


def remove_work_area(release: Storage) -> None:
    """Delete ``_work/`` (the config claim and receipts); only ever after the manifest exists."""
    release.delete(list(release.list(WORK)))
