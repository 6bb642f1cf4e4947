"""Where a CPU worker's memory goes: the Ray actor's floor before any work, then the ImageNet-C recipe.

    python bench/bench_worker_memory.py [--samples 64]

Issue 14 asks for a peak worker RSS of at most 600 MiB. This measures what that number is made of,
stage by stage, inside a real Ray actor (a private local cluster, 1 CPU per actor, one thread), as
the pool runs it: the bare actor, the actor after importing torch (nothing else), after building a
ShardWorker for configs/imagenet-c.yaml at its default settings, and after each work unit of one
input shard of ``--samples`` photos (clean + 19 x 5 = 96 variants, 32 per unit). Each stage reports
VmRSS, the peak so far (VmHWM) and the split of RSS into anonymous (private to the process) and
file-backed pages (shared libraries: one copy in the page cache for every worker of a node).

It also loads the pinned torch build's shared libraries one by one in a fresh process (ctypes, in
libtorch_cuda.so's dependency order) to show which of them the floor comes from: the CUDA build
maps its CUDA libraries (cuBLASLt, NVRTC, nvJitLink...) into every process that imports torch,
GPU or not. Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# In libtorch_cuda.so's dependency order; the torch build's own libraries last.
LIBRARIES = ["torch/lib/libc10.so", "torch/lib/libtorch_cpu.so", "nvidia/cu13/lib/libcublasLt.so.13",
             "nvidia/cu13/lib/libcublas.so.13", "nvidia/cu13/lib/libnvrtc.so.13",
             "nvidia/cu13/lib/libnvJitLink.so.13", "torch/lib/libtorch_cuda.so"]


def memory() -> dict[str, int]:
    """This process's memory in MiB, from /proc/self/status."""
    status = Path("/proc/self/status").read_text()

    def mib(key: str) -> int:
        return int(re.search(rf"{key}:\s+(\d+)", status).group(1)) >> 10

    return {"rss": mib("VmRSS"), "peak": mib("VmHWM"), "anon": mib("RssAnon"), "file": mib("RssFile")}


def load_libraries_one_by_one() -> list[tuple[str, dict[str, int]]]:
    """In this process (which must not have imported torch): memory after each library loads."""
    import ctypes
    import importlib.util

    import numpy  # noqa: F401  (the baseline row: python + numpy)

    # torch found without importing it: its __init__ would load every library at once.
    root = os.path.dirname(importlib.util.find_spec("torch").submodule_search_locations[0])
    rows = [("python + numpy", memory())]
    for lib in LIBRARIES:
        ctypes.CDLL(os.path.join(root, lib), mode=ctypes.RTLD_GLOBAL)
        rows.append((lib, memory()))
    return rows


def library_floor() -> list[tuple[str, dict[str, int]]]:
    """``load_libraries_one_by_one`` in a fresh process (this one has loaded what it needed)."""
    done = subprocess.run([sys.executable, __file__, "--libraries"], stdout=subprocess.PIPE, text=True,
                          check=True)
    return [tuple(row) for row in json.loads(done.stdout.strip().splitlines()[-1])]


def actor_stages(samples: int) -> list[tuple[str, dict[str, int]]]:
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    from corrupter.config import load_config
    from corrupter.pipeline.plan import plan_units
    from tests.sampleshards import write_repeated_shard

    @ray.remote(num_cpus=1)
    class Probe:
        def memory(self) -> dict[str, int]:
            return memory()

        def import_torch(self) -> dict[str, int]:
            import torch  # noqa: F401

            return memory()

        def build(self, config) -> dict[str, int]:
            from corrupter.pipeline.worker import ShardWorker

            self.worker = ShardWorker(config, device="cpu")
            return memory()

        def run(self, unit) -> dict[str, int]:
            self.worker.run(unit)
            return memory()

    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "in-000000.tar"
        write_repeated_shard(shard, samples)
        config = load_config(str(ROOT / "configs" / "imagenet-c.yaml"),
                             [f'input.shards=["{shard}"]', f"output.uri={tmp}/out"])
        units = plan_units(config)
        ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}},
                 _temp_dir=tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
        try:
            probe = Probe.remote()
            stages = [("Ray actor, nothing imported", ray.get(probe.memory.remote())),
                      ("+ import torch", ray.get(probe.import_torch.remote())),
                      ("+ ShardWorker (corrupter, Pillow, config, storage)", ray.get(probe.build.remote(config)))]
            for n, unit in enumerate(units, 1):
                first = unit.outputs[0].variant
                label = (f"after unit {n} of {len(units)} ({len(unit.outputs)} variants from "
                         f"{first.corruption}/{first.name})")
                stages.append((label, ray.get(probe.run.remote(unit))))
        finally:
            ray.shutdown()
    return stages


def table(rows: list[tuple[str, dict[str, int]]]) -> str:
    lines = ["| stage | RSS MiB | peak RSS so far MiB | anonymous MiB | file-backed MiB |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {label} | {m['rss']} | {m['peak']} | {m['anon']} | {m['file']} |" for label, m in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--libraries", action="store_true", help=argparse.SUPPRESS)  # child of library_floor
    args = parser.parse_args()
    if args.libraries:
        print(json.dumps(load_libraries_one_by_one()))
        return
    libraries = library_floor()
    stages = actor_stages(args.samples)
    load = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} · load {load[0]:.1f} · {args.samples} samples, "
          f"configs/imagenet-c.yaml at its defaults\n")
    print("## A Ray CPU worker, stage by stage\n")
    print(table(stages))
    print("\n## The pinned torch build's libraries, loaded one by one (fresh process, no Ray)\n")
    print(table(libraries))


if __name__ == "__main__":
    main()
