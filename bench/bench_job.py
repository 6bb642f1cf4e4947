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
unit done, in cores), which is what a worker-count default must leave room for, and the output
images per CPU-second of the workers (what contention from other jobs on a shared machine does not
change much: wall-clock rates and scaling do need an idle machine). Each configuration runs ``--repeat`` times, interleaved, best kept; the load average
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

from tests.sampleshards import SAMPLE, write_repeated_shard

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
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        return b"UnitActor" in cmdline or b"ShardActor" in cmdline  # the pool's actor (ShardActor before 0.1)
    except OSError:
        return False


def run_one(job: dict) -> dict:
    """In a fresh process: run the job's release and measure it (this process is the driver).

    Start-up: from the call to the first worker ready. Rate: output images over the rest of the
    job (the last worker starting, the units, publishing, the manifest)."""
    sys.path.insert(0, job["code"])  # that checkout's corrupter, not this script's
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # the job's private cluster on 127.0.0.1 only
    from corrupter.config import load_config
    from corrupter.pipeline import ray_pool  # imports Ray: after the switch above
    from corrupter.pipeline.driver import run_release

    config = load_config(job["config"], job["sets"])
    ready: dict[str, float] = {}
    answered = ray_pool._Pool._answered

    def first_ready_snapshot(pool, ref):  # CPU of the non-worker processes when work begins
        answered(pool, ref)
        if pool.started and not ready:
            ready.update(wall=time.monotonic(), cpu=cpu_by_process())

    end: dict[str, float] = {}
    dispatch = ray_pool._Pool.run

    def last_unit_snapshot(pool, *args, **kwargs):  # ...and when the last unit is done: before the
        dispatch(pool, *args, **kwargs)               # pool kills its actors (and the manifest)
        end.update(wall=time.monotonic(), cpu=cpu_by_process())

    ray_pool._Pool._answered = first_ready_snapshot
    ray_pool._Pool.run = last_unit_snapshot
    began = time.monotonic()
    summary = run_release(config, progress=False)
    done = time.monotonic()
    workers, others = cpu_used(ready["cpu"], end["cpu"])
    return {"images": summary.images, "seconds": done - began, "startup": ready["wall"] - began,
            "rate": summary.images / (done - ready["wall"]), "workers": summary.workers,
            "worker_rss_mib": summary.peak_worker_rss_bytes / 2**20,
            "driver_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "overhead_cores": others / (end["wall"] - ready["wall"]),
            "worker_cpu_rate": summary.images / workers if workers else float("nan")}


def cpu_by_process() -> dict[int, tuple[float, bool]]:
    """CPU seconds so far and whether it is a worker, for this process (the driver) and every
    process below it (Ray's, and the workers)."""
    found = {os.getpid(): (time.process_time(), False)}
    for pid in descendants(os.getpid()):
        try:
            found[pid] = (cpu_seconds(pid), is_worker(pid))
        except OSError:  # exited meanwhile
            pass
    return found


def cpu_used(before: dict[int, tuple[float, bool]], after: dict[int, tuple[float, bool]]) -> tuple[float, float]:
    """(workers', others') CPU seconds between two snapshots. A process is classed by what it is at
    the end: Ray's idle workers become the actors."""
    workers = others = 0.0
    for pid, (cpu, worker) in after.items():
        used = cpu - before.get(pid, (0.0, False))[0]
        if worker:
            workers += used
        else:
            others += used
    return workers, others


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
    parser.add_argument("--shards", type=int, default=None,
                        help="input shards per recipe (default: each recipe's own, 2 or 4); more shards "
                             "make more units, so the last unit's tail weighs less in the rate")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config overrides for every job, e.g. on a GPU node: --set run.device=cuda")
    parser.add_argument("--code", action="append", default=[], metavar="DIR",
                        help="run the jobs with the corrupter of this checkout (repeatable: side by side, "
                             "e.g. the main branch against this one); default: this checkout")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child: JSON of one job
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return
    codes = [Path(c).resolve() for c in args.code] or [ROOT]
    results: dict[tuple[str, str, int], list[dict]] = {}
    loads = [load()]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {r: make_shards(Path(tmp) / r, args.shards or RECIPES[r]["shards"], args.samples) for r in args.recipes}
        for attempt in range(args.repeat):
            for recipe in args.recipes:
                for workers in args.workers:
                    for code in codes:
                        out = Path(tmp) / f"out-{recipe}-{workers}-{attempt}"
                        sets = [f"input.shards={inputs[recipe]}", f"output.uri={out}", f"run.workers={workers}",
                                "run.threads_per_worker=1", *RECIPES[recipe]["sets"], *args.set]
                        job = json.dumps({"config": str(code / RECIPES[recipe]["config"]), "sets": sets,
                                          "code": str(code)})
                        done = subprocess.run([sys.executable, __file__, "--one", job], cwd=code, check=True,
                                              stdout=subprocess.PIPE, text=True,
                                              env={**os.environ, "PYTHONPATH": str(code)})
                        result = json.loads(done.stdout.strip().splitlines()[-1])
                        result["load"] = load()
                        results.setdefault((code.name, recipe, workers), []).append(result)
                        shutil.rmtree(out, ignore_errors=True)
                        print(f"{code.name} {recipe} x{workers}: {result['rate']:.0f} images/s after "
                              f"{result['startup']:.1f} s start-up, load {result['load']}", file=sys.stderr)
    loads.append(load())
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} end to end, 1 thread per worker, best of {args.repeat}, "
          f"{args.samples} samples per shard {' '.join(args.set)}; load average {loads[0]} before, "
          f"{loads[1]} after\n")
    print("| code | recipe | workers | output images | images/s after start-up (all runs) | start-up s | "
          "images per worker CPU-second | peak worker RSS MiB | driver peak RSS MiB | driver + Ray CPU while "
          "working, cores |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    best: dict[tuple[str, str, int], dict] = {}
    for (code, recipe, workers), runs in sorted(results.items()):
        top = best[(code, recipe, workers)] = max(runs, key=lambda r: r["rate"])
        rates = ", ".join(f"{r['rate']:.0f}" for r in runs)
        print(f"| {code} | {recipe} | {workers} | {top['images']:,} | **{top['rate']:.0f}** ({rates}) | "
              f"{top['startup']:.1f} | {max(r['worker_cpu_rate'] for r in runs):.0f} | "
              f"{max(r['worker_rss_mib'] for r in runs):.0f} | {top['driver_rss_mib']:.0f} | "
              f"{top['overhead_cores']:.2f} |")
    for code in codes:
        for recipe in args.recipes:
            one, two = best.get((code.name, recipe, 1)), best.get((code.name, recipe, 2))
            if one and two:
                print(f"\n{code.name} {recipe}: 1 -> 2 workers, scaling efficiency {two['rate'] / (2 * one['rate']):.0%} "
                      f"(best against best)")


if __name__ == "__main__":
    main()
