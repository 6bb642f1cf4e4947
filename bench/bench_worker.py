"""Throughput of one worker in-process (no Ray): the ImageNet-C recipe end to end.

    python bench/bench_worker.py [--samples 64] [--severity 3] [--device cpu|cuda]

Runs ShardWorker on one input shard of ``--samples`` photos (the sample shard's images repeated
under new keys) with all 19 ImageNet-C corruptions at one severity, 19 variants per unit: decode,
crop, corrupt, JPEG encode, tar, sha256, publish. Each configuration runs in a fresh process
(glibc heap settings cannot be undone).
On the CPU (one thread): the worker as shipped, with torchvision's JPEG encoder instead of
Pillow's, and with the CPU kernel chunk and the heap settings (pipeline/heap.py) switched off, to
show what each contributes. On CUDA: the worker as shipped (nvJPEG encode on the GPU) at batch 32
and 128, and with Pillow encoding on the CPU instead; a warm-up run first (CUDA context, cuFFT
plans and nvJPEG at the timed batch size) is not timed. Needs no Ray, so it runs on a bare GPU node.
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

# label -> (CPU kernel chunk, apply heap settings, output.jpeg_encoder, batch size)
CONFIGURATIONS = {
    "cpu": {
        "as shipped": (None, True, "auto", 32),
        "output.jpeg_encoder=torchvision (libjpeg-turbo, no Huffman optimisation)":
            (None, True, "torchvision", 32),
        "no kernel chunking (whole batch of 32 per call)": (10**9, True, "auto", 32),
        "no heap settings": (None, False, "auto", 32),
        "neither": (10**9, False, "auto", 32),
    },
    "cuda": {
        "output.jpeg_encoder=auto (nvJPEG on the GPU), batch 32": (None, True, "auto", 32),
        "output.jpeg_encoder=auto (nvJPEG on the GPU), batch 128": (None, True, "auto", 128),
        "output.jpeg_encoder=pillow (libjpeg on the CPU), batch 128": (None, True, "pillow", 128),
    },
}


def worker_config(shard: str, out: str, severity: int, device: str, jpeg_encoder: str, batch: int):
    from corrupter.config import validate_config

    return validate_config({
        "name": "bench", "version": "1.0.0", "input": {"shards": [shard]},
        "corruptions": [{"name": "imagenet-c", "severities": [severity]},
                        {"name": "imagenet-c-extra", "severities": [severity]}],
        "output": {"uri": out, "jpeg_encoder": jpeg_encoder},
        "run": {"batch_size": batch, "variants_per_unit": 19, "device": device}})


def run_worker(worker, config) -> int:
    from corrupter.pipeline.plan import plan_units

    return sum(worker.run(unit).images for unit in plan_units(config))


def measure(job: dict, severity: int, device: str, kernel_batch: int | None, heap: bool,
            jpeg_encoder: str, batch: int) -> dict[str, float]:
    """One configuration, in this process."""
    import torch  # here, so its import cost stays outside the timing

    from corrupter.pipeline import worker as worker_module

    if kernel_batch:
        worker_module.CPU_KERNEL_BATCH = kernel_batch
    if not heap:
        worker_module.tune_heap = lambda: False
    if device == "cuda":
        warm_up = worker_config(job["warm_up"], job["out"] + "-warm", severity, device, jpeg_encoder, batch)
        run_worker(worker_module.ShardWorker(warm_up), warm_up)
    config = worker_config(job["shard"], job["out"], severity, device, jpeg_encoder, batch)
    worker = worker_module.ShardWorker(config)
    start = time.perf_counter()
    images = run_worker(worker, config)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"images": images, "ms_per_image": seconds / images * 1000,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--device", choices=sorted(CONFIGURATIONS), default="cpu")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child: JSON of one configuration
    args = parser.parse_args()
    configurations = CONFIGURATIONS[args.device]
    if args.one:
        job = json.loads(args.one)
        result = measure(job, args.severity, args.device, *configurations[job["label"]])
        print(json.dumps(result))
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        shard, warm_up = Path(tmp) / "in.tar", Path(tmp) / "warm.tar"
        write_repeated_shard(shard, args.samples)
        write_repeated_shard(warm_up, max(c[3] for c in configurations.values()))  # every batch size seen
        for n, label in enumerate(configurations):
            job = json.dumps({"shard": str(shard), "warm_up": str(warm_up), "out": f"{tmp}/out{n}",
                              "label": label})
            done = subprocess.run([sys.executable, __file__, "--severity", str(args.severity),
                                   "--device", args.device, "--one", job],
                                  stdout=subprocess.PIPE, text=True, check=True,  # stderr: shown
                                  env={**os.environ, "OMP_NUM_THREADS": "1"})
            results[label] = json.loads(done.stdout.strip().splitlines()[-1])
    where = "one CPU worker in-process, 1 thread" if args.device == "cpu" else \
        f"one CUDA worker in-process ({device_name()}), 1 CPU thread"
    print(f"# {time.strftime('%Y-%m-%d')} {where}, {args.samples} samples x "
          f"19 ImageNet-C corruptions at severity {args.severity}\n")
    print("| worker | output images | ms per output image | images/s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    for label, r in results.items():
        print(f"| {label} | {r['images']} | {r['ms_per_image']:.2f} | {1000 / r['ms_per_image']:.0f} | "
              f"{r['peak_rss_mib']:.0f} |")


def device_name() -> str:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"


if __name__ == "__main__":
    main()
