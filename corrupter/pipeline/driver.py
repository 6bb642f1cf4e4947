"""The job: plan, skip what is done, run the rest on a pool of Ray actors, then write the manifest."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from ..config import ReleaseConfig, config_digest, release_identity
from ..io.manifest import MANIFEST, build_manifest, dump_manifest
from ..io.storage import AlreadyExists, Storage, StorageError, is_s3_uri, object_digest
from ..seeding import SEED_SCHEME
from .dryrun import dry_run_variants
from .loopback import keep_private_cluster_on_loopback
from .plan import WorkUnit, plan_units
from .worker import RECEIPTS, receipt_path, release_storage

log = logging.getLogger(__name__)

CONFIG_MARKER = "_work/config.json"


class ReleaseExistsError(RuntimeError):
    """The release already has a manifest: releases are immutable."""


class JobFailed(RuntimeError):
    """A work unit failed too often; the message names the unit and the last error."""


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

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


def claim_release(config: ReleaseConfig, release: Storage) -> None:
    """Refuse a finished release; record this config's digest on a new one, or check it on resume."""
    if release.exists(MANIFEST):
        raise ReleaseExistsError(
            f"{release.uri} is a finished release (it has a {MANIFEST}); releases are immutable: "
            f"choose a new version")
    digest = config_digest(config)
    marker = json.dumps({"config_digest": digest}, sort_keys=True).encode()
    try:
        release.write_bytes(CONFIG_MARKER, marker)
    except AlreadyExists:
        existing = json.loads(release.read_bytes(CONFIG_MARKER))
        if existing.get("config_digest") != digest:
            raise ReleaseExistsError(
                f"{release.uri} is an unfinished release of a different config "
                f"({existing.get('config_digest')}, this one is {digest}); rerun the original config to "
                f"finish it, or choose a new version") from None


def completed_receipts(release: Storage, units: list[WorkUnit]) -> dict[str, dict[str, Any]]:
    """Receipts of published shards whose bytes still match (a resumed job skips those)."""
    wanted = {o.path for u in units for o in u.outputs}
    done: dict[str, dict[str, Any]] = {}
    for rel in release.list(RECEIPTS):
        receipt = json.loads(release.read_bytes(rel))
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
    claim_release(config, release)
    done = completed_receipts(release, units)
    pending = [u for u in units if not all(o.path in done for o in u.outputs)]
    summary = Summary(release=release.uri, units=len(units), skipped_units=len(units) - len(pending))
    if pending:
        log.info("%d of %d units to run (%d done earlier)", len(pending), len(units), summary.skipped_units)
        run_units(config, pending, summary, done, address=address, progress=progress)
    receipts = [done[o.path] for u in units for o in u.outputs]
    manifest = build_manifest(
        name=config.name, version=config.version, config=release_identity(config),
        digest=config_digest(config), seed_scheme=SEED_SCHEME, receipts=receipts)
    release.write_bytes(MANIFEST, dump_manifest(manifest))
    release.delete(list(release.list("_work")))
    summary.shards = manifest["totals"]["shards"]
    summary.quarantined = manifest["totals"]["source_samples_quarantined"]
    summary.seconds = time.perf_counter() - start
    return summary
