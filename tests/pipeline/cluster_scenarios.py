"""The driver of tests/pipeline/test_multinode.py, run in a fresh process (Ray reads its settings at
import): one ray.cluster_utils.Cluster on 127.0.0.1, a head without GPUs and nodes with one logical
GPU each, then the pool's scenarios in turn; prints one JSON line of what happened.

    python -m tests.pipeline.cluster_scenarios CONFIG_JSON
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from corrupter.config import validate_config
from corrupter.pipeline.driver import run_release
from corrupter.pipeline.errors import JobFailed
from corrupter.pipeline.ray_pool import GPU_SLOTS_ON_CPU, PoolOptions, WorkerSpec, run_units
from corrupter.release.layout import MANIFEST, RECEIPTS, release_storage
from tests.pipeline.poolworkers import Where

GPU_NODE = {"num_cpus": 2, "num_gpus": 1, "object_store_memory": 80 * 2**20}


def where(folder: Path) -> WorkerSpec:
    folder.mkdir(parents=True)
    return WorkerSpec("tests.pipeline.poolworkers:WhereWorker", (str(folder),))


def placements(result, folder: Path) -> dict:
    """Per node id: how many workers were built there and how many of them ran units; their GPU
    shares, GPU ids and devices."""
    built = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    reports = list(result.reports.values())
    return {"workers": result.workers, "units": len(reports),
            "built_per_node": Counter(b["node_id"] for b in built),
            "working_per_node": Counter(node for node, _ in {(r.node_id, r.pid) for r in reports}),
            "gpu_shares": sorted({b["gpus"] for b in built}), "devices": sorted({b["device"] for b in built}),
            "gpu_ids": sorted({len(b["gpu_ids"]) for b in built})}


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def main() -> None:
    config = validate_config(json.loads(sys.argv[1]))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0,
                                                            "object_store_memory": 80 * 2**20})
    gpu_nodes = [cluster.add_node(**GPU_NODE) for _ in range(2)]
    ray.init(address=cluster.address, include_dashboard=False, logging_level="WARNING")
    node_id = {node.node_id: name for node, name in [(cluster.head_node, "head"), (gpu_nodes[0], "g1"),
                                                       (gpu_nodes[1], "g2")]}
    out: dict = {}

    def named(shape: dict) -> dict:
        for key in ("built_per_node", "working_per_node"):
            shape[key] = {node_id.get(n, n): c for n, c in shape[key].items()}
        return shape

    scratch = Path(tempfile.mkdtemp(prefix="where-"))

    log("cluster up")
    # One actor per GPU, each holding a whole GPU, on the GPU nodes; kernels built for the CPU
    out["per_gpu"] = named(placements(run_units(
        where(scratch / "per_gpu"), [Where(f"u{i}", 2) for i in range(4)], PoolOptions(device=GPU_SLOTS_ON_CPU),
        address=cluster.address, progress=False), scratch / "per_gpu"))
    log("per_gpu done")
    # More workers than GPUs: equal shares of one GPU, two per node
    out["shared"] = named(placements(run_units(
        where(scratch / "shared"), [Where(f"u{i}", 4) for i in range(8)],
        PoolOptions(workers=4, device=GPU_SLOTS_ON_CPU), address=cluster.address, progress=False), scratch / "shared"))
    log("shared done")
    # auto on a cluster with GPUs means CUDA, which these logical GPUs do not have: a clear error at start
    try:
        run_units(where(scratch / "cuda"), [Where("u0")], PoolOptions(start_timeout_s=120),
                  address=cluster.address, progress=False)
        out["cuda_without_cuda"] = "ran"
    except JobFailed as exc:
        out["cuda_without_cuda"] = str(exc)

    log("cuda done")
    # A node that joins mid-job gets a worker of the auto-sized pool, and units: it joins as the first
    # unit finishes; the units wait for a third worker, so the job cannot end before it exists.
    joined: list = []

    def add_node_once(unit, report) -> None:
        if not joined:
            joined.append(cluster.add_node(**GPU_NODE))
            log(f"node g3 joined after unit {unit.unit_id}")

    result = run_units(where(scratch / "joined"), [Where("j0")] + [Where(f"j{i}", 3) for i in range(1, 12)],
                       PoolOptions(device=GPU_SLOTS_ON_CPU, rescan_s=0.5), address=cluster.address,
                       progress=False, on_report=add_node_once)
    node_id[joined[0].node_id] = "g3"
    out["joined"] = named(placements(result, scratch / "joined"))

    log("joined done")
    # A node that leaves mid-job (killed) takes its worker's unit with it: the job completes anyway
    release = Path(release_storage(config).uri)
    removed: dict = {}

    def remove_node_on_first_receipt() -> None:
        while not (release / RECEIPTS).is_dir() or not any((release / RECEIPTS).rglob("*.json")):
            time.sleep(0.02)
        cluster.remove_node(gpu_nodes[0], allow_graceful=False)
        removed["before_commit"] = not (release / MANIFEST).exists()
        log("node g1 removed")

    watcher = threading.Thread(target=remove_node_on_first_receipt)
    watcher.start()
    summary = run_release(config, address=cluster.address, progress=False)
    watcher.join()
    out["removed"] = {**removed, "workers": summary.workers, "device": summary.device, "units": summary.units}
    ray.shutdown()
    cluster.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
