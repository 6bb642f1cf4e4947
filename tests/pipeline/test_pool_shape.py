"""How many actors, and on what device, from the cluster's resources (no cluster needed)."""

import pytest

from corrupter.config import load_config
from corrupter.pipeline import ray_pool
from tests.conftest import REPO

GIB = 2.0 ** 30

def options(sets: list[str]) -> ray_pool.PoolOptions:
    return ray_pool.PoolOptions.from_run(load_config(REPO / "configs" / "demo.yaml", sets).run, label="corrupting")


@pytest.mark.parametrize("resources, sets, expected", [
    ({"CPU": 8.0}, [], (8, 1, 0, "cpu")),
    ({"CPU": 8.0}, ["run.threads_per_worker=2"], (4, 2, 0, "cpu")),
    ({"CPU": 16.0, "GPU": 2.0}, [], (2, 1, 1.0, "cuda")),           # one actor per GPU
    ({"CPU": 16.0, "GPU": 2.0}, ["run.workers=4"], (4, 1, 0.5, "cuda")),  # GPUs shared
    ({"CPU": 16.0, "GPU": 2.0}, ["run.device=cpu"], (16, 1, 0, "cpu")),
    # Memory beside the object store, 1 GiB per worker by default: 64 cores, 40 GiB -> 40 workers
    ({"CPU": 64.0, "memory": 40 * GIB}, [], (40, 1, 0, "cpu")),
    ({"CPU": 64.0, "memory": 40 * GIB}, ["run.worker_memory_mib=512"], (64, 1, 0, "cpu")),
    ({"CPU": 64.0, "memory": 40 * GIB}, ["run.worker_memory_mib=null"], (64, 1, 0, "cpu")),
    ({"CPU": 64.0, "memory": 40 * GIB}, ["run.workers=50"], (50, 1, 0, "cpu")),  # asked for: kept
    ({"CPU": 2.0, "memory": 0.5 * GIB}, [], (1, 1, 0, "cpu")),      # never below one
])
def test_pool_size_from_cpus_gpus_and_memory(monkeypatch, resources, sets, expected):
    monkeypatch.setattr(ray_pool.ray, "cluster_resources", lambda: resources)
    assert ray_pool._pool_shape(options(sets), [resources]) == expected


def test_the_default_pool_counts_each_nodes_memory_not_the_sum(monkeypatch):
    nodes = [{"CPU": 8.0, "memory": 2.5 * GIB}, {"CPU": 8.0, "memory": 16 * GIB}]
    monkeypatch.setattr(ray_pool.ray, "cluster_resources", lambda: {"CPU": 16.0, "memory": 18.5 * GIB})
    assert ray_pool._pool_shape(options([]), nodes)[0] == 2 + 8


@pytest.mark.parametrize("cpus, gpus, nodes, expected", [
    (1, 0, [{"CPU": 2.0}], 2),
    (64, 0, [{"CPU": 2.0}], 0),
    (2, 0, [{"CPU": 3.0}, {"CPU": 4.0}], 3),       # per node: 1 + 2, not 7 // 2
    (1, 1 / 3, [{"CPU": 16.0, "GPU": 1.0}], 3),    # 1 / (1/3) is 2.9999999999999996 in floats
    (1, 0.5, [{"CPU": 16.0, "GPU": 2.0}, {"CPU": 8.0}], 4),
    (4, 1.0, [{"CPU": 2.0, "GPU": 1.0}], 0),
])
def test_actors_that_fit_count_per_node(cpus, gpus, nodes, expected):
    assert ray_pool.actors_that_fit(cpus, gpus, nodes) == expected


def test_a_pool_whose_memory_no_node_has_is_refused_naming_the_field():
    pool = options(["run.workers=2"])
    with pytest.raises(ray_pool.WorkersCannotStart, match="run.worker_memory_mib"):
        ray_pool.check_placement(pool, 2, 1, 0, [{"CPU": 2.0, "memory": 0.5 * GIB}], GIB)
    warning = ray_pool.check_placement(pool, 2, 1, 0, [{"CPU": 2.0, "memory": 1.5 * GIB}], GIB)
    assert "holds 1 at a time" in warning and "1024 MiB of memory" in warning


def test_a_pool_no_node_can_hold_is_refused_naming_the_field_and_the_cpus():
    with pytest.raises(ray_pool.WorkersCannotStart) as info:
        ray_pool.check_placement(options(["run.threads_per_worker=64"]), 1, 64, 0, [{"CPU": 2.0}])
    message = str(info.value)
    assert "run.threads_per_worker=64" in message and "largest node of the cluster has 2" in message


def test_a_pool_larger_than_the_cluster_is_reported():
    pool = options(["run.workers=4"])
    warning = ray_pool.check_placement(pool, 4, 1, 0, [{"CPU": 2.0}])
    assert "run.workers=4" in warning and "holds 2 at a time" in warning and "(2 CPUs)" in warning
    assert ray_pool.check_placement(pool, 2, 1, 0, [{"CPU": 2.0}]) is None
