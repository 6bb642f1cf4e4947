"""An op's levels in one multi-level kernel call against one call per level, on one CPU thread.

    OMP_NUM_THREADS=1 python bench/bench_multi_level.py [brightness saturate ...] [--rounds 7] [--batch 4]

For each op with a multi-level kernel (``CorruptionSpec.apply_levels``; default brightness and
saturate), on batches of ``--batch`` real photos (tests/data/reference/photos224.npz; the worker's
chunk of 4), all of the op's levels two ways, as a CPU worker runs them (its heap settings; the op's
route: uint8 levels in and out for an op with an 8-bit kernel, else float kernel then
``quantize_uint8``):

- one call per level: ``ops.apply_batch_uint8`` (or ``apply_batch``) once per level, the route of a
  worker holding one variant of the op;
- one multi-level call: ``ops.apply_batch_levels`` with every level, the route of a worker holding
  them all (a unit of configs/imagenet-c.yaml holds all five levels of each op).

Checks the two give the same bytes, then times them: ms per image for all the levels, best of
``--rounds`` rounds taken round the two sides (and the ops) in turn, so a burst of load from other
jobs on a shared machine spoils one round of both, not one side. Prints Markdown for
docs/benchmarks.md, with the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_ops import photos_batch
from corrupter import ops
from corrupter.pipeline.heap import tune_heap


def routes(name: str, photos: torch.Tensor) -> tuple[torch.Tensor, Callable, Callable]:
    """The op's input (uint8 levels on the 8-bit route), and its levels one call each / in one call."""
    spec = ops.get_corruption(name)
    if spec.apply_levels is None:
        raise SystemExit(f"{name} has no multi-level kernel")
    table = [spec.params(level) for level in spec.level_numbers]
    if spec.apply_uint8 is not None:
        def apart(x):
            return [ops.apply_batch_uint8(spec, x, p)[0] for p in table]

        def together(x):
            return ops.apply_batch_levels(spec, x, table)

        return ops.quantize_uint8(photos), apart, together

    def apart_float(x):
        return [ops.quantize_uint8(ops.apply_batch(spec, x, p)[0]) for p in table]

    def together_float(x):
        return [ops.quantize_uint8(out) for out in ops.apply_batch_levels(spec, x, table)]

    return photos, apart_float, together_float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["brightness", "saturate"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=4, help="images per kernel call (the worker's 4)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tune_heap()  # as a CPU worker does
    load_before = os.getloadavg()
    photos = photos_batch(args.batch)
    sides = {}
    for name in args.names:
        images, apart, together = routes(name, photos)
        same = all(torch.equal(a, b) for a, b in zip(apart(images), together(images), strict=True))
        sides[name] = (images, apart, together, same)
    best = {(name, k): float("inf") for name in sides for k in range(2)}
    runs = {(name, k): [] for name in sides for k in range(2)}
    for _ in range(args.rounds):
        for name, (images, apart, together, _) in sides.items():
            for k, run in enumerate((apart, together)):
                start = time.perf_counter()
                run(images)
                ms = (time.perf_counter() - start) * 1000 / images.shape[0]
                runs[(name, k)].append(ms)
                best[(name, k)] = min(best[(name, k)], ms)
    load_after = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} | torch {torch.__version__} | 1 CPU thread | batches of "
          f"{args.batch} photos | best of {args.rounds} rounds | load average (1 min) {load_before[0]:.2f} "
          f"before, {load_after[0]:.2f} after\n")
    print("| op | levels | same bytes | one call per level, ms/img (best) | one multi-level call, ms/img "
          "(best) | speed-up | medians |")
    print("|---|---:|---|---:|---:|---:|---|")
    for name, (_, _, _, same) in sides.items():
        apart, together = best[(name, 0)], best[(name, 1)]
        medians = [sorted(runs[(name, k)])[len(runs[(name, k)]) // 2] for k in range(2)]
        print(f"| {name} | {len(ops.get_corruption(name).levels)} | {'yes' if same else 'NO'} | {apart:.2f} "
              f"| {together:.2f} | {apart / together:.2f}x | {medians[0]:.2f} / {medians[1]:.2f} |")


if __name__ == "__main__":
    main()
