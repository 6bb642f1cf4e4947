"""The job: plan, skip what is done, run the rest on a pool of Ray actors, then write the metadata
files and the manifest."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from ..config import ReleaseConfig
from ..io.errors import StorageError
from ..io.storage import is_s3_uri
from ..publish.metadata import write_metadata
from ..release.layout import release_storage
from ..release.lifecycle import (
    claim_release,
    commit_release,
    committed_meanwhile,
    completed_receipts,
    record_run_start,
    refuse_nested_release,
)
from .dryrun import dry_run_variants
from .errors import JobFailed
from .loopback import keep_private_cluster_on_loopback
from .plan import WorkUnit, plan_units

log = logging.getLogger(__name__)

__all__ = ["Summary", "run_release"]


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


def check_inputs(units: list[WorkUnit]) -> None:
    """Fail before any work if a local input shard is missing (S3 inputs are checked when read)."""
    missing = sorted({u.source for u in units if not is_s3_uri(u.source) and not os.path.isfile(u.source)})
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise StorageError(f"input shard(s) not found: {shown}")


def run_release(config: ReleaseConfig, *, address: str | None = None, progress: bool = True,
                command: list[str] | None = None, cwd: str | None = None) -> Summary:
    """Build the release described by ``config``; resumes an unfinished one. ``command`` (and the
    directory ``cwd`` it runs in): the command line that runs it, recorded in the claim for
    `corrupter status` to show how to resume."""
    keep_private_cluster_on_loopback(address)  # before Ray is imported
    from .ray_pool import PoolOptions, WorkerSpec, run_units  # Ray is imported only when a job actually runs

    start = time.perf_counter()
    release = release_storage(config)
    units = plan_units(config)  # plan, inputs and parameters are checked before the version is claimed
    check_inputs(units)
    dry_run_variants(config, (o.variant for u in units for o in u.outputs))
    refuse_nested_release(config, release)
    claim_release(config, release, command, cwd)
    record_run_start(release)
    done = completed_receipts(release, {o.path for u in units for o in u.outputs})
    pending = [u for u in units if not all(o.path in done for o in u.outputs)]
    summary = Summary(release=release.uri, units=len(units), skipped_units=len(units) - len(pending))
    if pending:
        log.info("%d of %d units to run (%d done earlier)", len(pending), len(units), summary.skipped_units)
        try:
            result = run_units(WorkerSpec("corrupter.pipeline.worker:ShardWorker", (config,)), pending,
                               PoolOptions.from_run(config.run, label="corrupting"), address=address,
                               progress=progress, describe=lambda u: f"work unit {u.unit_id} (input {u.source})")
        except JobFailed:
            elsewhere = committed_meanwhile(release)  # another run committed meanwhile: its release stands
            if elsewhere is not None:
                raise elsewhere from None
            raise
        reports = list(result.reports.values())
        done.update((r.path, r) for report in reports for r in report.receipts)
        summary.images = sum(report.images for report in reports)
        summary.peak_worker_rss_bytes = max((report.peak_rss_bytes for report in reports), default=0)
        summary.workers, summary.device = result.workers, result.device
        summary.startup_seconds = result.startup_seconds
    manifest = commit_release(config, release, [done[o.path] for u in units for o in u.outputs],
                              lambda building: write_metadata(config, release, building))
    summary.shards = manifest.totals.shards
    summary.quarantined = manifest.totals.source_samples_quarantined
    summary.seconds = time.perf_counter() - start
    return summary
