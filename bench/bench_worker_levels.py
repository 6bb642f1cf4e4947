"""The ImageNet-C recipe at all five severities in one CPU worker: zoom_blur's levels in one call, or apart.

    python bench/bench_worker_levels.py [--samples 32] [--rounds 3]

Runs ShardWorker in-process (no Ray, one torch thread) on configs/imagenet-c.yaml as it is (clean +
19 corruptions x 5 severities = 96 variants, 32 per unit, batches of 32, Pillow JPEG q85) over one
input shard of ``--samples`` photos (the sample shard's, repeated under new keys). Two sides:

- ``levels in one call`` (as shipped): a unit's zoom_blur variants go through its multi-level
  kernel (``CorruptionSpec.apply_levels``), one call per chunk of 4 samples;
- ``one call per variant`` (the route before it): the same worker with zoom_blur's spec stripped
  of its multi-level kernel, so each variant calls ``zoom_blur`` on its own.

bench_worker.py runs one severity, where a unit holds a single zoom_blur variant and nothing is
shared, hence this script. Each run is a fresh process; the sides alternate for ``--rounds`` rounds
and the best run of each side counts (the machine may be shared). Both sides must write the same
shards (sha256 of every shard, compared). Each run also times the calls of zoom_blur's kernels
(ms per input sample for all five levels), the part that changes. Prints Markdown for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sampleshards import write_repeated_shard

SIDES = ("levels in one call", "one call per variant")


def measure(side: str, shard: str, out: str) -> dict:
    """One run of the recipe in this process: ms per output image and a digest of every shard."""
    from corrupter.config.loading import load_config
    from corrupter.ops import _registry
    from corrupter.pipeline.plan import plan_units
    from corrupter.pipeline.worker import ShardWorker

    spec = _registry._REGISTRY["zoom_blur"]
    in_zoom_blur = [0.0]  # seconds in zoom_blur's kernels, whichever route calls them

    def timed(kernel):
        def run(*args, **kwargs):
            start = time.perf_counter()
            out = kernel(*args, **kwargs)
            in_zoom_blur[0] += time.perf_counter() - start
            return out
        return run

    levels = timed(spec.apply_levels) if side == "levels in one call" else None
    _registry._REGISTRY["zoom_blur"] = dataclasses.replace(spec, apply=timed(spec.apply), apply_levels=levels)
    config = load_config(ROOT / "configs" / "imagenet-c.yaml", [f"input.shards={shard}", f"output.uri={out}"])
    units = plan_units(config)
    worker = ShardWorker(config)
    start = time.perf_counter()
    reports = [worker.run(unit) for unit in units]
    seconds = time.perf_counter() - start
    images = sum(r.images for r in reports)
    shards = sorted((r.path, r.sha256) for report in reports for r in report.receipts)
    zoom_units = [f"{o.variant.name} in unit {i + 1}" for i, unit in enumerate(units)
                  for o in unit.outputs if o.variant.corruption == "zoom_blur"]
    return {"images": images, "ms_per_image": seconds / images * 1000, "shards": len(shards),
            "zoom_ms_per_sample": in_zoom_blur[0] * 1000 * len(shards) / images,
            "digest": hashlib.sha256(json.dumps(shards).encode()).hexdigest(), "zoom_units": zoom_units,
            "units": len(units)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child: JSON of one run
    args = parser.parse_args()
    if args.one:
        job = json.loads(args.one)
        print(json.dumps(measure(job["side"], job["shard"], job["out"])))
        return
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "in.tar"
        write_repeated_shard(shard, args.samples)
        for n in range(args.rounds):
            for k, side in enumerate(SIDES):
                job = json.dumps({"side": side, "shard": str(shard), "out": f"{tmp}/out{n}-{k}"})
                done = subprocess.run([sys.executable, __file__, "--one", job], stdout=subprocess.PIPE,
                                      text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
                runs[side].append(json.loads(done.stdout.strip().splitlines()[-1]))
                loads.append(os.getloadavg()[0])
    first = runs[SIDES[0]][0]
    same = len({r["digest"] for side in SIDES for r in runs[side]}) == 1
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} one CPU worker in-process, 1 thread, configs/imagenet-c.yaml: "
          f"{args.samples} samples x {first['shards']} variants, load average {min(loads):.1f}-{max(loads):.1f}\n")
    print(f"zoom_blur's levels: {', '.join(first['zoom_units'])} (of {first['units']} units); the two "
          f"sides wrote "
          f"{'the same' if same else 'DIFFERENT'} {first['shards']} shards (sha256 of each).\n")
    print("| worker | output images | ms per output image (runs) | best | images/s (best) "
          "| zoom_blur's kernels, ms per input sample (runs) |")
    print("|---|---:|---|---:|---:|---|")
    best = {}
    for side in SIDES:
        times = [r["ms_per_image"] for r in runs[side]]
        zoom = ", ".join(f"{r['zoom_ms_per_sample']:.1f}" for r in runs[side])
        best[side] = min(times)
        print(f"| {side} | {runs[side][0]['images']} | {', '.join(f'{t:.2f}' for t in times)} "
              f"| {best[side]:.2f} | {1000 / best[side]:.0f} "
              f"| {zoom} |")
    print(f"\nLevels in one call against one call per variant, best against best: "
          f"{best[SIDES[1]] / best[SIDES[0]]:.3f}x the throughput.")


if __name__ == "__main__":
    main()
