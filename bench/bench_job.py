"""End to end: real jobs on a private local Ray cluster, one fresh driver process per job.

    python bench/bench_job.py [--recipes imagenet-c demo] [--workers 1 2] [--repeat 3]
                              [--samples 64] [--set KEY=VALUE ...]

Recipes (the shipped configs, input replaced by shards of the sample photos under new keys):
- ``imagenet-c``: configs/imagenet-c.yaml as shipped (19 corruptions x 5 severities, batch 32, 19
  variants per unit, Pillow JPEG q85 optimize), on 2 shards of ``--samples`` photos;
- ``demo``: configs/demo.yaml's five founding corruptions x 5 severities, with
  ``run.variants_per_unit=25`` (one decode per input shard; the demo's own 5 suits its 2-shard
  input), on 4 shards of ``--samples`` photos.
Each job runs every stage: decode, crop, corrupt, JPEG, tar, sha256, publish, receipts, manifest.
Reported per job: output images per second after start-up (the job's time minus the time until the
first worker is ready: Ray, the actors and their imports, shown apart), the peak worker RSS the job
reports, the driver's own peak RSS, and the CPU the processes that are not workers use while the
workers work (the driver and Ray's: raylet, GCS, ...; from the first worker ready to the last
unit done, in cores), which is what a worker-count default must leave room for. Each configuration runs ``--repeat`` times, interleaved, best kept; the load average
of the machine is printed before and after. Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sampleshards import SAMPLE, write_repeated_shard  # noqa: E402

RECIPES = {
    "imagenet-c": {"config": "configs/imagenet-c.yaml", "shards": 2, "sets": []},
    "demo": {"config": "configs/demo.yaml", "shards": 4,
             "sets": ["run.variants_per_unit=25", "run.batch_size=32"]},
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (read from /proc: children first found by their parent id)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def is_worker(pid: int) -> bool:
    try:
        return b"ShardActor" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def run_one(job: dict) -> dict:
    """In a fresh process: run the job's release and measure it (this process is the driver)."""
    from corrupter.config import load_config
    from corrupter.pipeline.driver import run_release

    from corrupter.pipeline import ray_pool

    config = load_config(str(ROOT / job["config"]), job["sets"])
    ready: dict[str, float] = {}
    answered = ray_pool._Pool._answered

    def first_ready_snapshot(pool, ref):  # CPU of the non-worker processes when work begins
        answered(pool, ref)
        if pool.started and not ready:
            ready.update(wall=time.monotonic(), cpu=non_worker_cpu())

    end: dict[str, float] = {}
    run_units = ray_pool.run_units

    def last_unit_snapshot(*args, **kwargs):  # ...and when the last unit is done (before the manifest)
        result = run_units(*args, **kwargs)
        end.update(wall=time.monotonic(), cpu=non_worker_cpu())
        return result

    ray_pool._Pool._answered = first_ready_snapshot
    ray_pool.run_units = last_unit_snapshot
    summary = run_release(config, progress=False)
    return {"images": summary.images, "seconds": summary.seconds, "startup": summary.startup_seconds,
            "rate": summary.images_per_second_after_startup, "workers": summary.workers,
            "worker_rss_mib": summary.peak_worker_rss_bytes / 2**20,
            "driver_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "overhead_cores": (end["cpu"] - ready["cpu"]) / (end["wall"] - ready["wall"])}


def non_worker_cpu() -> float:
    """CPU seconds so far of this process (the driver) and of Ray's processes below it, workers excluded."""
    others = [p for p in descendants(os.getpid()) if not is_worker(p)]
    total = time.process_time()
    for pid in others:
        try:
            total += cpu_seconds(pid)
        except OSError:  # exited meanwhile
            pass
    return total


def make_shards(folder: Path, count: int, samples: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"val-{i:06d}.tar"
        write_repeated_shard(path, samples, sorted(SAMPLE.glob("val-*.tar")))
        paths.append(str(path))
    return "[" + ", ".join(paths) + "]"


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, default=64, help="samples per input shard")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config overrides for every job, e.g. on a GPU node: --set run.device=cuda")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child: JSON of one job
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return
    results: dict[tuple[str, int], list[dict]] = {}
    loads = [load()]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {r: make_shards(Path(tmp) / r, RECIPES[r]["shards"], args.samples) for r in args.recipes}
        for attempt in range(args.repeat):
            for recipe in args.recipes:
                for workers in args.workers:
                    out = Path(tmp) / f"out-{recipe}-{workers}-{attempt}"
                    sets = [f"input.shards={inputs[recipe]}", f"output.uri={out}", f"run.workers={workers}",
                            "run.threads_per_worker=1", *RECIPES[recipe]["sets"], *args.set]
                    job = json.dumps({"config": RECIPES[recipe]["config"], "sets": sets})
                    done = subprocess.run([sys.executable, __file__, "--one", job], cwd=ROOT, check=True,
                                          stdout=subprocess.PIPE, text=True,
                                          env={**os.environ, "PYTHONPATH": str(ROOT)})
                    result = json.loads(done.stdout.strip().splitlines()[-1])
                    result["load"] = load()
                    results.setdefault((recipe, workers), []).append(result)
                    shutil.rmtree(out, ignore_errors=True)
                    print(f"{recipe} x{workers}: {result['rate']:.0f} images/s after {result['startup']:.1f} s "
                          f"start-up, load {result['load']}", file=sys.stderr)
    loads.append(load())
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} end to end, 1 thread per worker, best of {args.repeat}, "
          f"{args.samples} samples per shard {' '.join(args.set)}; load average {loads[0]} before, "
          f"{loads[1]} after\n")
    print("| recipe | workers | output images | images/s after start-up (all runs) | start-up s | "
          "peak worker RSS MiB | driver peak RSS MiB | driver + Ray CPU while working, cores |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    best: dict[tuple[str, int], dict] = {}
    for (recipe, workers), runs in results.items():
        top = best[(recipe, workers)] = max(runs, key=lambda r: r["rate"])
        overhead = top["overhead_cores"]
        rates = ", ".join(f"{r['rate']:.0f}" for r in runs)
        print(f"| {recipe} | {workers} | {top['images']:,} | **{top['rate']:.0f}** ({rates}) | {top['startup']:.1f} | "
              f"{max(r['worker_rss_mib'] for r in runs):.0f} | {top['driver_rss_mib']:.0f} | {overhead:.2f} |")
    for recipe in args.recipes:
        if (recipe, 1) in best and (recipe, 2) in best:
            scaling = best[(recipe, 2)]["rate"] / (2 * best[(recipe, 1)]["rate"])
            print(f"\n{recipe}: 1 -> 2 workers, scaling efficiency {scaling:.0%} (best against best)")


if __name__ == "__main__":
    main()
