"""The ImageNet-C recipe at all five severities in one CPU worker: multi-level kernels' levels in one call, or apart.

    python bench/bench_worker_levels.py [--samples 32] [--rounds 3] [--ops brightness saturate]

Runs ShardWorker in-process (no Ray, one torch thread) on configs/imagenet-c.yaml as it is (clean +
19 corruptions x 5 severities = 96 variants, 32 per unit, batches of 32, Pillow JPEG q85) over one
input shard of ``--samples`` photos (the sample shard's, repeated under new keys). Two sides:

- ``levels in one call`` (as shipped): a unit's variants of each op with a multi-level kernel
  (``CorruptionSpec.apply_levels``: zoom_blur, brightness, saturate) go through that kernel, one
  call per chunk of 4 samples;
- ``one call per variant`` (the route before it): the same worker with those ops' specs (or only
  those named by ``--ops``) stripped of their multi-level kernels, so each variant calls the op's
  kernel (``apply``, or ``apply_uint8`` on the 8-bit route) on its own.

bench_worker.py runs one severity, where a unit holds a single variant of each op and nothing is
shared, hence this script. Each run is a fresh process; the sides alternate for ``--rounds`` rounds
and the best run of each side counts (the machine may be shared). Both sides must write the same
shards (sha256 of every shard, compared). Each run also times the calls of those ops' kernels
(ms per input sample for all five levels, per op), the part that changes. Prints Markdown for
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


def measure(side: str, shard: str, out: str, stripped: list[str] | None) -> dict:
    """One run of the recipe in this process: ms per output image and a digest of every shard."""
    from corrupter.config.loading import load_config
    from corrupter.ops import _registry
    from corrupter.pipeline.plan import plan_units
    from corrupter.pipeline.worker import ShardWorker

    multi_level = sorted(name for name, spec in _registry._REGISTRY.items() if spec.apply_levels is not None)
    in_kernels = dict.fromkeys(multi_level, 0.0)  # seconds in each op's kernels, whichever route calls them

    def timed(name, kernel):
        if kernel is None:
            return None

        def run(*args, **kwargs):
            start = time.perf_counter()
            out = kernel(*args, **kwargs)
            in_kernels[name] += time.perf_counter() - start
            return out
        return run

    for name in multi_level:
        spec = _registry._REGISTRY[name]
        apart = side == "one call per variant" and (stripped is None or name in stripped)
        levels = None if apart else timed(name, spec.apply_levels)
        _registry._REGISTRY[name] = dataclasses.replace(
            spec, apply=timed(name, spec.apply), apply_uint8=timed(name, spec.apply_uint8), apply_levels=levels)
    config = load_config(ROOT / "configs" / "imagenet-c.yaml", [f"input.shards={shard}", f"output.uri={out}"])
    units = plan_units(config)
    worker = ShardWorker(config)
    start = time.perf_counter()
    reports = [worker.run(unit) for unit in units]
    seconds = time.perf_counter() - start
    images = sum(r.images for r in reports)
    shards = sorted((r.path, r.sha256) for report in reports for r in report.receipts)
    level_units = {name: sorted({i + 1 for i, unit in enumerate(units) for o in unit.outputs
                                 if o.variant.corruption == name}) for name in multi_level}
    return {"images": images, "ms_per_image": seconds / images * 1000, "shards": len(shards),
            "kernel_ms_per_sample": {name: s * 1000 * len(shards) / images for name, s in in_kernels.items()},
            "digest": hashlib.sha256(json.dumps(shards).encode()).hexdigest(), "level_units": level_units,
            "units": len(units)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ops", nargs="+", default=None,
                        help="strip only these ops' multi-level kernels on the other side (default: all)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child: JSON of one run
    args = parser.parse_args()
    if args.one:
        job = json.loads(args.one)
        print(json.dumps(measure(job["side"], job["shard"], job["out"], job["ops"])))
        return
    if args.ops:
        from corrupter import ops
        known = [name for name in ops.list_corruptions() if ops.get_corruption(name).apply_levels is not None]
        if set(args.ops) - set(known):
            parser.error(f"--ops: no multi-level kernel in {sorted(set(args.ops) - set(known))}; those with one: {known}")
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "in.tar"
        write_repeated_shard(shard, args.samples)
        for n in range(args.rounds):
            for k, side in enumerate(SIDES):
                job = json.dumps({"side": side, "shard": str(shard), "out": f"{tmp}/out{n}-{k}", "ops": args.ops})
                done = subprocess.run([sys.executable, __file__, "--one", job], stdout=subprocess.PIPE,
                                      text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
                runs[side].append(json.loads(done.stdout.strip().splitlines()[-1]))
                loads.append(os.getloadavg()[0])
    first = runs[SIDES[0]][0]
    names = sorted(first["kernel_ms_per_sample"])
    same = len({r["digest"] for side in SIDES for r in runs[side]}) == 1
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} one CPU worker in-process, 1 thread, configs/imagenet-c.yaml: "
          f"{args.samples} samples x {first['shards']} variants, load average {min(loads):.1f}-{max(loads):.1f}\n")
    where = "; ".join(f"{name} in unit {', '.join(map(str, units))}" for name, units in first["level_units"].items())
    apart = ", ".join(args.ops) if args.ops else "all of them"
    print(f"Ops with a multi-level kernel: {where} (of {first['units']} units); one call per variant for "
          f"{apart} on the other side. The two sides wrote "
          f"{'the same' if same else 'DIFFERENT'} {first['shards']} shards (sha256 of each).\n")
    print("| worker | output images | ms per output image (runs) | best | images/s (best) | "
          + " | ".join(f"{name}'s kernels, ms per input sample (runs)" for name in names) + " |")
    print("|---|---:|---|---:|---:|" + "---|" * len(names))
    best = {}
    for side in SIDES:
        times = [r["ms_per_image"] for r in runs[side]]
        kernels = [", ".join(f"{r['kernel_ms_per_sample'][name]:.1f}" for r in runs[side]) for name in names]
        best[side] = min(times)
        print(f"| {side} | {runs[side][0]['images']} | {', '.join(f'{t:.2f}' for t in times)} "
              f"| {best[side]:.2f} | {1000 / best[side]:.0f} | " + " | ".join(kernels) + " |")
    print(f"\nLevels in one call against one call per variant, best against best: "
          f"{best[SIDES[1]] / best[SIDES[0]]:.3f}x the throughput.")
    for name in names:
        medians = [sorted(r["kernel_ms_per_sample"][name] for r in runs[side])[len(runs[side]) // 2] for side in SIDES]
        print(f"{name}'s kernels, median ms per input sample: {medians[0]:.1f} in one call, {medians[1]:.1f} "
              f"one call per variant ({medians[1] / medians[0]:.2f}x).")


if __name__ == "__main__":
    main()
