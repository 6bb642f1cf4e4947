"""Nothing lost: a killed worker, a killed driver and bad input still give the undisturbed release."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corrupter.config import load_config
from corrupter.pipeline.plan import plan_units
from tests.badshards import (
    BOMB_PIXELS,
    CONCATENATED_KEYS,
    EXPECTED,
    OK_KEYS,
    write_bad_shard,
    write_concatenated_shard,
    write_gzip_bomb,
    write_gzip_of_cut_tar,
    write_truncated_shard,
)
from tests.conftest import RAY_TEST_ENV, REPO, run_cli
from tests.pipeline.test_e2e import shard_digests, without_timestamp
from tests.processes import listening_sockets, session_pids

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# Enough small units (2 shards x 45 variants, one variant per unit) for a kill to land mid-job.
HEAVY = ["--set", "run.variants_per_unit=1", "--set", "run.batch_size=1", "--set", "run.workers=2",
         "--set", "corruptions=[{name: fog}, {name: contrast}, {name: fourier_basis_noise, "
                  "grid: {i: [0, 4, 16, 32, 48], j: [2, 8, 20, 40, 60, 90, 100]}}]"]


def start_run(out: Path, address: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "corrupter", "run", "configs/demo.yaml", "--address", address, "--no-progress",
         "--set", f"output.uri={out}", *HEAVY, *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **RAY_TEST_ENV})


def published(out: Path) -> int:
    return len(list(out.rglob("*.tar")))


def wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError("condition not reached")


@pytest.fixture(scope="module")
def undisturbed(ray_address, tmp_path_factory):
    out = tmp_path_factory.mktemp("undisturbed")
    done = start_run(out, ray_address)
    stdout, stderr = done.communicate(timeout=600)
    assert done.returncode == 0, stderr
    return out / "demo" / "1.0.0"


def cluster_actor_pids(address: str, class_name: str = "UnitActor") -> list[int]:
    """Processes of ``class_name`` actors of the cluster at ``address``, and of no other cluster on
    this machine: the head runs in a session of its own (tests/processes.py ray_head), and its
    raylet starts the workers inside it."""
    port = int(address.rsplit(":", 1)[1])
    everyone = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}
    gcs = [pid for pid, _, listening in listening_sockets(everyone) if listening == port]
    assert gcs, f"nothing listens on {address}"
    actors = []
    for pid in sorted(session_pids(os.getsid(gcs[0]))):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        if title.startswith(f"ray::{class_name}"):
            actors.append(pid)
    return actors


def test_sigkill_of_a_busy_worker_mid_job_retries_its_unit_and_changes_nothing(undisturbed, ray_address,
                                                                              tmp_path):
    """The driver logs each failed unit before it queues it again; a unit fails only when its actor
    dies under it. So one warning naming one unit shows the killed actor was busy with that unit
    (an idle actor would be restarted unnoticed), and a successful job shows the retry completed it:
    the manifest is written only when every unit has a receipt."""
    total = len(shard_digests(undisturbed))
    release = tmp_path / "demo" / "1.0.0"
    overrides = [*HEAVY[1::2], f"output.uri={tmp_path}"]
    units = {u.unit_id: u for u in plan_units(load_config(REPO / "configs" / "demo.yaml", overrides))}
    job = start_run(tmp_path, ray_address)
    wait_for(lambda: published(tmp_path) >= 10)
    actors = cluster_actor_pids(ray_address)
    assert actors, "no actor process of this test's cluster found to kill"
    os.kill(actors[0], signal.SIGKILL)
    killed_at = published(tmp_path)
    _, stderr = job.communicate(timeout=600)
    assert job.returncode == 0, stderr
    assert killed_at < total, "the job finished before the kill landed"
    retried = re.findall(r"unit (\S+) failed \(.*\); retrying", stderr)
    assert len(retried) == 1, f"expected one failed unit, the killed actor's: {stderr[-3000:]}"
    # (its shards may already have been published when the kill came before the reply: the retry
    # writes the same bytes again)
    outputs = {shard.path for shard in units[retried[0]].outputs}
    assert outputs <= set(shard_digests(release))
    assert shard_digests(release) == shard_digests(undisturbed)
    assert without_timestamp(release / "manifest.json") == without_timestamp(undisturbed / "manifest.json")


def test_killed_driver_then_rerun_resumes_and_matches(undisturbed, ray_address, tmp_path):
    job = start_run(tmp_path, ray_address)
    wait_for(lambda: published(tmp_path) >= 20)
    job.send_signal(signal.SIGKILL)
    job.wait()
    release = tmp_path / "demo" / "1.0.0"
    assert not (release / "manifest.json").exists()
    # `corrupter status` says how far it got and the exact command that resumes it: run that command
    status = run_cli("status", str(release))
    assert status.returncode == 1 and re.search(r"units     \d+ of 90 done", status.stdout), status.stdout
    resume = status.stdout.split("resume    ")[1].splitlines()[0]
    assert resume.startswith(f"cd {REPO} && corrupter run {REPO}/configs/demo.yaml --set output.uri={tmp_path} ")
    assert resume.endswith(f" --address {ray_address}"), resume
    rerun = subprocess.run(["bash", "-c", resume], capture_output=True, text=True, timeout=600, check=False,
                           env={**os.environ, **RAY_TEST_ENV,
                                "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"})
    assert rerun.returncode == 0, rerun.stderr
    skipped = int(rerun.stdout.split("(")[2].split(" of ")[0])
    assert skipped >= 10, rerun.stdout  # only the missing units ran
    assert shard_digests(release) == shard_digests(undisturbed)
    assert without_timestamp(release / "manifest.json") == without_timestamp(undisturbed / "manifest.json")


def test_a_different_config_cannot_finish_someone_elses_release(ray_address, tmp_path):
    job = start_run(tmp_path, ray_address)
    wait_for(lambda: published(tmp_path) >= 5)
    job.send_signal(signal.SIGKILL)
    job.wait()
    other = run_cli("run", "configs/demo.yaml", "--address", ray_address, "--no-progress",
                    "--set", f"output.uri={tmp_path}", *HEAVY, "--set", "output.jpeg_quality=90")
    assert other.returncode == 2 and "different config" in other.stderr


def test_bad_input_corpus_through_the_real_job(ray_address, tmp_path):
    """The whole bad-input corpus (issue 15 grew it: bombs, links, labels, concatenated and cut
    streams) in one job: it succeeds, and every input shard's samples are written or quarantined."""
    good = REPO / "data" / "sample" / "val-000000.tar"
    write_bad_shard(tmp_path / "bad.tar")
    write_truncated_shard(tmp_path / "cut.tar", good=3)
    write_concatenated_shard(tmp_path / "cat.tar")
    gz_kept = write_gzip_of_cut_tar(tmp_path / "gzcut.tar.gz")
    write_gzip_bomb(tmp_path / "bomb.tar.gz")
    names = ["bad.tar", "cut.tar", "cat.tar", "gzcut.tar.gz", "bomb.tar.gz"]
    shards = "[" + ", ".join([str(good)] + [str(tmp_path / n) for n in names]) + "]"
    common = ["--address", ray_address, "--no-progress", "--set", "corruptions=[{name: contrast, severities: [2]}]",
              "--set", f"preprocess.max_pixels={BOMB_PIXELS}"]
    mixed = run_cli("run", "configs/demo.yaml", *common, "--set", f"output.uri={tmp_path / 'mixed'}",
                    "--set", f"input.shards={shards}")
    assert mixed.returncode == 0, mixed.stderr
    clean = run_cli("run", "configs/demo.yaml", *common, "--set", f"output.uri={tmp_path / 'clean'}",
                    "--set", f"input.shards=[{good}]")
    assert clean.returncode == 0, clean.stderr
    manifest = json.loads((tmp_path / "mixed" / "demo" / "1.0.0" / "manifest.json").read_text())
    sources = {Path(s["uri"]).name: s for s in manifest["sources"]}
    written = {Path(s["source"]["uri"]).name: s["samples"] for s in manifest["shards"]}
    for name, s in sources.items():  # read = written + quarantined, from independent counts
        entries = [q for q in manifest["quarantined"] if q["source"] == s["uri"]]
        assert s["samples_read"] == written[name] + s["samples_quarantined"] == written[name] + len(entries), name
    assert written["bad.tar"] == len(OK_KEYS)
    assert written["cut.tar"] == 3 and sources["cut.tar"]["errors"]
    assert written["cat.tar"] == len(CONCATENATED_KEYS) and sources["cat.tar"]["errors"] == []
    assert written["gzcut.tar.gz"] == gz_kept and "no end-of-archive marker" in sources["gzcut.tar.gz"]["errors"][0]
    assert written["bomb.tar.gz"] == 2 and sources["bomb.tar.gz"]["samples_quarantined"] == 1
    reasons: dict[str, list[str]] = {}
    for q in manifest["quarantined"]:
        if q["source"].endswith("bad.tar"):
            reasons.setdefault(q["key"], []).append(q["reason"])
    for key, expected in EXPECTED.items():
        if expected != "ok":
            assert any(expected in r for r in reasons.get(key, [])), (key, reasons.get(key))
    # the good shard's output is untouched by its broken neighbours
    mixed_shard = tmp_path / "mixed" / "demo" / "1.0.0" / "contrast" / "2" / "val-000000.tar"
    clean_shard = tmp_path / "clean" / "demo" / "1.0.0" / "contrast" / "2" / "val-000000.tar"
    assert mixed_shard.read_bytes() == clean_shard.read_bytes()


def test_a_missing_input_shard_is_named_before_any_work(tmp_path):
    missing = run_cli("run", "configs/demo.yaml", "--set", f"output.uri={tmp_path}",
                      "--set", f"input.shards=[{tmp_path / 'nope-000000.tar'}]")
    assert missing.returncode == 2 and "nope-000000.tar" in missing.stderr and "not found" in missing.stderr


def test_an_unreadable_shard_stops_the_job_with_its_name(ray_address, tmp_path):
    (tmp_path / "junk-000000.tar").write_bytes(b"\x01not a tar" * 200)
    failed = run_cli("run", "configs/demo.yaml", "--address", ray_address, "--no-progress",
                     "--set", f"output.uri={tmp_path / 'out'}", "--set", f"input.shards=[{tmp_path / 'junk-000000.tar'}]")
    assert failed.returncode == 2
    assert "junk-000000.tar" in failed.stderr and "not a readable tar" in failed.stderr
