"""ONE pool of Ray actors for every kind of work unit (building a shard, evaluating a shard).

How to use it:

    spec = WorkerSpec("corrupter.pipeline.worker:ShardWorker", args=(config,))
    result = run_units(spec, units, PoolOptions.from_run(config.run, label="corrupting"),
                       address=None, progress=True, describe=lambda u: f"work unit {u.unit_id}")
    result.reports    # {unit_id: report}, in the order units finished

- A worker is a plain class (no Ray), built once per actor as ``cls(*args, device=DEVICE, **kwargs)``
  (DEVICE: "cpu" or "cuda", as the pool decides from the cluster and ``PoolOptions.device``); each
  unit runs as ``worker.run(unit) -> report``. Its set-up (assets, a model) happens once per actor.
- Devices (``PoolOptions.device``): ``auto`` is one actor per GPU where the cluster has GPUs (more
  with ``workers``: each then holds an equal share of one GPU), else a CPU pool; ``cuda`` and ``cpu``
  force either. ``cpu-on-gpu-slots`` (GPU_SLOTS_ON_CPU) places the pool exactly as ``cuda`` would
  (one actor per GPU, GPU shares) but builds the workers on the CPU: it tests GPU scheduling on
  nodes whose GPUs are logical (``ray start --num-gpus 1``, ray.cluster_utils) and never runs a
  kernel on a GPU. An actor given CUDA on a node where torch sees none fails at start, naming the
  node and the setting; it never falls back to the CPU.
- An auto-sized pool (``workers`` unset) looks for nodes that joined every ``rescan_s`` and starts
  actors on them (while units are left); a node that leaves takes its actors' units with it, and
  they are retried on the others (Ray restarts those actors when a node can hold them again).
- A unit has a ``unit_id`` (str, unique) and pickles; a report pickles and stays small (counts,
  checksums, paths: actors read and write data themselves, only descriptions travel). A report with
  an int ``images`` attribute adds to the count on the progress bar. ``on_report(unit, report)``,
  if given, runs in the calling process as each unit finishes (to record progress as it comes).
- A unit that raises is retried (on the same actor if it lives, else once Ray restarted it), up to
  ``max_unit_failures`` in all; an error that fails the same way every time (ShardReadError, a
  StorageError that is not transient: a missing or tampered shard, an access refusal; the caller's
  ``PoolOptions.permanent_errors``, e.g. a model whose output has the wrong shape) stops the job
  at once. Either way JobFailed, naming the unit (``describe``) and its last error.
- Units go only to actors that have started: an actor the cluster cannot place stays pending in Ray
  forever, so a unit sent to it would never come back. A pool that no node can hold is refused
  before any actor is created (WorkersCannotStart); a pool larger than the cluster runs on the actors
  that start (and says so); a pool none of whose actors starts within ``start_timeout_s`` fails with
  the cluster's resources. Messages name the settings as ``PoolOptions.names`` says (``run.workers``
  for the builder, ``--workers`` for a command-line flag).
"""

from __future__ import annotations

import importlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import ActorDiedError, RayActorError, RayError, RayTaskError
from tqdm import tqdm

from ..io.errors import StorageError, TransientStorageError
from ..io.redact import redact_urls
from ..io.shards import ShardReadError
from .errors import JobFailed, WorkerDeviceUnavailable, WorkersCannotStart
from .loopback import cluster_address

log = logging.getLogger(__name__)

# Errors that come back the same on every try: retrying them only delays the message.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (ShardReadError, StorageError)
RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (TransientStorageError,)

# PoolOptions.device: place the pool on GPUs as "cuda" would, compute on the CPU (see the docstring)
GPU_SLOTS_ON_CPU = "cpu-on-gpu-slots"
DEVICES = ("auto", "cpu", "cuda", GPU_SLOTS_ON_CPU)


@dataclass(frozen=True)
class WorkerSpec:
    """How an actor builds its worker: ``factory`` is ``"package.module:Class"`` (or any callable's
    import path), called as ``factory(*args, device=device, **kwargs)``; args and kwargs pickle."""

    factory: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def build(self, device: str) -> Any:
        module, _, name = self.factory.partition(":")
        if not module or not name:
            raise ValueError(f"worker factory {self.factory!r} is not 'package.module:Name'")
        return getattr(importlib.import_module(module), name)(*self.args, device=device, **dict(self.kwargs))


@dataclass(frozen=True)
class PoolOptions:
    """The pool's shape and patience. ``names``: how messages name each setting (field -> name)."""

    workers: int | None = None  # None: one per GPU on GPUs, else as many as each node's CPUs and memory hold
    threads_per_worker: int = 1  # CPUs (torch threads) per actor
    worker_memory_mib: int | None = None  # Ray's memory resource reserved per CPU actor (None: none)
    device: str = "auto"  # one of DEVICES: auto (cuda when the cluster has GPUs), cpu, cuda, GPU_SLOTS_ON_CPU
    start_timeout_s: float = 300
    rescan_s: float = 5.0  # how often an auto-sized pool looks for nodes that joined
    max_unit_failures: int = 3
    label: str = "units"  # the progress bar's
    permanent_errors: tuple[type[BaseException], ...] = ()  # the caller's errors that fail the same every try
    names: Mapping[str, str] = field(default_factory=dict)

    def name(self, setting: str) -> str:
        return self.names.get(setting, setting)

    @classmethod
    def from_run(cls, run: Any, label: str) -> PoolOptions:
        """From a config's ``run`` section (RunConfig); messages say ``run.workers`` and so on."""
        fields = ("workers", "threads_per_worker", "worker_memory_mib", "device", "start_timeout_s",
                  "max_unit_failures")
        return cls(**{f: getattr(run, f) for f in fields}, label=label, names={f: f"run.{f}" for f in fields})


@ray.remote(max_restarts=-1, max_task_retries=0)
class UnitActor:
    """A Ray actor around one worker: built once, then many units."""

    def __init__(self, spec: WorkerSpec, device: str, setting: str) -> None:
        if device == "cuda":
            check_cuda_here(setting)
        self.worker, self.device = spec.build(device), device

    def run(self, unit: Any) -> Any:
        return self.worker.run(unit)

    def ready(self) -> str:
        return self.device


def check_cuda_here(setting: str) -> None:
    """In an actor given CUDA: fail at start, naming this node and ``setting``, where torch sees no
    CUDA device (a node with logical GPUs only, a CPU build of torch); never compute on the CPU instead."""
    import os

    import torch

    if torch.cuda.is_available():
        return
    context = ray.get_runtime_context()
    node = next((n for n in ray.nodes() if n.get("NodeID") == context.get_node_id()), {})
    raise WorkerDeviceUnavailable(
        f"{setting} gives this worker CUDA, but node {node.get('NodeManagerAddress', '?')} (Ray node id "
        f"{context.get_node_id()[:12]}) has no CUDA device torch can use (torch {torch.__version__}, "
        f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); install a CUDA build of torch "
        f"and the driver there, or choose the device: cpu, or {GPU_SLOTS_ON_CPU} to place workers on the "
        f"GPUs and compute on the CPU")


@dataclass
class PoolResult:
    """What the pool did: every unit's report, by unit_id in the order they finished, and its shape."""

    reports: dict[str, Any] = field(default_factory=dict)
    workers: int = 0  # actors that started
    device: str = "cpu"
    images: int = 0  # the reports' ``images``, summed
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


def _pool_shape(options: PoolOptions, nodes: list[dict[str, float]] | None = None) -> tuple[int, float, float, str]:
    """(actors, CPUs per actor, GPUs per actor, device) from the cluster's resources.

    A CPU pool's default size is how many actors the nodes hold at once: ``threads_per_worker`` CPUs
    and ``worker_memory_mib`` of Ray's memory each, per node (Ray's memory resource is what a node
    has beside its object store). One worker per CPU does not oversubscribe a node's CPUs: the
    driver and Ray's own processes use about 0.05 of a core while workers work
    (docs/benchmarks.md); memory is what runs out first on a node with many cores.
    """
    if options.device not in DEVICES:
        raise WorkersCannotStart(f"{options.name('device')}={options.device!r} is not one of {', '.join(DEVICES)}")
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    threads = options.threads_per_worker
    use_gpu = options.device in ("cuda", GPU_SLOTS_ON_CPU) or (options.device == "auto" and gpus > 0)
    if options.device == GPU_SLOTS_ON_CPU and not gpus:
        raise WorkersCannotStart(f"{options.name('device')}={GPU_SLOTS_ON_CPU} places workers on GPUs, but the "
                                 f"cluster has none (logical ones do: ray start --num-gpus 1)")
    if use_gpu:
        workers = options.workers or max(gpus, 1)
        # Ray packs fractional GPUs within one device, so the share must divide 1: 3 actors on
        # 2 GPUs get 1/2 each (2 per GPU), never 2/3 (which leaves one actor unschedulable).
        device = "cpu" if options.device == GPU_SLOTS_ON_CPU else "cuda"
        return workers, threads, 1 / math.ceil(workers / gpus) if gpus else 0, device
    if options.workers:
        return options.workers, threads, 0, "cpu"
    fit = actors_that_fit(threads, 0, _alive_nodes() if nodes is None else nodes, worker_memory(options))
    return max(fit, 1), threads, 0, "cpu"


def worker_memory(options: PoolOptions) -> int:
    """Bytes of Ray's memory resource each CPU actor reserves (0: none)."""
    return (options.worker_memory_mib or 0) * 2**20


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


def check_placement(options: PoolOptions, workers: int, cpus: float, gpus: float,
                    nodes: list[dict[str, float]], memory: float = 0) -> str | None:
    """Refuse a pool no node can hold (WorkersCannotStart); return a warning when only part of it
    fits the cluster, None when all of it does. ``nodes``: the resources of the cluster's nodes;
    ``memory``: bytes of Ray's memory resource per actor."""
    fit = actors_that_fit(cpus, gpus, nodes, memory)
    total_cpus = sum(n.get("CPU", 0) for n in nodes)
    largest = max((n.get("CPU", 0) for n in nodes), default=0)
    threads, workers_name = options.name("threads_per_worker"), options.name("workers")
    memory_name = options.name("worker_memory_mib")
    ask = f"{cpus:g} CPU(s)" + (f" and {gpus:g} GPU" if gpus else "") + (
        f" and {memory / 2**20:g} MiB of memory ({memory_name})" if memory else "")
    if fit == 0:
        if largest < cpus:
            raise WorkersCannotStart(
                f"a worker needs {cpus:g} CPU(s) ({threads}={options.threads_per_worker}), but "
                f"the largest node of the cluster has {largest:g} ({total_cpus:g} CPUs in all); lower {threads}")
        total_gpus = sum(n.get("GPU", 0) for n in nodes)
        most_memory = max((n.get("memory", 0) for n in nodes), default=0)
        raise WorkersCannotStart(
            f"a worker needs {ask}, but no node of the cluster has that much ({total_cpus:g} CPUs and "
            f"{total_gpus:g} GPUs in all, at most {most_memory / 2**20:.0f} MiB of memory on a node); lower "
            f"{threads}, {memory_name} or {workers_name}, or set {options.name('device')}")
    if fit < workers:
        return (f"{workers_name}={workers} asks for {workers} workers of {ask} each, but the cluster "
                f"({total_cpus:g} CPUs) holds {fit} at a time: {fit} start, the others only if resources "
                f"free up")
    return None


def _alive_nodes() -> list[dict[str, float]]:
    return [node["Resources"] for node in ray.nodes() if node.get("Alive")]


def _free_now() -> str:
    free = ray.available_resources()
    total = ray.cluster_resources()
    return f"{free.get('CPU', 0):g} of the cluster's {total.get('CPU', 0):g} CPUs free now"


def run_units(spec: WorkerSpec, units: Sequence[Any], options: PoolOptions, *, address: str | None,
              progress: bool, describe: Callable[[Any], str] | None = None,
              on_report: Callable[[Any, Any], None] | None = None) -> PoolResult:
    """Run ``units`` to completion on a pool of actors built from ``spec``; return every report.
    Raises JobFailed after ``max_unit_failures`` failures of one unit (or one permanent failure),
    WorkersCannotStart when no worker can start."""
    began = time.monotonic()
    _connect(address)
    shape = _pool_shape(options)
    workers, cpus, gpus, device = shape
    workers = min(workers, len(units))
    result = PoolResult(device=device)
    if not units:
        return result
    memory = worker_memory(options) if not gpus else 0
    warning = check_placement(options, workers, cpus, gpus, _alive_nodes(), memory)
    if warning:
        log.warning("%s", warning)
    setting = f"{options.name('device')}={options.device}" + (
        f" (the cluster has {ray.cluster_resources().get('GPU', 0):g} GPUs)" if options.device == "auto" else "")

    def new_actor() -> Any:
        return UnitActor.options(num_cpus=cpus, num_gpus=gpus, memory=memory or None).remote(spec, device, setting)

    def wanted() -> int:
        """Actors the cluster holds now, if the pool may grow (auto-sized, same shape), else 0."""
        if options.workers:
            return 0
        now = _pool_shape(options)
        return now[0] if now[1:] == shape[1:] else 0

    bar = tqdm(total=len(units), unit="unit", desc=options.label, disable=not progress, dynamic_ncols=True)
    pool = _Pool(options, [new_actor() for _ in range(workers)], bar, result,
                 describe or (lambda u: f"work unit {u.unit_id}"), on_report, began)
    try:
        pool.run(units, grow=(new_actor, wanted))
    finally:
        bar.close()
        for actor in pool.actors:
            ray.kill(actor, no_restart=True)
    return result


class _Pool:
    """The dispatch loop: units to started, idle actors; retries; the start timeout."""

    def __init__(self, options: PoolOptions, actors: list[Any], bar: tqdm, result: PoolResult,
                 describe: Callable[[Any], str], on_report: Callable[[Any, Any], None] | None,
                 began: float) -> None:
        self.options, self.bar, self.result, self.began = options, bar, result, began
        self.describe, self.on_report = describe, on_report
        self.timeout = options.start_timeout_s
        self.actors = list(actors)  # every actor made (killed at the end)
        self.starting: dict[Any, Any] = {}  # readiness -> actor
        self.asked: dict[Any, float] = {}  # readiness -> when the actor was made
        for actor in actors:
            self._starting(actor)
        self.recovering: dict[Any, Any] = {}  # ping -> actor: a failed actor is reused once it answers
        self.running: dict[Any, tuple[Any, Any]] = {}
        self.idle: list[Any] = []
        self.alive = set(actors)
        self.started: set[Any] = set()
        self.failures: dict[str, int] = {}
        self.died_at_start = False

    def _starting(self, actor: Any) -> None:
        ref = actor.ready.remote()
        self.starting[ref], self.asked[ref] = actor, time.monotonic()

    def _grow(self, left: int, grow: tuple[Callable[[], Any], Callable[[], int]] | None) -> None:
        """Start actors on nodes that joined: as many as the cluster now holds, at most one per unit left.
        Never after a worker died at start (its replacement could die the same way, again and again)."""
        if grow is None or self.died_at_start:
            return
        new_actor, wanted = grow
        more = min(wanted(), left) - len(self.alive)
        if more > 0:
            log.info("the cluster grew: %d more worker(s)", more)
        for _ in range(max(more, 0)):
            actor = new_actor()
            self.actors.append(actor)
            self.alive.add(actor)
            self._starting(actor)

    def run(self, units: Sequence[Any], grow: tuple[Callable[[], Any], Callable[[], int]] | None = None) -> None:
        """Every unit to completion. ``grow``: (make an actor, how many actors the cluster holds now),
        asked every ``rescan_s``; None: the pool keeps its size."""
        queue = list(units)
        last_event = next_scan = time.monotonic()
        warned = False
        while queue or self.running:
            while queue and self.idle:
                actor, unit = self.idle.pop(), queue.pop(0)
                self.running[actor.run.remote(unit)] = (actor, unit)
            now = time.monotonic()
            if grow is not None and now >= next_scan:
                self._grow(len(queue) + len(self.running), grow)
                next_scan = now + self.options.rescan_s
            deadlines = [next_scan] if grow is not None else []
            if not self.running:  # nothing is working: wait for a worker, but not forever
                deadlines.append(last_event + self.timeout)
            elif self.starting and not warned:
                deadlines.append(min(self.asked[r] for r in self.starting) + self.timeout)
            wait_s = max(min(deadlines) - now, 0) if deadlines else None
            ready, _ = ray.wait([*self.running, *self.starting, *self.recovering], num_returns=1, timeout=wait_s)
            if not ready:
                now = time.monotonic()
                if not self.running and now >= last_event + self.timeout:
                    raise WorkersCannotStart(self._no_worker_message())
                if self.running and self.starting and not warned and \
                        now >= min(self.asked[r] for r in self.starting) + self.timeout:
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
        o = self.options
        return (f"no worker started within {o.name('start_timeout_s')}={self.timeout:g}s: each asks for "
                f"{o.threads_per_worker} CPU(s) ({o.name('threads_per_worker')}) and {_free_now()} (another job "
                f"may hold them); free them, lower {o.name('workers')} / {o.name('threads_per_worker')}, or "
                f"raise {o.name('start_timeout_s')}")

    def _answered(self, ref: Any) -> None:
        """A starting or recovering actor answered its ping: ready, dead for good, or still restarting."""
        actor = self.starting.pop(ref) if ref in self.starting else self.recovering.pop(ref)
        self.asked.pop(ref, None)
        try:
            ray.get(ref)
        except ActorDiedError as exc:  # will not come back (e.g. its set-up raises)
            self.alive.discard(actor)
            self.died_at_start = True
            log.warning("a worker died at start (%d left): %s", len(self.alive), _short(exc))
            if not self.alive:
                raise JobFailed(f"every worker died; last error: {_short(exc)}. Completed units are kept: "
                                f"rerun the same command to resume.") from None
            return
        except RayError:
            self.recovering[actor.ready.remote()] = actor  # still restarting: ask again
            return
        if not self.started:
            self.result.startup_seconds = time.monotonic() - self.began
        self.started.add(actor)
        self.result.workers = len(self.started)
        self.idle.append(actor)

    def _finished(self, ref: Any) -> Any | None:
        """A unit came back: record it, or return it for a retry."""
        actor, unit = self.running.pop(ref)
        try:
            report = ray.get(ref)
        except (RayActorError, RayTaskError, RayError) as exc:
            self.failures[unit.unit_id] = self.failures.get(unit.unit_id, 0) + 1
            # Ray's task errors are also instances of the error the task raised
            permanent = (isinstance(exc, PERMANENT_ERRORS + self.options.permanent_errors)
                         and not isinstance(exc, RETRYABLE_ERRORS))
            if permanent or self.failures[unit.unit_id] >= self.options.max_unit_failures:
                raise JobFailed(
                    f"{self.describe(unit)} failed {self.failures[unit.unit_id]} time(s); last error: "
                    f"{_short(exc)}. Completed units are kept: rerun the same command to resume.") from None
            log.warning("unit %s failed (%s); retrying", unit.unit_id, _short(exc))
            if isinstance(exc, RayTaskError):
                self.idle.append(actor)  # the actor itself is fine; the task raised
            else:
                self.recovering[actor.ready.remote()] = actor  # Ray restarts it (max_restarts=-1)
            return unit
        self.result.reports[unit.unit_id] = report
        images = getattr(report, "images", None)
        if isinstance(images, int):
            self.result.images += images
            self.bar.set_postfix(images=self.result.images)
        self.bar.update(1)
        self.idle.append(actor)
        if self.on_report is not None:
            self.on_report(unit, report)
        return None


def _short(exc: BaseException) -> str:
    """The last line of an error, without the user info of any URL in it (an endpoint's password)."""
    text = str(exc).strip().splitlines()
    return redact_urls(text[-1] if text else type(exc).__name__)
