"""Geirhos et al. 2018 ops on one CPU core, every level, beside the original code's measured times.

    OMP_NUM_THREADS=1 python bench/bench_geirhos.py [--seconds 1.0] [--json out.json]

Ours: what bench_ops.py measures, the worker's route (per-sample draws and the op's 8-bit kernel
on uint8 levels where it has one, ``spec.apply_uint8``; else apply_batch on floats plus uint8
quantisation), kernel calls of worker.CPU_KERNEL_BATCH samples, best of 5 rounds taken round all
cells, timed as CPU time of the benchmarking thread (time.thread_time; torch runs on that one
thread), so that the time other jobs on a shared machine take the core away is not counted; their
cache contention still is. The original's column is not measured here: it is the per-image time of
image_manipulation.py that the shared reference folder's SOURCE.md reports (one thread, AMD EPYC,
224x224), which gives one figure per op, two for low_pass (sigma 0 and 40). Prints a Markdown table
for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ops import ROUNDS, photos_batch

from corrupter import ops
from corrupter.io.assets import load_assets
from corrupter.pipeline.heap import tune_heap
from corrupter.pipeline.worker import CPU_KERNEL_BATCH
from corrupter.seeding import make_generator

# ms per 224x224 image of the original (SOURCE.md, "Speed of the originals"): (low, high) where it
# gives a range or an upper bound ("< 0.4 ms": (None, 0.4)); per level where it names the level.
ORIGINAL_MS = {
    "false_colour": (100.0, 220.0),
    "phase_noise": (4.3, 4.3),
    "power_equalisation": (4.3, 4.3),
    "gaussian_high_pass": (1.0, 1.5),
    "uniform_noise": (0.5, 0.5),
    "salt_and_pepper_noise": (0.5, 0.5),
    "grayscale_contrast": (None, 0.4),
    "rotation": (None, 0.4),
    "grayscale": (None, 0.4),
}
LOW_PASS_MS = {0: 0.7, 40: 8.0}  # sigma -> ms; the other sigmas are not reported


def original_ms(name: str, params: dict) -> tuple[float | None, float | None]:
    if name == "gaussian_low_pass":
        ms = LOW_PASS_MS.get(params["sigma"])
        return (ms, ms)
    return ORIGINAL_MS.get(name, (None, None))


def cell_runner(name: str, level: int, images: torch.Tensor):
    spec = ops.get_corruption(name)
    params = spec.params(level)
    assets = load_assets(spec.assets)
    levels = ops.quantize_uint8(images)  # the photos are 8-bit: these are exactly the decoded levels

    def once(seed: int) -> None:
        gens = [make_generator(seed * 100 + i) for i in range(images.shape[0])]
        if spec.apply_uint8 is not None:
            ops.apply_batch_uint8(spec, levels, params, gens, assets)
        else:
            out, _ = ops.apply_batch(spec, images, params, gens, assets)
            ops.quantize_uint8(out)
    once(0)
    return once


def floors(images: torch.Tensor, seconds: float) -> dict[str, float]:
    """CPU ms per 224x224 image of steps the ops cannot avoid: on the 8-bit route, the levels read as
    floats, the grey plane, its truncation to 8 bits and the 3 equal channels (every op but
    false_colour); one uniform per pixel from a sample's generator (the noise ops; phase_noise draws
    half as many); one rfft2 + irfft2 pair (the Fourier ops)."""
    from corrupter.ops._geirhos_common import grey, stacked

    generator = make_generator(0)
    levels = ops.quantize_uint8(images)
    planes = grey(images)
    steps = {
        "uint8 -> float, grey, quantize_uint8, 3 equal uint8 channels":
            lambda: stacked(ops.quantize_uint8(grey(levels.float().div_(255)))),
        "torch.rand(224, 224) from a sample's generator": lambda: [torch.rand(224, 224, generator=generator)
                                                                   for _ in range(len(images))],
        "rfft2 + irfft2, 224x224 float32": lambda: torch.fft.irfft2(torch.fft.rfft2(planes), s=(224, 224)),
    }
    out = {}
    for label, step in steps.items():
        step()
        best = float("inf")
        for _ in range(ROUNDS):
            start, runs = time.thread_time(), 0
            while time.thread_time() - start < seconds / ROUNDS or runs < 2:
                step()
                runs += 1
            best = min(best, (time.thread_time() - start) / (runs * len(images)) * 1000)
        out[label] = best
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0, help="per cell, all rounds together")
    parser.add_argument("--json", default=None)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tune_heap()
    images = photos_batch(CPU_KERNEL_BATCH)
    names = args.names or ops.list_corruptions(tag="geirhos2018")
    cells = [(n, level) for n in names for level in ops.get_corruption(n).level_numbers]
    runners = {cell: cell_runner(*cell, images) for cell in cells}
    best = dict.fromkeys(cells, float("inf"))
    for _ in range(ROUNDS):
        for cell, once in runners.items():
            start, runs = time.thread_time(), 0
            while time.thread_time() - start < args.seconds / ROUNDS or runs < 2:
                once(runs + 1)
                runs += 1
            best[cell] = min(best[cell], (time.thread_time() - start) / (runs * images.shape[0]) * 1000)
    machine = f"{platform.processor() or platform.machine()}, torch {torch.__version__}, cpu"
    print(f"# {time.strftime('%Y-%m-%d')} | {machine} | batch {CPU_KERNEL_BATCH} | 1 CPU thread\n")
    print("| op | level | parameters | corrupter ms/img | original ms/img (SOURCE.md) | speed-up |")
    print("|---|---:|---|---:|---:|---:|")
    rows = []
    for name, level in cells:
        params = ops.get_corruption(name).params(level)
        low, high = original_ms(name, params)
        ours = best[(name, level)]
        if high is None:
            ref, ratio = "-", "-"
        elif low is None:
            ref, ratio = f"< {high:g}", f"< {high / ours:.1f}x"
        else:
            ref = f"{low:g}" if low == high else f"{low:g}-{high:g}"
            ratio = f"{low / ours:.1f}x" if low == high else f"{low / ours:.1f}-{high / ours:.1f}x"
        label = ", ".join(f"{k}={v}" for k, v in params.items()) or "-"
        print(f"| {name} | {level} | {label} | {ours:.3f} | {ref} | {ratio} |")
        rows.append({"op": name, "level": level, "params": params, "ms": ours, "original_ms": [low, high]})
    unavoidable = floors(images, args.seconds)
    print("\n| unavoidable step | CPU ms/img |\n|---|---:|")
    for label, ms in unavoidable.items():
        print(f"| {label} | {ms:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "cells": rows, "floors": unavoidable}, indent=2))


if __name__ == "__main__":
    main()
