"""The evaluation job: check the inputs, claim RESULTS_DIR, skip shards counted earlier, count the rest
on the pool of Ray actors (one unit per shard), then write the results (results.json last)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..io.storage import is_s3_uri, open_storage
from ..pipeline.loopback import keep_private_cluster_on_loopback
from ..release import open_release
from .models import check_model, parse_model_spec
from .records import (
    Identity,
    ResultsExist,
    as_counts,
    claim,
    clear_work,
    read_records,
    refuse_finished,
    write_record,
)
from .results import build_results, cell_results, write_results
from .selection import select_cells
from .worker import ModelOutputError, ShardCounts, ShardUnit

log = logging.getLogger(__name__)

__all__ = ["EvaluationSummary", "evaluate"]


@dataclass
class EvaluationSummary:
    results: str  # RESULTS_DIR
    cells: int = 0
    shards: int = 0
    skipped_shards: int = 0  # counted by an earlier, killed run
    images: int = 0  # classified by this run
    seconds: float = 0.0
    workers: int = 0
    device: str = "cpu"
    startup_seconds: float = 0.0
    worker_seconds: float = 0.0  # the units' time in the workers, summed
    forward_seconds: float = 0.0  # of which in the model: the rest is reading, verifying, decoding
    summary: dict[str, Any] = field(default_factory=dict)  # results.json's

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


def evaluate(release: str, model: str, out: str, *, weights: str | None = None,
             cells: Sequence[str] | None = None, batch_size: int = 32, workers: int | None = None,
             threads_per_worker: int = 1, device: str = "auto", address: str | None = None,
             progress: bool = True) -> EvaluationSummary:
    """Evaluate ``model`` on the release at ``release`` (a directory or s3:// URI); write the results
    to ``out`` (a directory or s3:// URI that holds no results yet). Resumes a killed evaluation of
    the same release and model in ``out``.

    ``model``: ``MODULE:FUNCTION`` (returns a torch.nn.Module taking float (B, 3, H, W) images in
    [0, 1] and returning (B, classes) logits), ``torchvision:NAME`` or ``timm:NAME`` (``weights``: a
    local state dict; nothing is downloaded). ``cells``: wildcards over ``CORRUPTION/VARIANT`` (or
    ``CORRUPTION``). ``workers``: actors (default: one per GPU, else per CPU); ``address``: a Ray
    cluster (default: a private local one).
    """
    start = time.perf_counter()
    if batch_size < 1 or threads_per_worker < 1 or (workers is not None and workers < 1):
        raise ValueError("--batch-size, --workers and threads per worker must be at least 1")
    spec = parse_model_spec(model, os.path.abspath(weights) if weights else None)
    results = open_storage(out if is_s3_uri(out) else os.path.abspath(out))
    refuse_finished(results)  # before anything is opened or loaded
    check_model(spec)  # before any worker starts: imports, architecture, weights file
    opened = open_release(release if is_s3_uri(release) else os.path.abspath(release))
    chosen = select_cells(opened.cells, cells, opened.uri)
    identity = Identity(release_uri=opened.uri, manifest_sha256=opened.manifest_sha256, model=spec.describe())
    claim(results, identity)
    shards = [s.path for c in chosen for s in c.shards]
    earlier = read_records(results, identity, set(shards))
    done = {path: as_counts(record) for path, record in earlier.items()}
    digests = {record.parameters_sha256 for record in earlier.values()}  # which weights counted them
    pending = [ShardUnit(path) for path in shards if path not in done]
    summary = EvaluationSummary(results=results.uri, cells=len(chosen), shards=len(shards),
                                skipped_shards=len(shards) - len(pending))
    if pending:
        log.info("%d of %d shards to evaluate (%d counted earlier)", len(pending), len(shards), summary.skipped_shards)
        keep_private_cluster_on_loopback(address)  # before Ray is imported
        from ..pipeline.ray_pool import PoolOptions, WorkerSpec, run_units  # Ray only when there is work

        def keep(unit: ShardUnit, counts: ShardCounts) -> None:
            write_record(results, identity, counts)  # as each shard finishes: a killed run resumes here

        worker = WorkerSpec("corrupter.evaluation.worker:EvalWorker",
                            (opened.uri, opened.manifest_sha256, spec, batch_size, threads_per_worker))
        options = PoolOptions(workers=workers, threads_per_worker=threads_per_worker, device=device,
                              label="evaluating", permanent_errors=(ModelOutputError,),
                              names={"workers": "--workers", "threads_per_worker": "threads_per_worker",
                                     "device": "device"})
        pool = run_units(worker, pending, options, address=address, progress=progress,
                         describe=lambda u: f"shard {opened.uri}/{u.shard}", on_report=keep)
        for path, counts in pool.reports.items():
            done[path] = {"samples": counts.samples, "top1_correct": counts.top1_correct,
                          "top5_correct": counts.top5_correct}
            digests.add(counts.parameters_sha256)
            summary.worker_seconds += counts.seconds
            summary.forward_seconds += counts.forward_seconds
        summary.images, summary.workers, summary.device = pool.images, pool.workers, pool.device
        summary.startup_seconds = pool.startup_seconds
    if len(digests) > 1:
        raise ResultsExist(
            f"{results.uri}: the shards were counted by models with different weights ({len(digests)} "
            f"parameter digests: the function or weights file changed between runs, or differs between "
            f"nodes); delete {results.uri}/_work and evaluate again")
    model_record = {**spec.describe(), "parameters_sha256": next(iter(digests), None)}
    release_record = {"uri": opened.uri, "name": opened.manifest.name, "version": opened.manifest.version,
                      "manifest_sha256": opened.manifest_sha256}
    record = build_results(model=model_record, release=release_record, cells=cell_results(chosen, done))
    write_results(results, record)
    clear_work(results)
    summary.summary = record["summary"]
    summary.seconds = time.perf_counter() - start
    return summary
