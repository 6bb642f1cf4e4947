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
