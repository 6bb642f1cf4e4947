"""A worker of another kind than ShardWorker for the actor pool's tests: the pool runs any worker
class given by import path (pipeline/ray_pool.py). Imported by the actors, so it lives in a module."""

from __future__ import annotations

import os
from dataclasses import dataclass

from corrupter.io.errors import StorageError


@dataclass(frozen=True)
class Square:
    unit_id: str
    value: int


@dataclass(frozen=True)
class Squared:
    unit_id: str
    result: int
    device: str
    pid: int
    images: int = 1


class SquareWorker:
    """Squares a unit's value and adds ``offset`` (set once per actor); a negative value fails for good."""

    def __init__(self, offset: int, *, device: str) -> None:
        self.offset, self.device = offset, device

    def run(self, unit: Square) -> Squared:
        if unit.value < 0:
            raise StorageError(f"unit {unit.unit_id}: negative value {unit.value}")
        return Squared(unit.unit_id, unit.value ** 2 + self.offset, self.device, os.getpid())


@dataclass(frozen=True)
class Where:
    """A unit that first waits (up to two minutes) until ``workers`` workers have been built: a job
    cannot end before its pool has its full shape (a node that joins has its worker)."""

    unit_id: str
    workers: int = 1


@dataclass(frozen=True)
class Placed:
    unit_id: str
    node_id: str
    gpu_ids: tuple[str, ...]  # the GPUs Ray gave the actor (CUDA_VISIBLE_DEVICES)
    gpus: float  # its GPU share
    device: str  # what the pool built the worker for
    pid: int
    images: int = 1


class WhereWorker:
    """Reports where the pool placed it (the node, the GPUs Ray assigned, the device it was built for),
    in each unit's report and, when it is built, in a file of its own under ``folder``."""

    def __init__(self, folder: str, *, device: str) -> None:
        import json

        self.folder, self.device = folder, device
        placed = self._placed("")
        with open(os.path.join(folder, f"{placed.pid}.json"), "w") as f:
            json.dump({"node_id": placed.node_id, "gpu_ids": placed.gpu_ids, "gpus": placed.gpus,
                       "device": placed.device}, f)

    def _placed(self, unit_id: str) -> Placed:
        import ray

        context = ray.get_runtime_context()
        return Placed(unit_id, context.get_node_id(), tuple(context.get_accelerator_ids().get("GPU", [])),
                      context.get_assigned_resources().get("GPU", 0.0), self.device, os.getpid())

    def run(self, unit: Where) -> Placed:
        import time

        waited = 0.0
        while len(os.listdir(self.folder)) < unit.workers and waited < 120:
            time.sleep(0.1)
            waited += 0.1
        return self._placed(unit.unit_id)
