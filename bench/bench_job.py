"""End-to-end throughput and worker memory of real jobs on a local Ray cluster.

    python bench/bench_job.py [--workers 1] [--set KEY=VALUE ...]

1. The demo job on one worker with one thread: output images per second end to end (decode, crop,
   corrupt, JPEG encode, tar, publish), next to the JPEG-encode bound measured in the same run.
2. Peak RSS of a worker for 2 vs 16 input shards and for a shard of 48 vs 288 samples: streaming keeps
   it flat (bounded by batch_size x variants_per_unit, not by the number or size of shards).
Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sampleshards import SAMPLE, write_repeated_shard  # noqa: E402


def run_job(out: Path, *sets: str) -> dict[str, float]:
    cmd = [sys.executable, "-m", "corrupter", "run", str(ROOT / "configs" / "demo.yaml"), "--no-progress",
           "--set", f"output.uri={out}", *[x for s in sets for x in ("--set", s)]]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    images = int(re.search(r"images\s+(\d+) written", done.stdout).group(1))
    rate = float(re.search(r"([\d.]+) images/s", done.stdout).group(1))
    rss = float(re.search(r"peak worker RSS (\d+) MiB", done.stdout).group(1))
    return {"images": images, "images_per_s": rate, "rss_mib": rss}


def copies(folder: Path, count: int) -> str:
    """``count`` input shards (copies of the two sample shards), as a YAML list."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        target = folder / f"val-{i:06d}.tar"
        shutil.copy(SAMPLE / f"val-{i % 2:06d}.tar", target)
        paths.append(str(target))
    return "[" + ", ".join(paths) + "]"


def big_shard(path: Path, repeats: int) -> str:
    """One shard holding the six sample photos ``repeats`` times under distinct keys."""
    write_repeated_shard(path, 6 * repeats, sorted(SAMPLE.glob("val-*.tar")))
    return f"[{path}]"


def jpeg_encode_bound(seconds: float = 2.0) -> float:
    """Images/s of the codec step alone on this core: PIL JPEG quality 85, optimize, 224x224."""
    from bench_ops import jpeg_encode_ms, photos_batch  # the same measurement as the op benchmark's

    return 1000 / jpeg_encode_ms(photos_batch(5), seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config overrides for every job, e.g. on a GPU node: "
                             "--set run.device=cuda (GPU workers then encode with nvJPEG)")
    args = parser.parse_args()
    one_core = [f"run.workers={args.workers}", "run.threads_per_worker=1", "run.batch_size=32",
                "run.variants_per_unit=25", *args.set]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demo = run_job(tmp / "demo", *one_core)
        few = run_job(tmp / "few", *one_core, f"input.shards={copies(tmp / 'in2', 2)}")
        many = run_job(tmp / "many", *one_core, f"input.shards={copies(tmp / 'in16', 16)}")
        small = run_job(tmp / "small", *one_core, f"input.shards={big_shard(tmp / 'small.tar', 8)}")
        large = run_job(tmp / "large", *one_core, f"input.shards={big_shard(tmp / 'large.tar', 48)}")
    bound = jpeg_encode_bound()
    print(f"# {time.strftime('%Y-%m-%d')} end to end, {args.workers} worker(s) x 1 thread {' '.join(args.set)}\n")
    print(f"codec bound (JPEG q85 encode alone, 224x224, this core): {bound:.0f} images/s")
    print(f"demo job: {demo['images']} output images, {demo['images_per_s']:.1f} images/s "
          f"(includes Ray start-up and the manifest)")
    print("\n| input | output images | images/s | peak worker RSS MiB |\n|---|---:|---:|---:|")
    for label, r in (("2 shards x 3 samples", few), ("16 shards x 3 samples", many),
                     ("1 shard x 48 samples", small), ("1 shard x 288 samples", large)):
        print(f"| {label} | {r['images']} | {r['images_per_s']:.1f} | {r['rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
