"""Throughput of one CPU worker in-process (no Ray): the ImageNet-C recipe end to end on one core.

    python bench/bench_worker.py [--samples 64] [--severity 3]

Runs ShardWorker on one input shard of ``--samples`` photos (the sample shard's images repeated
under new keys) with all 19 ImageNet-C corruptions at one severity, batch 32, 19 variants per unit:
decode, crop, corrupt, JPEG encode, tar, sha256, publish. Each configuration runs in a fresh
process (glibc heap settings cannot be undone): the worker as shipped, with torchvision's JPEG
encoder instead of Pillow's, and with the CPU kernel chunk and the heap settings (pipeline/heap.py)
switched off, to show what each contributes.
Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sampleshards import write_repeated_shard  # noqa: E402

CONFIGURATIONS = {  # label -> (CPU kernel chunk, apply heap settings, output.jpeg_encoder)
    "as shipped": (None, True, "auto"),
    "output.jpeg_encoder=torchvision (libjpeg-turbo, no Huffman optimisation)": (None, True, "torchvision"),
    "no kernel chunking (whole batch of 32 per call)": (10**9, True, "auto"),
    "no heap settings": (None, False, "auto"),
    "neither": (10**9, False, "auto"),
}


def measure(shard: str, out: str, severity: int, kernel_batch: int | None, heap: bool,
            jpeg_encoder: str) -> dict[str, float]:
    """One configuration, in this process."""
    import torch  # noqa: F401  (import cost outside the timing)

    from corrupter.config import validate_config
    from corrupter.pipeline import worker as worker_module
    from corrupter.pipeline.plan import plan_units

    if kernel_batch:
        worker_module.CPU_KERNEL_BATCH = kernel_batch
    if not heap:
        worker_module.tune_heap = lambda: False
    config = validate_config({
        "name": "bench", "version": "1", "input": {"shards": [shard]},
        "corruptions": [{"name": "imagenet-c", "severities": [severity]},
                        {"name": "imagenet-c-extra", "severities": [severity]}],
        "output": {"uri": out, "jpeg_encoder": jpeg_encoder}, "run": {"batch_size": 32, "variants_per_unit": 19}})
    worker = worker_module.ShardWorker(config)
    start, images = time.perf_counter(), 0
    for unit in plan_units(config):
        images += worker.run(unit).images
    seconds = time.perf_counter() - start
    return {"images": images, "ms_per_image": seconds / images * 1000,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child: JSON of one configuration
    args = parser.parse_args()
    if args.one:
        job = json.loads(args.one)
        print(json.dumps(measure(job["shard"], job["out"], args.severity, *CONFIGURATIONS[job["label"]])))
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "in.tar"
        write_repeated_shard(shard, args.samples)
        for n, label in enumerate(CONFIGURATIONS):
            job = json.dumps({"shard": str(shard), "out": f"{tmp}/out{n}", "label": label})
            done = subprocess.run([sys.executable, __file__, "--severity", str(args.severity), "--one", job],
                                  capture_output=True, text=True, check=True,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"})
            results[label] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"# {time.strftime('%Y-%m-%d')} one CPU worker in-process, 1 thread, {args.samples} samples x "
          f"19 ImageNet-C corruptions at severity {args.severity}, batch 32\n")
    print("| worker | output images | ms per output image | images/s | peak RSS MiB |\n|---|---:|---:|---:|---:|")
    for label, r in results.items():
        print(f"| {label} | {r['images']} | {r['ms_per_image']:.2f} | {1000 / r['ms_per_image']:.0f} | "
              f"{r['peak_rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
