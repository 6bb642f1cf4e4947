"""Per-corruption speed on one CPU core (or one GPU), 224x224 real photos, beside the reference.

    OMP_NUM_THREADS=1 python bench/bench_ops.py [--severity 3] [--device cpu|cuda]
        [--reference-python /path/to/refenv/bin/python] [--repeat N] [--json out.json]

Measures ms per image (best of 5 rounds, taken round all ops in turn) of the batched kernel plus uint8
quantisation, run as a worker runs it (on the CPU: batches of worker.CPU_KERNEL_BATCH with the
worker's heap settings; ops with an 8-bit kernel on uint8 levels, as the worker calls them), the
JPEG encode bound (the worker's codec.encode_image: PIL quality 85 optimize, 4:2:0, the
ImageNet-C save step), and, with --reference-python, the imagecorruptions package on the same
photos in the same run (bench/time_imagecorruptions.py; set up its environment as that file's
docstring says). ``--repeat N`` alternates the two sides N times and keeps each op's best, so that a
burst of load from other jobs on a shared machine spoils one pass, not one side. Prints a Markdown
table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corrupter import ops  # noqa: E402
from corrupter.io.assets import load_assets  # noqa: E402
from corrupter.io.codec import encode_image  # noqa: E402
from corrupter.pipeline.heap import tune_heap  # noqa: E402
from corrupter.pipeline.worker import CPU_KERNEL_BATCH  # noqa: E402
from corrupter.seeding import make_generator  # noqa: E402


def photos_batch(batch: int) -> torch.Tensor:
    photos = list(np.load(ROOT / "tests" / "data" / "reference" / "photos224.npz").values())
    stack = np.stack([photos[i % len(photos)] for i in range(batch)])
    # Contiguous NCHW, as the worker feeds kernels (codec.imagenet_crop); the permuted view would
    # be channels-last, a layout some kernels run slower on.
    return torch.from_numpy(stack).permute(0, 3, 1, 2).contiguous().float() / 255


ROUNDS = 5


def bench_level(name: str, severity: int) -> int:
    """``severity`` where the op's table has it, else its middle level (tables of 1, 2, 4... levels)."""
    numbers = ops.get_corruption(name).level_numbers
    return severity if severity in numbers else numbers[len(numbers) // 2]


def op_runner(name: str, images: torch.Tensor, severity: int) -> Callable[[int], None]:
    """One call of the op as a worker makes it, warmed up: draws, kernel, uint8 quantisation; for
    ops with an 8-bit kernel (``spec.apply_uint8``) the worker's route, uint8 levels in and out."""
    spec = ops.get_corruption(name)
    params = spec.params(bench_level(name, severity))
    assets = load_assets(spec.assets, images.device)
    levels = ops.quantize_uint8(images)  # the photos are 8-bit: these are exactly the decoded levels

    def once(seed: int) -> None:
        gens = [make_generator(seed * 100 + i) for i in range(images.shape[0])]
        if spec.apply_uint8 is not None:
            ops.apply_batch_uint8(spec, levels, params, gens, assets)[0].cpu()
        else:
            out, _ = ops.apply_batch(spec, images, params, gens, assets)
            ops.quantize_uint8(out).cpu()
    once(0)  # warm-up (caches, lazy init)
    return once


def time_ops(names: list[str], images: torch.Tensor, severity: int, seconds: float) -> dict[str, float]:
    """Best of ROUNDS rounds per op, ms per image; ``seconds`` per op in all.

    The rounds go round all ops in turn (op 1 .. op N, then again): the machine is a shared cloud
    VM, and a burst of contention then costs one round of several ops instead of every round of
    one. The minimum is the op's own cost. (The reference keeps five consecutive rounds per
    corruption, its faster way: interleaved, some of its corruptions ran up to 50% slower.)
    """
    runners = {n: op_runner(n, images, severity) for n in names}
    best = dict.fromkeys(names, float("inf"))
    for _ in range(ROUNDS):
        for name, once in runners.items():
            start, runs = time.perf_counter(), 0
            while time.perf_counter() - start < seconds / ROUNDS or runs < 2:
                once(runs + 1)
                runs += 1
            if images.is_cuda:
                torch.cuda.synchronize()
            best[name] = min(best[name], (time.perf_counter() - start) / (runs * images.shape[0]) * 1000)
    return best


def ms_per_call(step: Callable[[], object], seconds: float) -> float:
    """Mean ms of ``step()`` over ``seconds`` of repeated calls, after one warm-up call."""
    step()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    return (time.perf_counter() - start) / n * 1000


def jpeg_encode_ms(images: torch.Tensor, seconds: float) -> float:
    """ms per image of the CPU worker's save step: ``codec.encode_image`` (Pillow, q85, optimize)."""
    pixels = [ops.quantize_uint8(im).cpu() for im in images]
    return ms_per_call(lambda: [encode_image(p, "jpg", 85) for p in pixels], seconds) / len(pixels)


def speedup(reference_ms: float, ours_ms: float) -> str:
    ratio = reference_ms / ours_ms
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


def primitive_costs(seconds: float) -> dict[str, float]:
    """ms per 224x224 image of steps some corruptions cannot avoid, for comparison with the table.

    Drawing one normal / one uniform per element from a sample's own generator (the noise ops), one
    elementwise float32 pass, and libjpeg / Pillow doing the reference's own work (jpeg_compression,
    pixelate)."""
    from torchvision.io import decode_jpeg, encode_jpeg

    generator = make_generator(0)
    image = photos_batch(1)[0]
    levels = (image * 255).to(torch.uint8)
    pil = Image.fromarray(levels.permute(1, 2, 0).numpy())
    steps = {
        "torch.randn, 3x224x224 float32": lambda: torch.randn(3, 224, 224, generator=generator),
        "torch.rand, 3x224x224 float64": lambda: torch.rand(3, 224, 224, generator=generator,
                                                            dtype=torch.float64),
        "one elementwise pass (x * c), float32": lambda: image * 0.5,
        "float -> 8-bit levels -> float (quantize_uint8, / 255)": lambda: ops.quantize_uint8(image).float() / 255,
        "libjpeg encode + decode, quality 15 (torchvision; jpeg_compression's GPU route)":
            lambda: decode_jpeg(encode_jpeg(levels, 15)),
        "libjpeg encode + decode, quality 15 (Pillow, as imagecorruptions; jpeg_compression's CPU route)":
            lambda: pillow_jpeg_round_trip(pil, 15),
        "Pillow BOX resize 224 -> 89 -> 224": lambda: pil.resize((89, 89), Image.BOX).resize((224, 224), Image.BOX),
        "Pillow BOX resize 224 -> 89 (pixelate's CPU route; it gathers the upsampling)":
            lambda: pil.resize((89, 89), Image.BOX),
    }
    return {label: ms_per_call(step, seconds / 5) for label, step in steps.items()}


def pillow_jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    decoded = Image.open(buffer)
    decoded.load()
    return decoded


def reference_times(python: str, severity: int, names: list[str]) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([python, str(ROOT / "bench" / "time_imagecorruptions.py"), "--severity", str(severity),
                          *names], capture_output=True, text=True, env=env, check=True).stdout
    times = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "ms/img":
            times[parts[0]] = float(parts[1])
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=None, help="default: the worker's kernel batch")
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--reference-python", default=None)
    parser.add_argument("--repeat", type=int, default=1, help="alternate ours and the reference N times")
    parser.add_argument("--json", default=None)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(1)
        tune_heap()  # as a CPU worker does
    args.batch = args.batch or (CPU_KERNEL_BATCH if args.device == "cpu" else 32)
    images = photos_batch(args.batch).to(args.device)
    names = args.names or ops.list_corruptions()
    ref_names = [n for n in names if "imagenet-c" in ops.get_corruption(n).tags
                 or "imagenet-c-extra" in ops.get_corruption(n).tags]
    ours: dict[str, float] = {}
    ref: dict[str, float] = {}
    for _ in range(max(1, args.repeat)):
        for name, ms in time_ops(names, images, args.severity, args.seconds).items():
            ours[name] = min(ours.get(name, float("inf")), ms)
        if args.reference_python:
            for name, ms in reference_times(args.reference_python, args.severity, ref_names).items():
                ref[name] = min(ref.get(name, float("inf")), ms)
    jpeg = jpeg_encode_ms(images, args.seconds)
    primitives = primitive_costs(args.seconds) if args.device == "cpu" else {}
    machine = f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.device}"
    if args.device == "cuda":
        machine += f" ({torch.cuda.get_device_name()})"
    print(f"# {time.strftime('%Y-%m-%d')} | {machine} | severity {args.severity} | batch {args.batch} | "
          f"{'1 CPU thread' if args.device == 'cpu' else 'GPU'} | best of {max(1, args.repeat)} alternations\n")
    print("| corruption | corrupter ms/img | imagecorruptions 1.1.2 ms/img | speed-up |")
    print("|---|---:|---:|---:|")
    for n in names:
        r = ref.get(n)
        level = bench_level(n, args.severity)
        label = n if level == args.severity else f"{n} (level {level})"
        print(f"| {label} | {ours[n]:.2f} | {f'{r:.2f}' if r else '-'} | {speedup(r, ours[n]) if r else '-'} |")
    common = [n for n in ref_names if n in ref]
    if common:
        print(f"| **sum of {len(common)} ImageNet-C** | **{sum(ours[n] for n in common):.1f}** | "
              f"**{sum(ref[n] for n in common):.0f}** | **{sum(ref[n] for n in common) / sum(ours[n] for n in common):.0f}x** |")
    print(f"\nJPEG encode bound (PIL q85 optimize, 224x224): {jpeg:.2f} ms/img ({1000 / jpeg:.0f} img/s)")
    if primitives:
        print("\n| unavoidable step, one image | ms |\n|---|---:|")
        for label, ms in primitives.items():
            print(f"| {label} | {ms:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"ours_ms": ours, "reference_ms": ref, "jpeg_ms": jpeg, "primitives_ms": primitives,
                                               "machine": machine, "severity": args.severity}, indent=2))


if __name__ == "__main__":
    main()
