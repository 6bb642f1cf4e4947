"""The Fourier heat-map recipe (configs/fourier-heatmap.yaml) at scale: 3,969 variants.

    python bench/bench_heatmap.py [--skip-full-run]

1. Planning at ImageNet val's size (50 input shards of 1,000, nothing read): config validation,
   plan_units, the dry run before the claim, and the manifest of 3,969 x 50 = 198,450 shards built,
   written, parsed and checked as `verify` does (from receipts made up with the measured sizes).
2. Resume: the work area of the sample-shard run (3,969 x 2 receipts and shards) checked by
   completed_receipts, as a rerun does before it skips finished shards.
3. End to end, the real CLI on one worker with one thread: the full 63 x 63 grid on the two sample
   shards (select fraction 0.5: 4 of the 6 photos, so 15,876 output images), progress bar on; and a
   9 x 9 grid on 2 shards of 48 samples (every 2nd sample: 48 photos, 3,888 output images), as the
   recipe's PNG and, for the encoder's share, as JPEG.
4. Where a worker's time goes: cProfile of ShardWorker.run in-process on one unit of the 9 x 9 grid,
   and the encoders alone on noisy 224 x 224 images (PNG at zlib levels 1 and 6, JPEG q85).
Prints Markdown for docs/benchmarks.md, with the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch

from corrupter.config import config_digest, load_config, release_identity
from corrupter.io.storage import LocalStorage
from corrupter.pipeline.dryrun import dry_run_variants
from corrupter.pipeline.plan import plan_units, planned_shards
from corrupter.release.layout import receipt_path
from corrupter.release.lifecycle import completed_receipts
from corrupter.release.manifest import build_manifest, dump_manifest, parse_manifest
from corrupter.release.receipts import Receipt
from corrupter.release.verify import check_config, check_counts
from tests.sampleshards import SAMPLE, write_repeated_shard

RECIPE = ROOT / "configs" / "fourier-heatmap.yaml"
IMAGENET_VAL = "input.shards=/data/imagenet/shards/val-{000000..000049}.tar"


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def fake_receipts(units, samples: int, shard_bytes: int) -> list[Receipt]:
    return [Receipt.model_validate({"path": o.path, "corruption": o.variant.corruption, "variant": o.variant.name,
             "level": o.variant.level, "params": o.variant.param_dict,
             "source": {"uri": u.source, "sha256": f"{u.source_index:064x}", "bytes": 150_000_000, "errors": []},
             "sha256": f"{hash(o.path) & (2**64 - 1):064x}", "bytes": shard_bytes, "samples": samples,
             "samples_read": 1000, "samples_selected": samples, "quarantined": [], "device_type": "cpu"})
            for u in units for o in u.outputs]


def kernel_per_variant(config, variants, threads: int) -> float:
    """Seconds per variant of the dry run before the check hook: every variant's kernel, on ``threads``."""
    from corrupter import ops
    from corrupter.pipeline.dryrun import _run_once, dry_run_side

    side = dry_run_side(config)
    image = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    spec = ops.get_corruption("fourier_basis_noise")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _, seconds = timed(lambda: [_run_once(spec, v, image) for v in variants])
    finally:
        torch.set_num_threads(before)
    return seconds / len(variants)


def planning(png_bytes_per_image: float) -> None:
    default_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    config, t_load = timed(load_config, RECIPE, [IMAGENET_VAL])
    units, t_plan = timed(plan_units, config)
    outputs = sum(len(u.outputs) for u in units)
    ran, t_dry = timed(dry_run_variants, config, (o.variant for u in units for o in u.outputs))
    sample = [o.variant for o in units[0].outputs[:63]] + [o.variant for o in units[40].outputs[:63]]
    old_default = kernel_per_variant(config, sample, default_threads)
    old_one = kernel_per_variant(config, sample, 1)
    receipts = fake_receipts(units, 20, int(20 * png_bytes_per_image) + 10240 * 3)
    manifest, t_build = timed(build_manifest, name=config.name, version=config.version,
                              config=release_identity(config), digest=config_digest(config),
                              seed_scheme="seed-v1", receipts=receipts)
    data, t_dump = timed(dump_manifest, manifest)
    parsed, t_parse = timed(parse_manifest, data, "manifest.json")
    _, t_check = timed(lambda: check_config(parsed, planned_shards) + check_counts(parsed))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n## Planning at ImageNet val size (50 input shards), load average {load()}\n")
    print("| step | result | seconds |\n|---|---|---:|")
    print(f"| load + validate the config | 3,969 variants | {t_load:.2f} |")
    print(f"| plan_units | {len(units):,} units, {outputs:,} output shards | {t_plan:.2f} |")
    print(f"| dry run before the claim | {ran} kernel call(s), 3,969 checks | {t_dry:.2f} |")
    print(f"| the former dry run: a kernel call per variant, torch's {default_threads} threads | 3,969 x "
          f"{old_default * 1e3:.1f} ms | {old_default * 3969:.0f} (from {len(sample)}) |")
    print(f"| the same on one thread | 3,969 x {old_one * 1e3:.1f} ms | {old_one * 3969:.1f} (from {len(sample)}) |")
    print(f"| build_manifest (198,450 receipts) | | {t_build:.2f} |")
    print(f"| dump_manifest | {len(data) / 1e6:.1f} MB ({len(json.dumps(manifest.model_dump(), separators=(',', ':'))) / 1e6:.1f} MB "
          f"without indentation) | {t_dump:.2f} |")
    print(f"| parse_manifest (schema) | | {t_parse:.2f} |")
    print(f"| verify's config and count checks | | {t_check:.2f} |")
    print(f"\npeak RSS of this process: {rss:,.0f} MiB")


def resume(release: Path) -> None:
    """completed_receipts over a finished run's work area (rebuilt: the commit removed it)."""
    manifest = json.loads((release / "manifest.json").read_text())
    config = load_config(RECIPE, [f"input.shards={json.dumps(manifest['config']['input']['shards'])}",
                                  "input.select.fraction=0.5"])
    storage = LocalStorage(release)
    for shard in manifest["shards"]:  # the receipts as the workers wrote them (the manifest's fields)
        receipt = {**shard, "source": {**shard["source"], "bytes": 0, "errors": []}, "samples_read": 0,
                   "samples_selected": 0, "quarantined": [], "device_type": "cpu"}
        storage.write_bytes(receipt_path(shard["path"]), json.dumps(receipt).encode())
    wanted = {o.path for u in plan_units(config) for o in u.outputs}
    done, seconds = timed(completed_receipts, storage, wanted)
    print(f"\ncompleted_receipts on resume: {len(done):,} receipts and shards checked in {seconds:.1f} s "
          f"({seconds / len(done) * 1e3:.2f} ms each; load average {load()})")


def run_job(out: Path, *sets: str, progress: bool = False) -> dict:
    cmd = [sys.executable, "-m", "corrupter", "run", str(RECIPE), "--set", f"output.uri={out}",
           "--set", "run.workers=1", "--set", "run.threads_per_worker=1",
           *[x for s in sets for x in ("--set", s)]] + ([] if progress else ["--no-progress"])
    done, seconds = timed(subprocess.run, cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    bar = [line for line in re.split(r"[\r\n]", done.stderr) if "corrupting" in line]
    release = out / "fourier-heatmap" / "1.0.0"
    manifest = json.loads((release / "manifest.json").read_text())
    return {"images": int(re.search(r"images\s+(\d+) written", done.stdout).group(1)),
            "rate": float(re.search(r"([\d.]+) images/s", done.stdout).group(1)),
            "wall": seconds, "shards": manifest["totals"]["shards"], "bytes": manifest["totals"]["bytes"],
            "manifest": (release / "manifest.json").stat().st_size, "bar": bar[-1].strip() if bar else "",
            "release": release}


def worker_profile(shard: Path, out: Path) -> None:
    """Seconds in PNG encoding, in the kernel and in all, for one 9 x 9 unit run in this process."""
    from corrupter.pipeline.worker import ShardWorker

    config = load_config(RECIPE, [f"input.shards=[{shard}]", f"output.uri={out}", "input.select={every: 2}",
                                  "corruptions.0.grid.i={range: [-4, 4]}", "corruptions.0.grid.j={range: [-4, 4]}",
                                  "run.variants_per_unit=81"])
    (unit,) = plan_units(config)
    worker = ShardWorker(config, "cpu")
    profile = cProfile.Profile()
    report = profile.runcall(worker.run, unit)
    stats = pstats.Stats(profile).stats
    def tottime(name: str) -> float:  # C methods are keyed "<method 'encode' of 'ImagingEncoder' objects>"
        return sum(v[2] for k, v in stats.items() if name in k[2])
    def cumtime(name: str) -> float:
        return max((v[3] for k, v in stats.items() if k[2] == name), default=0.0)
    encode = tottime("'encode' of 'ImagingEncoder'")
    print(f"\nworker profile, one unit ({report.images:,} images): {report.seconds:.1f} s in all, PNG encode "
          f"{encode:.1f} s, fourier_basis_noise {cumtime('fourier_basis_noise'):.1f} s "
          f"(load average {load()})")


def encode_costs() -> None:
    """ms and bytes per noisy 224 x 224 image: PNG at zlib levels 1 and 6 (codec.py uses 6), JPEG q85."""
    import numpy as np
    from PIL import Image

    from corrupter import ops
    from corrupter.seeding import make_generator

    photo = np.load(ROOT / "tests" / "data" / "reference" / "photos224.npz")
    image = torch.from_numpy(photo[min(photo)]).permute(2, 0, 1)[None].float() / 255
    spec = ops.get_corruption("fourier_basis_noise")
    print("\n| frequency | PNG level 1 ms / bytes | PNG level 6 ms / bytes | JPEG q85 ms / bytes |\n|---|---|---|---|")
    for i, j in ((0, 1), (8, 8), (31, -17)):
        noisy, _ = ops.apply_batch(spec, image, {"i": i, "j": j, "norm": 15.7}, [make_generator(0)])
        pil = Image.fromarray(ops.quantize_uint8(noisy)[0].permute(1, 2, 0).numpy())
        cells = []
        for kwargs in ({"format": "PNG", "compress_level": 1}, {"format": "PNG", "compress_level": 6},
                       {"format": "JPEG", "quality": 85, "optimize": True}):
            best, size = float("inf"), 0
            for _ in range(5):
                buffer = io.BytesIO()
                start = time.perf_counter()
                pil.save(buffer, **kwargs)
                best, size = min(best, time.perf_counter() - start), buffer.tell()
            cells.append(f"{best * 1e3:.1f} / {size:,}")
        print(f"| ({i}, {j}) | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-full-run", action="store_true", help="only the 9 x 9 run and the planning")
    parser.add_argument("--costs-only", action="store_true", help="only part 4 (profile and encoders)")
    parser.add_argument("--planning-only", action="store_true", help="only part 1 (planning at ImageNet size)")
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} heat-map recipe, load average {load()}")
    if args.planning_only:
        planning(91_536)  # bytes per image of the full-grid run (docs/benchmarks.md)
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        write_repeated_shard(Path(tmp) / "a.tar", 48, [SAMPLE / "val-000000.tar"])
        worker_profile(Path(tmp) / "a.tar", Path(tmp) / "out")
    encode_costs()
    torch.set_num_threads(threads)
    if args.costs_only:
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shards = [tmp / "in" / f"val-{i:06d}.tar" for i in range(2)]
        shards[0].parent.mkdir()
        for i, shard in enumerate(shards):
            write_repeated_shard(shard, 48, [SAMPLE / f"val-{i:06d}.tar"])
        reduced = (f"input.shards={json.dumps([str(s) for s in shards])}", "input.select={every: 2}",
                   "corruptions.0.grid.i={range: [-4, 4]}", "corruptions.0.grid.j={range: [-4, 4]}",
                   "run.variants_per_unit=81")
        small = run_job(tmp / "small", *reduced)
        jpeg = run_job(tmp / "jpeg", *reduced, "output.format=jpg")
        print("\n| run (one worker, one thread) | output images | output shards | images/s (job) | wall s "
              "(CLI) | bytes/image | manifest bytes |\n|---|---:|---:|---:|---:|---:|---:|")
        rows = [("9 x 9 grid, 2 shards x 48 samples, every 2nd", small),
                ("the same as JPEG q85 (not the recipe: the encode's share)", jpeg)]
        if not args.skip_full_run:
            full = run_job(tmp / "full", "input.select.fraction=0.5", progress=True)
            rows.append(("63 x 63 grid (the recipe), the 2 sample shards, fraction 0.5", full))
        for label, r in rows:
            print(f"| {label} | {r['images']:,} | {r['shards']:,} | {r['rate']:.1f} | {r['wall']:.0f} | "
                  f"{r['bytes'] / r['images']:,.0f} | {r['manifest']:,} |")
        if not args.skip_full_run:
            print(f"\nlast progress line: `{full['bar']}`")
            resume(full["release"])
        per_image = full if not args.skip_full_run else small
        planning(per_image["bytes"] / per_image["images"])
    print(f"\nload average at the end: {load()}")


if __name__ == "__main__":
    main()
