"""zoom_blur on one CPU thread: PyTorch's bilinear resize against a bit-identical gather route.

    OMP_NUM_THREADS=1 python bench/bench_zoom_routes.py [--batch 4] [--rounds 5] [--levels-only]

Issue 14 asked whether zoom_blur could compute only the kept window of each zoom, or accumulate the
zooms through precomputed index/weight tables, with the same float32 output bit for bit. This script
keeps the measured answer reproducible:

- the geometry: per side, every ImageNet-C factor zooms a crop of ceil(n / z) pixels to n or n + 1
  (trim 0), so F.interpolate computes at most one row and one column that are thrown away;
- the gather route: each zoom's taps gathered through index tables (rows by index_select, columns by
  np.take) and combined in the arithmetic of torch's CPU channels-last kernel (the one a single thread
  runs on 3 channels: lambdas from the float32 product scale * o, corner weights h * w in float32, then
  fma(i11, w11, fma(i10, w10, fma(i00, w00, i01 * w01))) as this build's compiler contracts it). It is
  checked equal to ``zoom_blur``'s output bit for bit at every severity, on the real photos in batches
  of 1 to 6 and on a 3x200x257 batch (NCHW and channels-last), then both routes are timed (ms per
  image, best of ``--rounds`` taken round the two in turn);
- the levels together: ``zoom_blur`` called once per level against one call of its multi-level
  kernel (``zoom_blur_levels``, each distinct zoom made once), for the five levels and for levels 2-5
  (where a unit holds only some levels: the recipe's 24 variants per unit, before 2026-11-30, put
  level 1 in another unit); checked equal, timed the same way.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corrupter.ops import quantize_uint8
from corrupter.ops._scipy import centred_clipped_zoom, clipped_zoom_geometry
from corrupter.ops.blur import ZOOM_SEVERITIES, zoom_blur, zoom_blur_levels


def kernel_taps(size: int, factor: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices (crop start added) and float32 lambdas of the kept outputs along one side."""
    start, crop, zoomed, trim = clipped_zoom_geometry(size, factor)
    scale = np.float32(crop - 1) / np.float32(zoomed - 1)  # area_pixel_compute_scale<float>
    real = scale * np.arange(trim, trim + size).astype(np.float32)  # float32 product, as the kernel
    index0 = np.minimum(np.floor(real).astype(np.int64), crop - 1)
    lambda1 = np.clip(real - index0.astype(np.float32), np.float32(0), np.float32(1))
    index1 = index0 + (index0 < crop - 1)
    return (torch.from_numpy(start + index0), torch.from_numpy(start + index1),
            torch.from_numpy(np.float32(1) - lambda1), torch.from_numpy(lambda1))


def gathered_zoom(images: torch.Tensor, factor: float) -> torch.Tensor:
    """``centred_clipped_zoom`` through index tables, NCHW float32, bit for bit on this build."""
    rows0, rows1, h0, h1 = kernel_taps(images.shape[-2], factor)
    cols0, cols1, w0, w1 = kernel_taps(images.shape[-1], factor)
    top, bottom = int(rows0[0]), int(rows1[-1]) + 1
    band = images[:, :, top:bottom].numpy()
    left = torch.from_numpy(np.take(band, cols0.numpy(), axis=3))
    right = torch.from_numpy(np.take(band, cols1.numpy(), axis=3))
    rows0, rows1 = rows0 - top, rows1 - top
    out = right.index_select(2, rows0).mul_(h0[:, None] * w1)
    out.addcmul_(left.index_select(2, rows0), h0[:, None] * w0)
    out.addcmul_(left.index_select(2, rows1), h1[:, None] * w0)
    return out.addcmul_(right.index_select(2, rows1), h1[:, None] * w1)


def unfused_zoom(images: torch.Tensor, factor: float) -> torch.Tensor:
    """``gathered_zoom`` with the kernel's sum rounded after every product (no fused multiply-add)."""
    rows0, rows1, h0, h1 = kernel_taps(images.shape[-2], factor)
    cols0, cols1, w0, w1 = kernel_taps(images.shape[-1], factor)
    upper, lower = images[:, :, rows0], images[:, :, rows1]
    return (upper[..., cols0] * (h0[:, None] * w0) + upper[..., cols1] * (h0[:, None] * w1)
            + lower[..., cols0] * (h1[:, None] * w0) + lower[..., cols1] * (h1[:, None] * w1))


def gathered_zoom_blur(images: torch.Tensor, factors: list[float]) -> torch.Tensor:
    """``zoom_blur`` with ``gathered_zoom``: same summation order, same division and clamp."""
    total = images.clone()
    for factor in factors:
        total += images if float(factor) == 1.0 else gathered_zoom(images, float(factor))
    return total.div_(len(factors) + 1).clamp_(0, 1)


def best_ms_per_image(runs: list, images: torch.Tensor, rounds: int) -> list[float]:
    """Best time of each run, taken round the runs in turn (a burst of load spoils a round, not a side)."""
    for run in runs:
        run(images)
    best = [float("inf")] * len(runs)
    for _ in range(rounds):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            run(images)
            best[i] = min(best[i], time.perf_counter() - start)
    return [seconds * 1000 / images.shape[0] for seconds in best]


def sharing_note() -> str:
    """What running the five levels together saves: a level whose factor list extends the one before
    could continue that level's running sum; any zoom's output depends only on its geometry, so
    ``zoom_blur_levels`` makes one zoom per distinct geometry."""
    lists = [[float(f) for f in params["factors"]] for params in ZOOM_SEVERITIES]
    zooms = [[clipped_zoom_geometry(224, f) for f in factors if f != 1.0] for factors in lists]
    needed = sum(len(level) - (len(before) if level[:len(before)] == before else 0)
                 for before, level in zip([[]] + zooms, zooms))
    distinct = len({geometry for level in zooms for geometry in level})
    return (f"Across the five levels at 224 px: {sum(map(len, zooms))} zooms, {needed} when a level whose "
            f"factor list extends the one before continues its sum, {distinct} distinct geometries "
            f"(zoom_blur_levels makes one zoom of each).\n")


def thread_note(photos: torch.Tensor) -> str:
    """How zoom_blur's output moves on two threads, where torch runs its generic bilinear kernel."""
    floats = levels = 0
    for params in ZOOM_SEVERITIES:
        one = zoom_blur(photos, {}, **params)
        torch.set_num_threads(2)
        two = zoom_blur(photos, {}, **params)
        torch.set_num_threads(1)
        floats += int((one != two).sum())
        levels += int((quantize_uint8(one) != quantize_uint8(two)).sum())
    return (f"On 2 threads, over the five severities, {floats:,} float values and {levels} 8-bit values of "
            f"{5 * photos.numel():,} differ from one thread's.\n")


def levels_table(batch: torch.Tensor, rounds: int) -> None:
    """ms per image of several levels: one ``zoom_blur`` call each against one ``zoom_blur_levels`` call."""
    print("| levels | zooms one call per level | zooms in one call | bit-identical | per level ms/img "
          "| in one call ms/img | speed-up |")
    print("|---|---:|---:|---|---:|---:|---:|")
    size = batch.shape[-2], batch.shape[-1]
    for label, chosen in (("1-5", ZOOM_SEVERITIES), ("2-5", ZOOM_SEVERITIES[1:])):
        params = [dict(p) for p in chosen]
        zooms = [[clipped_zoom_geometry(n, f) for n in size] for p in params for f in p["factors"] if f != 1.0]
        distinct = len({tuple(g) for g in zooms})
        together = zoom_blur_levels(batch, params)
        identical = all(torch.equal(zoom_blur(batch, {}, **p), out) for p, out in zip(params, together))
        routes = [lambda x, ps=params: [zoom_blur(x, {}, **p) for p in ps],
                  lambda x, ps=params: zoom_blur_levels(x, ps)]
        apart, shared = best_ms_per_image(routes, batch, rounds)
        print(f"| {label} | {len(zooms)} | {distinct} | {'yes' if identical else 'NO'} | {apart:.2f} "
              f"| {shared:.2f} | {apart / shared:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4, help="images per kernel call (the worker's 4)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--levels-only", action="store_true", help="only the levels-together table")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the channels-last kernel, as a one-thread worker runs it

    photos = np.stack(list(np.load(ROOT / "tests" / "data" / "reference" / "photos224.npz").values()))
    photos = torch.from_numpy(photos).permute(0, 3, 1, 2).float().div(255).contiguous()
    odd = torch.rand(3, 3, 200, 257, generator=torch.Generator().manual_seed(0))
    batch = photos[torch.arange(args.batch) % photos.shape[0]].contiguous()

    if args.levels_only:
        print(f"# {time.strftime('%Y-%m-%d %H:%M')} | torch {torch.__version__} | 1 CPU thread "
              f"| batch {args.batch} | load {os.getloadavg()[0]:.2f}\n")
        print(sharing_note())
        levels_table(batch, args.rounds)
        print(f"\nload {os.getloadavg()[0]:.2f} at the end")
        return
    channels_last = photos.contiguous(memory_format=torch.channels_last)
    unfused = [(unfused_zoom(photos, f) != centred_clipped_zoom(channels_last, f)).float().mean().item()
               for f in (float(f) for f in ZOOM_SEVERITIES[2]["factors"][1:])]
    print(f"# {time.strftime('%Y-%m-%d')} | torch {torch.__version__} | 1 CPU thread | batch {args.batch} "
          f"| load {os.getloadavg()[0]:.2f}\n")
    print(f"Without fused multiply-adds, {min(unfused):.0%}-{max(unfused):.0%} of a zoom's values differ "
          f"(severity 3's factors, the photos).\n")
    print(thread_note(photos))
    print(sharing_note())
    levels_table(batch, args.rounds)
    print()
    print("| severity | zooms | zoomed side at 224 | trim at 200/224/257 | bit-identical "
          "| torch ms/img | gather ms/img | ratio |")
    print("|---|---:|---|---:|---|---:|---:|---:|")
    for severity, params in enumerate(ZOOM_SEVERITIES, start=1):
        factors = [float(f) for f in params["factors"]]
        zoomed = sorted({clipped_zoom_geometry(224, f)[2] for f in factors if f != 1.0})
        trims = sorted({clipped_zoom_geometry(n, f)[3] for f in factors if f != 1.0 for n in (200, 224, 257)})
        inputs = [photos[torch.arange(count) % photos.shape[0]] for count in range(1, 7)]
        inputs += [odd, odd.contiguous(memory_format=torch.channels_last)]
        identical = all(torch.equal(zoom_blur(x, {}, factors=factors), gathered_zoom_blur(x, factors))
                        for x in inputs)
        routes = [lambda x, f=factors: zoom_blur(x, {}, factors=f),
                  lambda x, f=factors: gathered_zoom_blur(x, f)]
        ours, gathered = best_ms_per_image(routes, batch, args.rounds)
        print(f"| {severity} | {len(factors) - 1} | {'/'.join(map(str, zoomed))} "
              f"| {'/'.join(map(str, trims))} "
              f"| {'yes' if identical else 'NO'} | {ours:.2f} | {gathered:.2f} | {gathered / ours:.1f}x |")


if __name__ == "__main__":
    main()
