"""The ImageNet-C-bar corruptions on one CPU core, beside the original code's time per image.

    OMP_NUM_THREADS=1 python bench/bench_cbar.py [--level 3] [--seconds 1.5] [--json out.json]

Ours: measured here, as bench/bench_ops.py measures every op (the whole apply_batch with per-sample
draws, plus uint8 quantisation, in kernel calls of worker.CPU_KERNEL_BATCH samples, best of 5
rounds taken round the ops in turn). The original's column is NOT measured in this run: it is the
per-image time of facebookresearch/augmentation-corruption imagenet_c_bar (commit ba4d5a5, one
thread, 224x224, mean over all severities, seeds and photos) recorded by the reference maker
(make_cbar_geirhos_reference.py) on an AMD EPYC of the same kind, copied below. C-bar's per-pixel
Python loops take the same time at every severity.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_ops import photos_batch, speedup, time_ops

from corrupter import ops
from corrupter.pipeline.heap import tune_heap
from corrupter.pipeline.worker import CPU_KERNEL_BATCH

# ms per 224x224 image of the original code, one thread (the reference's SOURCE.md, "Speed of the originals").
ORIGINAL_MS = {
    "caustic_refraction": 3400, "sparkles": 2300, "plasma_noise": 1150, "perlin_noise": 1000,
    "inverse_sparkles": 420, "brownish_noise": 350, "checkerboard_cutout": 140, "blue_noise_sample": 110,
    "cocentric_sine_waves": 110, "single_frequency_greyscale": 40,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--level", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tune_heap()  # as a CPU worker does
    names = ops.list_corruptions(tag="imagenet-c-bar")
    assert set(names) == set(ORIGINAL_MS), "the table of the originals' times is out of date"
    ours = time_ops(names, photos_batch(CPU_KERNEL_BATCH), args.level, args.seconds)
    machine = f"{platform.processor() or platform.machine()}, torch {torch.__version__}, cpu"
    print(f"# {time.strftime('%Y-%m-%d')} | {machine} | level {args.level} | batch {CPU_KERNEL_BATCH} | "
          f"1 CPU thread\n")
    print("| corruption | corrupter ms/img | original ms/img (reference maker, not this run) | speed-up |")
    print("|---|---:|---:|---:|")
    for name in names:
        original = ORIGINAL_MS[name]
        print(f"| {name} | {ours[name]:.2f} | {original:,} | {speedup(original, ours[name])} |")
    total_ours, total_original = sum(ours.values()), sum(ORIGINAL_MS.values())
    print(f"| **sum of the 10** | **{total_ours:.1f}** | **{total_original:,}** | "
          f"**{speedup(total_original, total_ours)}** |")
    if args.json:
        record = {"ours_ms": ours, "original_ms": ORIGINAL_MS, "machine": machine, "level": args.level}
        Path(args.json).write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
