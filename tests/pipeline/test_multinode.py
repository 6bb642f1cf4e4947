"""Several Ray nodes on one machine (ray.cluster_utils.Cluster, all on 127.0.0.1): a head without
GPUs and nodes with one *logical* GPU each, so GPU scheduling is tested without a GPU. Workers are
placed on GPU slots and compute on the CPU (run.device=cpu-on-gpu-slots); an actor given CUDA where
there is none fails at start, naming the node. One cluster for the module (starting one is slow): a
fresh driver process runs every scenario in turn (tests/pipeline/cluster_scenarios.py) and the tests
read what it saw."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from corrupter.pipeline.ray_pool import GPU_SLOTS_ON_CPU
from tests.conftest import RAY_TEST_ENV, REPO
from tests.pipeline.releases import build_release, small_config
from tests.sampleshards import write_repeated_shard

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def release_config(inputs: Path, out: Path, device: str):
    """Enough units (4 shards x 12 variants) that a node can leave while the job runs."""
    inputs.mkdir(parents=True, exist_ok=True)
    shards = []
    for i in range(4):
        shards.append(inputs / f"val-{i:06d}.tar")
        if not shards[-1].exists():
            write_repeated_shard(shards[-1], 6)
    return small_config(out, shards, corruptions=[{"name": "clean"}, {"name": "contrast"}, {"name": "fog"},
                                                  {"name": "low_pass", "severities": [1]}],
                        run={"variants_per_unit": 1, "batch_size": 8, "device": device})


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("multinode")
    config = release_config(work / "in", work / "cluster", GPU_SLOTS_ON_CPU)
    # Ray's sockets and its ray_current_cluster file go in a short private temp dir, not /tmp/ray
    ray_tmp = tempfile.mkdtemp(prefix="rmn", dir="/tmp")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.pipeline.cluster_scenarios", json.dumps(config.model_dump(mode="json"))],
            cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, **RAY_TEST_ENV, "RAY_TMPDIR": ray_tmp, "TMPDIR": ray_tmp})
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), config, work


def test_one_worker_per_gpu_each_holding_a_whole_gpu_on_the_gpu_nodes(cluster_run):
    seen = cluster_run[0]["per_gpu"]
    assert seen["workers"] == 2
    assert seen["built_per_node"] == {"g1": 1, "g2": 1}  # spread over the GPU nodes, none on the head
    assert seen["working_per_node"] == {"g1": 1, "g2": 1}
    assert seen["gpu_shares"] == [1.0] and seen["gpu_ids"] == [1]
    assert seen["devices"] == ["cpu"]  # placed on GPUs, built for the CPU


def test_more_workers_than_gpus_share_each_gpu_equally(cluster_run):
    seen = cluster_run[0]["shared"]
    assert seen["workers"] == 4
    assert seen["built_per_node"] == {"g1": 2, "g2": 2}
    assert seen["gpu_shares"] == [0.5] and seen["devices"] == ["cpu"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the logical GPUs would be real")
def test_cuda_on_a_node_without_cuda_fails_at_start_naming_the_node_and_setting(cluster_run):
    message = cluster_run[0]["cuda_without_cuda"]
    assert message != "ran"  # never silently on the CPU
    assert "every worker died" in message
    assert "device=auto (the cluster has 2 GPUs) gives this worker CUDA" in message
    assert "node 127.0.0.1 (Ray node id" in message and "no CUDA device torch can use" in message
    assert GPU_SLOTS_ON_CPU in message  # the way out for logical GPUs


def test_a_node_that_joins_mid_job_gets_a_worker_and_units(cluster_run):
    seen = cluster_run[0]["joined"]
    assert seen["units"] == 12 and seen["workers"] == 3
    assert seen["built_per_node"] == {"g1": 1, "g2": 1, "g3": 1}
    assert seen["working_per_node"] == {"g1": 1, "g2": 1, "g3": 1}  # the joined node did units
    assert seen["gpu_shares"] == [1.0]


def test_a_node_killed_mid_job_the_release_completes_byte_identical_to_a_one_worker_local_run(cluster_run):
    seen, config, work = cluster_run
    removed = seen["removed"]
    assert removed["before_commit"] is True  # the node left while units were still running
    assert removed["units"] == 4 * 12 and removed["workers"] >= 2 and removed["device"] == "cpu"
    # one worker, no Ray, with the metadata files `corrupter run` writes
    local = build_release(release_config(work / "in", work / "local", "cpu"), with_metadata=True)
    clustered = Path(work / "cluster" / config.name / config.version)
    files = sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(clustered) for p in clustered.rglob("*") if p.is_file())
    assert sum(1 for rel in files if rel.suffix == ".tar") == 4 * 12 and Path("manifest.json") in files
    for rel in files:
        if rel.name != "manifest.json":
            assert (local / rel).read_bytes() == (clustered / rel).read_bytes(), rel
    manifests = [json.loads((root / "manifest.json").read_bytes()) for root in (local, clustered)]
    for manifest in manifests:
        manifest.pop("created")  # the one field that says when, not what
    assert manifests[0] == manifests[1] and manifests[1]["device_type"] == "cpu"
