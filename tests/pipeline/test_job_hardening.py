"""The job on a real 2-CPU Ray cluster when it is asked for more than the cluster has, when the CPUs
are held by someone else, and when two runs of one config race to finish the same release."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from corrupter.cli.main import main as corrupter_main
from tests.badshards import write_bad_shard
from tests.conftest import RAY_TEST_ENV, REPO, run_cli
from tests.pipeline.releases import SAMPLE, reconcile, write_duplicate_keys_shard
from tests.processes import stop_process_group

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SMALL = ["--set", "corruptions=[{name: contrast, severities: [1, 2]}]", "--set", "run.variants_per_unit=1",
         "--set", "preprocess.max_pixels=4000000", "--no-progress"]


def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "corrupter", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **RAY_TEST_ENV})


def test_more_workers_than_cpus_run_on_those_that_start(ray_address, tmp_path):
    """`--set run.workers=4` on 2 CPUs (the README's flag) used to stop at 2 of 4 units forever. Here
    too: the bad-input corpus, two units per source, and every count reconciles."""
    write_bad_shard(tmp_path / "bad.tar")
    write_duplicate_keys_shard(tmp_path / "dupes.tar")
    done = run_cli("run", "configs/demo.yaml", "--address", ray_address, *SMALL, "--set", "run.workers=4",
                   "--set", f"input.shards=[{tmp_path / 'bad.tar'}, {tmp_path / 'dupes.tar'}]",
                   "--set", f"output.uri={tmp_path / 'out'}", timeout=240)
    assert done.returncode == 0, done.stderr
    assert "run.workers=4" in done.stderr and "holds 2 at a time" in done.stderr
    assert re.search(r"on [12] cpu worker\(s\)", done.stdout)  # those that started (2 fit the 2 CPUs)
    manifest = json.loads((tmp_path / "out" / "demo" / "1.0.0" / "manifest.json").read_text())
    assert len(manifest["shards"]) == 4
    reconcile(manifest)
    assert not (tmp_path / "out" / "demo" / "1.0.0" / "_work").exists()


def test_a_worker_no_node_can_hold_is_refused_before_any_work(ray_address, tmp_path):
    started = time.monotonic()
    done = run_cli("run", "configs/demo.yaml", "--address", ray_address, *SMALL, "--set",
                   "run.threads_per_worker=64", "--set", f"output.uri={tmp_path}", timeout=120)
    assert done.returncode == 2, done.stdout
    assert "run.threads_per_worker=64" in done.stderr and "largest node of the cluster has 2" in done.stderr
    assert "Traceback" not in done.stderr and time.monotonic() - started < 60
    assert not list(tmp_path.rglob("*.tar"))


HOLD = """
import sys, time, ray
ray.init(address=sys.argv[1], logging_level="ERROR")

@ray.remote(num_cpus=2)
class Hold:
    def ping(self):
        return 1

holder = Hold.remote()
ray.get(holder.ping.remote())
print("held", flush=True)
time.sleep(600)
"""


def test_workers_that_cannot_start_in_time_fail_the_job_clearly(ray_address, tmp_path):
    """Another job holds every CPU: the actors stay pending; the job says so after run.start_timeout_s."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, ray_address], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env={**os.environ, **RAY_TEST_ENV},
                              start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        done = run_cli("run", "configs/demo.yaml", "--address", ray_address, *SMALL, "--set", "run.start_timeout_s=3",
                       "--set", f"output.uri={tmp_path}", timeout=120)
    finally:
        stop_process_group(holder)
    assert done.returncode == 2, done.stdout
    assert "no worker started within run.start_timeout_s=3s" in done.stderr
    assert "0 of the cluster's 2 CPUs free now" in done.stderr and "Traceback" not in done.stderr


def test_two_runs_racing_for_one_release_leave_one_clean_release(ray_address, tmp_path):
    args = ["run", "configs/demo.yaml", "--address", ray_address, *SMALL, "--set", "run.workers=1",
            "--set", f"input.shards=[{SAMPLE}]", "--set", f"output.uri={tmp_path}"]
    runs = [start_cli(*args), start_cli(*args)]
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 3], results
    _, _, loser_err = next(r for r in results if r[0] == 3)
    assert "another run finished this release" in loser_err and "Traceback" not in loser_err
    release = tmp_path / "demo" / "1.0.0"
    assert not (release / "_work").exists()
    assert corrupter_main(["verify", str(release)]) == 0
    manifest = json.loads((release / "manifest.json").read_text())
    assert [s["path"] for s in manifest["shards"]] == ["contrast/1/val-000000.tar", "contrast/2/val-000000.tar"]
    listed = [s["path"] for s in manifest["shards"]] + [f["path"] for f in manifest["files"]] + ["manifest.json"]
    assert sorted(p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()) == sorted(listed)

