"""The driver at training-set and full-benchmark scale: planning time and what it holds in memory.

    python bench/bench_plan.py

No input is read and no worker runs (shard names are made up). For each job:
1. planning: ``plan_units`` (and the dry run of explicit variants) on the shipped config with the
   job's shard pattern: seconds and the Python memory of the plan (tracemalloc);
2. the driver's state at the end of the job: one receipt per output shard as workers return them
   (1,000 samples per input shard, one quarantined sample in every 400 shards), held by path as
   the pool holds them, then the manifest built and serialised: seconds, tracemalloc peak, and
   the manifest's size.
The driver's process RSS (torch is imported for the dry run) is printed too. Prints Markdown.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corrupter.config import load_config
from corrupter.release.manifest import build_manifest, dump_manifest, software_versions
from corrupter.release.receipts import Receipt
from corrupter.pipeline.dryrun import dry_run_variants
from corrupter.pipeline.plan import plan_units

JOBS = {
    "ImageNet-C, 50 val shards x 96 variants (with clean)": (
        "configs/imagenet-c.yaml", ["input.shards=/nowhere/val-{000000..000049}.tar"], 1000),
    "high-pass training set, 1,281 train shards x 1 variant (1.28 M images)": (
        "configs/imagenet-train-highpass.yaml", ["input.shards=/nowhere/train-{000000..001280}.tar"], 1000),
    "high-pass training set, 1,281 shards x 5 levels (6.4 M images)": (
        "configs/imagenet-train-highpass.yaml", ["input.shards=/nowhere/train-{000000..001280}.tar",
                                                 "corruptions=[{name: high_pass}]", "run.variants_per_unit=5"], 1000),
}


def receipt(output, index: int, samples: int) -> Receipt:
    """What a worker returns for one output shard (pipeline/worker.py ``_publish``)."""
    quarantined = [{"key": f"s{index}_bad", "reason": "undecodable image: cannot identify image file"}] \
        if index % 400 == 0 else []
    return Receipt.model_validate({"path": output.path, "corruption": output.variant.corruption, "variant": output.variant.name,
            "level": output.variant.level, "params": output.variant.param_dict,
            "source": {"uri": f"/nowhere/{index:06d}.tar", "sha256": f"{index + 1:064x}", "bytes": 140 * 2**20,
                       "errors": []},
            "sha256": f"{hash(output.path) & (2**256 - 1):064x}", "bytes": 120 * 2**20,
            "samples": samples - len(quarantined), "samples_read": samples, "quarantined": quarantined,
            "device_type": "cpu"})


def main() -> None:
    software_versions()  # imports torchvision once (the manifest records its version): not the builder's cost
    rows = []
    for label, (path, sets, samples) in JOBS.items():
        config = load_config(ROOT / path, sets)
        tracemalloc.start()
        start = time.perf_counter()
        units = plan_units(config)
        dry_run_variants(config, (o.variant for u in units for o in u.outputs))
        plan_s = time.perf_counter() - start
        plan_mib = tracemalloc.get_traced_memory()[0] / 2**20
        outputs = [(o, u.source_index) for u in units for o in u.outputs]
        tracemalloc.reset_peak()
        start = time.perf_counter()
        receipts = {o.path: receipt(o, index, samples) for o, index in outputs}
        manifest = build_manifest(name=config.name, version=config.version, config={}, digest="sha256:" + "0" * 64,
                                  seed_scheme="s", receipts=list(receipts.values()))
        data = dump_manifest(manifest)
        end_s = time.perf_counter() - start
        end_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        rows.append((label, len(units), len(outputs), len(outputs) * samples, plan_s, plan_mib, end_s, end_peak,
                     len(data) / 2**20))
        del units, outputs, receipts, manifest, data
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} driver at scale (no input read); driver process peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB\n")
    print("| job | units | output shards | output images | planning s | plan MiB | receipts + manifest s | "
          "their peak MiB | manifest MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, units, shards, images, plan_s, plan_mib, end_s, end_peak, manifest_mib in rows:
        print(f"| {label} | {units:,} | {shards:,} | {images:,} | {plan_s:.2f} | {plan_mib:.1f} | {end_s:.2f} | "
              f"{end_peak:.0f} | {manifest_mib:.1f} |")


if __name__ == "__main__":
    main()
