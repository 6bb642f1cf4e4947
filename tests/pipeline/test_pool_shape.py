"""How many actors, and on what device, from the cluster's resources (no cluster needed)."""

import pytest

from corrupter.config import load_config
from corrupter.pipeline import ray_pool
from tests.conftest import REPO


@pytest.mark.parametrize("resources, sets, expected", [
    ({"CPU": 8.0}, [], (8, 1, 0, "cpu")),
    ({"CPU": 8.0}, ["run.threads_per_worker=2"], (4, 2, 0, "cpu")),
    ({"CPU": 16.0, "GPU": 2.0}, [], (2, 1, 1.0, "cuda")),           # one actor per GPU
    ({"CPU": 16.0, "GPU": 2.0}, ["run.workers=4"], (4, 1, 0.5, "cuda")),  # GPUs shared
    ({"CPU": 16.0, "GPU": 2.0}, ["run.device=cpu"], (16, 1, 0, "cpu")),
])
def test_actors_request_gpus_when_the_cluster_has_them(monkeypatch, resources, sets, expected):
    monkeypatch.setattr(ray_pool.ray, "cluster_resources", lambda: resources)
    config = load_config(REPO / "configs" / "demo.yaml", sets)
    assert ray_pool._pool_shape(config) == expected
