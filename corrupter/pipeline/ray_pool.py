"""Run work units on a pool of Ray actors, with retries and a clear stop after repeated failure.

Units go only to actors that have started: an actor the cluster cannot place stays pending in Ray
forever, so a unit sent to it would never come back. A pool that no node can hold is refused before
any actor is created; a pool larger than the cluster runs on the actors that start (and says so);
a pool none of whose actors starts within ``run.start_timeout_s`` fails with the cluster's resources.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import ActorDiedError, RayActorError, RayError, RayTaskError
from tqdm import tqdm

from ..config import ReleaseConfig
from ..io.redact import redact_urls
from ..io.shards import ShardReadError
from ..io.storage import StorageError, TransientStorageError
from .errors import JobFailed, WorkersCannotStart
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


@dataclass
class PoolResult:
    """What the pool did: the receipts of every shard it published (by path) and a few counts."""

    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: int = 0
    peak_worker_rss_bytes: int = 0
    workers: int = 0  # actors that started
    device: str = "cpu"
    startup_seconds: float = 0.0  # from the call to the first worker ready: Ray, actors, imports


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


def _pool_shape(config: ReleaseConfig, nodes: list[dict[str, float]] | None = None) -> tuple[int, float, float, str]:
    """(actors, CPUs per actor, GPUs per actor, device) from the cluster's resources.

    A CPU pool's default size is how many actors the nodes hold at once: run.threads_per_worker CPUs
    and run.worker_memory_mib of Ray's memory each, per node (Ray's memory resource is what a node
    has beside its object store). One worker per CPU does not oversubscribe a node's CPUs: the
    driver and Ray's own processes use about 0.05 of a core while workers work
    (docs/benchmarks.md); memory is what runs out first on a node with many cores.
    """
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    threads = config.run.threads_per_worker
    use_gpu = config.run.device == "cuda" or (config.run.device == "auto" and gpus > 0)
    if use_gpu:
        workers = config.run.workers or max(gpus, 1)
        # Ray packs fractional GPUs within one device, so the share must divide 1: 3 actors on
        # 2 GPUs get 1/2 each (2 per GPU), never 2/3 (which leaves one actor unschedulable).
        return workers, threads, 1 / math.ceil(workers / gpus) if gpus else 0, "cuda"
    if config.run.workers:
        return config.run.workers, threads, 0, "cpu"
    fit = actors_that_fit(threads, 0, _alive_nodes() if nodes is None else nodes, worker_memory(config))
    return max(fit, 1), threads, 0, "cpu"


def worker_memory(config: ReleaseConfig) -> int:
    """Bytes of Ray's memory resource each actor reserves (0: none)."""
    return (config.run.worker_memory_mib or 0) * 2**20


def actors_that_fit(cpus: float, gpus: float, nodes: list[dict[str, float]], memory: float = 0) -> int:
    """How many actors of ``cpus`` CPUs, ``gpus`` GPUs and ``memory`` bytes of Ray's memory resource
    the nodes hold at once, all resources free."""
    total = 0
    for node in nodes:
        fits = math.floor(node.get("CPU", 0) / cpus + 1e-9) if cpus else 1 << 30
        if gpus:  # 1/3 GPU: 1 / (1/3) is 2.9999999999999996 in floats
            fits = min(fits, math.floor(node.get("GPU", 0) / gpus + 1e-9))
        if memory and "memory" in node:
            fits = min(fits, math.floor(node["memory"] / memory))
        total += fits
    return total


def check_placement(config: ReleaseConfig, workers: int, cpus: float, gpus: float,
                    nodes: list[dict[str, float]], memory: float = 0) -> str | None:
    """Refuse a pool no node can hold (WorkersCannotStart); return a warning when only part of it
    fits the cluster, None when all of it does. ``nodes``: the resources of the cluster's nodes;
    ``memory``: bytes of Ray's memory resource per actor."""
    fit = actors_that_fit(cpus, gpus, nodes, memory)
    total_cpus = sum(n.get("CPU", 0) for n in nodes)
    largest = max((n.get("CPU", 0) for n in nodes), default=0)
    ask = f"{cpus:g} CPU(s)" + (f" and {gpus:g} GPU" if gpus else "") + (
        f" and {memory / 2**20:g} MiB of memory (run.worker_memory_mib)" if memory else "")
    if fit == 0:
        if largest < cpus:
            raise WorkersCannotStart(
                f"a worker needs {cpus:g} CPU(s) (run.threads_per_worker={config.run.threads_per_worker}), but "
                f"the largest node of the cluster has {largest:g} ({total_cpus:g} CPUs in all); lower "
                f"run.threads_per_worker")
        total_gpus = sum(n.get("GPU", 0) for n in nodes)
        most_memory = max((n.get("memory", 0) for n in nodes), default=0)
        raise WorkersCannotStart(
            f"a worker needs {ask}, but no node of the cluster has that much ({total_cpus:g} CPUs and "
            f"{total_gpus:g} GPUs in all, at most {most_memory / 2**20:.0f} MiB of memory on a node); lower "
            f"run.threads_per_worker, run.worker_memory_mib or run.workers, or set run.device")
    if fit < workers:
        return (f"run.workers={workers} asks for {workers} workers of {ask} each, but the cluster "
                f"({total_cpus:g} CPUs) holds {fit} at a time: {fit} start, the others only if resources "
                f"free up")
    return None


def _alive_nodes() -> list[dict[str, float]]:
    return [node["Resources"] for node in ray.nodes() if node.get("Alive")]


def _free_now() -> str:
    free = ray.available_resources()
    total = ray.cluster_resources()
    return f"{free.get('CPU', 0):g} of the cluster's {total.get('CPU', 0):g} CPUs free now"


def run_units(config: ReleaseConfig, units: list[WorkUnit], *, address: str | None,
              progress: bool) -> PoolResult:
    """Run ``units`` to completion and return what they published. Raises JobFailed after
    ``run.max_unit_failures`` failures of one unit, WorkersCannotStart when no worker can start."""
    began = time.monotonic()
    _connect(address)
    workers, cpus, gpus, device = _pool_shape(config)
    workers = min(workers, len(units))
    memory = worker_memory(config) if device == "cpu" else 0
    warning = check_placement(config, workers, cpus, gpus, _alive_nodes(), memory)
    if warning:
        log.warning("%s", warning)
    config_json = config.model_dump(mode="json")
    actors = [ShardActor.options(num_cpus=cpus, num_gpus=gpus, memory=memory or None).remote(config_json, device)
              for _ in range(workers)]
    result = PoolResult(device=device)
    bar = tqdm(total=len(units), unit="unit", desc="corrupting", disable=not progress, dynamic_ncols=True)
    try:
        _Pool(config, actors, bar, result, began).run(units)
    finally:
        bar.close()
        for actor in actors:
            ray.kill(actor, no_restart=True)
    return result


class _Pool:
    """The dispatch loop: units to started, idle actors; retries; the start timeout."""

    def __init__(self, config: ReleaseConfig, actors: list[Any], bar: tqdm, result: PoolResult,
                 began: float) -> None:
        self.config, self.bar, self.result, self.began = config, bar, result, began
        self.timeout = config.run.start_timeout_s
        self.starting = {actor.device.remote(): actor for actor in actors}  # readiness -> actor
        self.recovering: dict[Any, Any] = {}  # ping -> actor: a failed actor is reused once it answers
        self.running: dict[Any, tuple[Any, WorkUnit]] = {}
        self.idle: list[Any] = []
        self.alive = set(actors)
        self.started: set[Any] = set()
        self.failures: dict[str, int] = {}

    def run(self, units: list[WorkUnit]) -> None:
        queue = list(units)
        began = last_event = time.monotonic()
        warned = False
        while queue or self.running:
            while queue and self.idle:
                actor, unit = self.idle.pop(), queue.pop(0)
                self.running[actor.run.remote(unit)] = (actor, unit)
            now = time.monotonic()
            if not self.running:  # nothing is working: wait for a worker, but not forever
                wait_s: float | None = max(last_event + self.timeout - now, 0)
            elif self.starting and not warned:
                wait_s = max(began + self.timeout - now, 0)
            else:
                wait_s = None
            ready, _ = ray.wait([*self.running, *self.starting, *self.recovering], num_returns=1, timeout=wait_s)
            if not ready:
                if not self.running:
                    raise WorkersCannotStart(self._no_worker_message())
                log.warning("%d of %d worker(s) have not started after %gs (%s); the job runs on the %d "
                            "that did", len(self.starting), len(self.alive), self.timeout, _free_now(),
                            len(self.started))
                warned = True
                continue
            last_event = time.monotonic()
            ref = ready[0]
            if ref in self.starting or ref in self.recovering:
                self._answered(ref)
            else:
                retry = self._finished(ref)
                if retry is not None:
                    queue.insert(0, retry)

    def _no_worker_message(self) -> str:
        cpus = self.config.run.threads_per_worker
        return (f"no worker started within run.start_timeout_s={self.timeout:g}s: each asks for {cpus} CPU(s) "
                f"(run.threads_per_worker) and {_free_now()} (another job may hold them); free them, lower "
                f"run.workers / run.threads_per_worker, or raise run.start_timeout_s")

    def _answered(self, ref: Any) -> None:
        """A starting or recovering actor answered its ping: ready, dead for good, or still restarting."""
        actor = self.starting.pop(ref) if ref in self.starting else self.recovering.pop(ref)
        try:
            ray.get(ref)
        except ActorDiedError as exc:  # will not come back (e.g. its set-up raises)
            self.alive.discard(actor)
            if not self.alive:
                raise JobFailed(f"every worker died; last error: {_short(exc)}. Completed units are kept: "
                                f"rerun the same command to resume.") from None
            return
        except RayError:
            self.recovering[actor.device.remote()] = actor  # still restarting: ask again
            return
        if not self.started:
            self.result.startup_seconds = time.monotonic() - self.began
        self.started.add(actor)
        self.result.workers = len(self.started)
        self.idle.append(actor)

    def _finished(self, ref: Any) -> WorkUnit | None:
        """A unit came back: record it, or return it for a retry."""
        actor, unit = self.running.pop(ref)
        try:
            report: UnitReport = ray.get(ref)
        except (RayActorError, RayTaskError, RayError) as exc:
            self.failures[unit.unit_id] = self.failures.get(unit.unit_id, 0) + 1
            # An unreadable shard or a storage refusal fails the same way every time: stop now.
            permanent = (isinstance(exc, (ShardReadError, StorageError))
                         and not isinstance(exc, TransientStorageError))
            if permanent or self.failures[unit.unit_id] >= self.config.run.max_unit_failures:
                raise JobFailed(
                    f"work unit {unit.unit_id} (input {unit.source}) failed {self.failures[unit.unit_id]} "
                    f"time(s); last error: {_short(exc)}. Completed units are kept: rerun the same command "
                    f"to resume.") from None
            log.warning("unit %s failed (%s); retrying", unit.unit_id, _short(exc))
            if isinstance(exc, RayTaskError):
                self.idle.append(actor)  # the actor itself is fine; the task raised
            else:
                self.recovering[actor.device.remote()] = actor  # Ray restarts it (max_restarts=-1)
            return unit
        for receipt in report.receipts:
            self.result.receipts[receipt["path"]] = receipt
        self.result.images += report.images
        self.result.peak_worker_rss_bytes = max(self.result.peak_worker_rss_bytes, report.peak_rss_bytes)
        self.bar.update(1)
        self.bar.set_postfix(images=self.result.images)
        self.idle.append(actor)
        return None


def _short(exc: BaseException) -> str:
    """The last line of an error, without the user info of any URL in it (an endpoint's password)."""
    text = str(exc).strip().splitlines()
    return redact_urls(text[-1] if text else type(exc).__name__)
