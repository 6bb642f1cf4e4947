"""Images of several sizes through one CPU worker (in-process, no Ray): what grouping a batch by
shape is worth, and the training recipe's own speed.

    OMP_NUM_THREADS=1 python bench/bench_sizes.py [--samples 96] [--repeat 3]

Input: one shard cycling through the six sample photos, preprocessed with ``resize: 256, crop:
null`` (configs/imagenet-train-highpass.yaml's choice), which gives four shapes (256x256, 256x341,
256x384, 256x383) in an order that changes shape at nearly every sample. Each case runs with
``run.batch_size`` 32 (the worker groups a batch's images by shape; kernel calls of up to
worker.CPU_KERNEL_BATCH images) and 1 (one image per kernel call: what cutting a batch at every
change of shape, the worker's earlier rule, amounted to on such input). Cases: the 19 ImageNet-C
corruptions at severity 3 and the training recipe's high_pass level 5, both with JPEG output (the
kernels' share), and the training recipe as shipped (PNG). CPU time of this process (the machine is
shared), best of ``--repeat``, each case in a fresh process. Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sampleshards import SAMPLE, write_repeated_shard  # noqa: E402

IMAGENET_C = [{"name": "imagenet-c", "levels": [3]}, {"name": "imagenet-c-extra", "levels": [3]}]
HIGH_PASS = [{"name": "high_pass", "levels": [5]}]
CASES = {  # label -> (corruptions, output format)
    "19 ImageNet-C corruptions, severity 3, JPEG": (IMAGENET_C, "jpg"),
    "high_pass level 5, JPEG": (HIGH_PASS, "jpg"),
    "high_pass level 5, PNG (configs/imagenet-train-highpass.yaml)": (HIGH_PASS, "png"),
}


def measure(shard: str, out: str, label: str, batch: int) -> dict:
    from corrupter.config import validate_config
    from corrupter.pipeline.plan import plan_units
    from corrupter.pipeline.worker import ShardWorker

    corruptions, fmt = CASES[label]
    config = validate_config({
        "name": "bench", "version": "1.0.0", "input": {"shards": [shard], "split": "train"},
        "preprocess": {"resize": 256, "crop": None}, "corruptions": corruptions,
        "output": {"uri": out, "format": fmt}, "run": {"batch_size": batch, "variants_per_unit": 19}})
    worker = ShardWorker(config)
    start = time.process_time()
    images = sum(worker.run(unit).images for unit in plan_units(config))
    return {"images": images, "ms": (time.process_time() - start) / images * 1000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=96)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        job = json.loads(args.one)
        print(json.dumps(measure(job["shard"], job["out"], job["label"], job["batch"])))
        return
    best: dict[tuple[str, int], float] = {}
    images: dict[str, int] = {}
    runs = 0
    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "mixed.tar"
        write_repeated_shard(shard, args.samples, sorted(SAMPLE.glob("val-*.tar")))
        for attempt in range(args.repeat):
            for label in CASES:
                for batch in (32, 1):
                    runs += 1
                    job = json.dumps({"shard": str(shard), "out": f"{tmp}/out-{runs}",
                                      "label": label, "batch": batch})
                    done = subprocess.run([sys.executable, __file__, "--one", job], check=True, text=True,
                                          stdout=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
                    result = json.loads(done.stdout.strip().splitlines()[-1])
                    best[(label, batch)] = min(best.get((label, batch), float("inf")), result["ms"])
                    images[label] = result["images"]
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} one CPU worker in-process, 1 thread, {args.samples} photos "
          f"of 4 shapes (resize 256, no crop), CPU ms per output image, best of {args.repeat}; load {load}\n")
    print("| corruptions, output | output images | grouped by shape, batch 32 | one image per kernel call | "
          "grouping saves |")
    print("|---|---:|---:|---:|---:|")
    for label in CASES:
        grouped, single = best[(label, 32)], best[(label, 1)]
        print(f"| {label} | {images[label]:,} | {grouped:.2f} | {single:.2f} | {1 - grouped / single:.0%} |")


if __name__ == "__main__":
    main()
