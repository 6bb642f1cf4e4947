"""Run work units on a pool of Ray actors, with retries and a clear stop after repeated failure."""

from __future__ import annotations

import logging
import math
from typing import Any

import ray
from ray.exceptions import ActorDiedError, RayActorError, RayError, RayTaskError
from tqdm import tqdm

from ..config import ReleaseConfig
from ..io.shards import ShardReadError
from ..io.storage import StorageError, TransientStorageError
from .loopback import cluster_address
from .plan import WorkUnit
from .worker import ShardWorker, UnitReport

log = logging.getLogger(__name__)


@ray.remote(max_restarts=-1, max_task_retries=0)
class ShardActor:
    """A Ray actor around ShardWorker: assets and device set up once, then many units."""

    def __init__(self, config_json: dict[str, Any], device: str) -> None:
        from ..config import ReleaseConfig as _Config

        self.worker = ShardWorker(_Config.model_validate(config_json), device)

    def run(self, unit: WorkUnit) -> UnitReport:
        return self.worker.run(unit)

    def device(self) -> str:
        return self.worker.device.type


def _connect(address: str | None) -> None:
    """Join ``address``, else the cluster of a Ray job (RAY_ADDRESS), else start a private local one.

    "local" rather than Ray's default auto-detection: a stale /tmp/ray/ray_current_cluster left by
    a dead `ray start` would otherwise make the job hang trying to join a cluster that is gone.
    Use ``--address auto`` to join the cluster started on this machine with `ray start`.
    """
    if ray.is_initialized():
        return
    ray.init(address=cluster_address(address), include_dashboard=False,
             logging_level=logging.WARNING, log_to_driver=True, configure_logging=True)


def _pool_shape(config: ReleaseConfig) -> tuple[int, float, float, str]:
    """(actors, CPUs per actor, GPUs per actor, device) from the cluster's resources."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    threads = config.run.threads_per_worker
    use_gpu = config.run.device == "cuda" or (config.run.device == "auto" and gpus > 0)
    if use_gpu:
        workers = config.run.workers or max(gpus, 1)
        # Ray packs fractional GPUs within one device, so the share must divide 1: 3 actors on
        # 2 GPUs get 1/2 each (2 per GPU), never 2/3 (which leaves one actor unschedulable).
        return workers, threads, 1 / math.ceil(workers / gpus) if gpus else 0, "cuda"
    cpus = max(int(resources.get("CPU", 1)), 1)
    return config.run.workers or max(cpus // threads, 1), threads, 0, "cpu"


def run_units(config: ReleaseConfig, units: list[WorkUnit], summary: Any, done: dict[str, dict],
              *, address: str | None, progress: bool) -> None:
    """Run ``units`` to completion; record receipts in ``done``. Raises JobFailed after
    ``run.max_unit_failures`` failures of one unit."""
    from .driver import JobFailed

    _connect(address)
    workers, cpus, gpus, device = _pool_shape(config)
    workers = min(workers, len(units))
    config_json = config.model_dump(mode="json")
    actors = [ShardActor.options(num_cpus=cpus, num_gpus=gpus).remote(config_json, device)
              for _ in range(workers)]
    summary.workers, summary.device = workers, device
    queue = list(units)
    failures: dict[str, int] = {}
    running: dict[Any, tuple[Any, WorkUnit]] = {}
    recovering: dict[Any, Any] = {}  # ping -> actor: a failed actor is reused only once it answers
    idle = list(actors)
    alive = set(actors)
    bar = tqdm(total=len(units), unit="unit", desc="corrupting", disable=not progress, dynamic_ncols=True)
    try:
        while queue or running:
            while queue and idle:
                actor, unit = idle.pop(), queue.pop(0)
                running[actor.run.remote(unit)] = (actor, unit)
            ready, _ = ray.wait(list(running) + list(recovering), num_returns=1)
            ref = ready[0]
            if ref in recovering:
                actor = recovering.pop(ref)
                try:
                    ray.get(ref)
                    idle.append(actor)
                except ActorDiedError as exc:  # will not come back (e.g. its set-up raises)
                    alive.discard(actor)
                    if not alive:
                        raise JobFailed(f"every worker died; last error: {_short(exc)}. Completed units "
                                        f"are kept: rerun the same command to resume.") from None
                except RayError:
                    recovering[actor.device.remote()] = actor  # still restarting: ask again
                continue
            actor, unit = running.pop(ref)
            try:
                report: UnitReport = ray.get(ref)
            except (RayActorError, RayTaskError, RayError) as exc:
                failures[unit.unit_id] = failures.get(unit.unit_id, 0) + 1
                # An unreadable shard or a storage refusal fails the same way every time: stop now.
                permanent = (isinstance(exc, (ShardReadError, StorageError))
                             and not isinstance(exc, TransientStorageError))
                if permanent or failures[unit.unit_id] >= config.run.max_unit_failures:
                    raise JobFailed(
                        f"work unit {unit.unit_id} (input {unit.source}) failed "
                        f"{failures[unit.unit_id]} time(s); last error: {_short(exc)}. Completed units are "
                        f"kept: rerun the same command to resume.") from None
                log.warning("unit %s failed (%s); retrying", unit.unit_id, _short(exc))
                queue.insert(0, unit)
                if isinstance(exc, RayTaskError):
                    idle.append(actor)  # the actor itself is fine; the task raised
                else:
                    recovering[actor.device.remote()] = actor  # Ray restarts it (max_restarts=-1)
                continue
            for receipt in report.receipts:
                done[receipt["path"]] = receipt
            summary.images += report.images
            summary.peak_worker_rss_bytes = max(summary.peak_worker_rss_bytes, report.peak_rss_bytes)
            bar.update(1)
            bar.set_postfix(images=summary.images)
            idle.append(actor)
    finally:
        bar.close()
        for actor in actors:
            ray.kill(actor, no_restart=True)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
