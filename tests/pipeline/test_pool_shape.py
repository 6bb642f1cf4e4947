"""How many actors, and on what device, from the cluster's resources (no cluster needed)."""

import pytest

from corrupter.config import load_config
from corrupter.pipeline import ray_pool
from tests.conftest import REPO


def options(sets: list[str]) -> ray_pool.PoolOptions:
    return ray_pool.PoolOptions.from_run(load_config(REPO / "configs" / "demo.yaml", sets).run, label="corrupting")


@pytest.mark.parametrize("resources, sets, expected", [
    ({"CPU": 8.0}, [], (8, 1, 0, "cpu")),
    ({"CPU": 8.0}, ["run.threads_per_worker=2"], (4, 2, 0, "cpu")),
    ({"CPU": 16.0, "GPU": 2.0}, [], (2, 1, 1.0, "cuda")),           # one actor per GPU
    ({"CPU": 16.0, "GPU": 2.0}, ["run.workers=4"], (4, 1, 0.5, "cuda")),  # GPUs shared
    ({"CPU": 16.0, "GPU": 2.0}, ["run.device=cpu"], (16, 1, 0, "cpu")),
])
def test_actors_request_gpus_when_the_cluster_has_them(monkeypatch, resources, sets, expected):
    monkeypatch.setattr(ray_pool.ray, "cluster_resources", lambda: resources)
    assert ray_pool._pool_shape(options(sets)) == expected


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
