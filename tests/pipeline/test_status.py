"""`corrupter status RELEASE`: a release's progress read from its own records (the claim: config and
command; receipts: what is published, and when), a finished release said finished, bad input refused.
Releases are built here without Ray (the real worker class in this process), as a job leaves them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from corrupter.pipeline.plan import plan_units
from corrupter.pipeline.status import release_status
from corrupter.pipeline.worker import ShardWorker
from corrupter.release.layout import CONFIG_MARKER, RUNS, receipt_path, release_storage
from corrupter.release.lifecycle import claim_release, commit_release, record_run_start
from corrupter.release.manifest import build_manifest, dump_manifest
from corrupter.release.receipts import dump_receipt, parse_receipt
from tests.conftest import run_cli
from tests.pipeline.releases import SAMPLE, build_release, small_config

COMMAND = ["corrupter", "run", "/configs/my config.yaml", "--set", "run.workers=2"]


def run_units_in_process(config, indices: list[int]) -> list:
    threads = torch.get_num_threads()
    try:
        worker, units = ShardWorker(config, "cpu"), plan_units(config)
        return [r for i in indices for r in worker.run(units[i]).receipts]
    finally:
        torch.set_num_threads(threads)


def started(tmp_path: Path, command=COMMAND, cwd="/work dir"):
    """A release claimed with ``command``, one run started, and 2 of its 4 units done (variants of 2 per
    unit, so 4 of 8 shards published)."""
    config = small_config(tmp_path / "out", [SAMPLE, SAMPLE.with_name("val-000001.tar")],
                          corruptions=[{"name": "contrast", "severities": [1, 2, 3, 4]}],
                          run={"variants_per_unit": 2})
    release = release_storage(config)
    claim_release(config, release, command, cwd)
    record_run_start(release)
    receipts = run_units_in_process(config, [0, 1])
    return config, release, receipts


def set_times(release, receipts, run_start: float, published: list[float]) -> None:
    """Rewrite the run's start and the receipts' publication times (what a slower job would have left)."""
    for rel in list(release.list(RUNS)):
        (Path(release.uri) / rel).write_text(json.dumps({"started_at": run_start}))
    for receipt, when in zip(receipts, published):
        path = Path(release.uri) / receipt_path(receipt.path)
        path.write_bytes(dump_receipt(receipt.model_copy(update={"published_at": when})))


def test_an_unfinished_release_says_units_images_rate_eta_and_the_exact_resume_command(tmp_path):
    _, release, receipts = started(tmp_path)
    now = time.time()
    # the run started 40 s ago; its 4 shards (3 images each) were published by 0.5 s ago: 12 images in 39.5 s
    set_times(release, receipts, now - 40, [now - 30, now - 30, now - 0.5, now - 0.5])
    done = run_cli("status", release.uri)
    assert done.returncode == 1, done.stderr  # not finished
    out = done.stdout
    assert "state     not finished: t 1.0.0, config sha256:" in out
    assert "units     2 of 4 done, 2 pending" in out
    assert "shards    4 of 8 published, 4 pending" in out
    assert "images    12 written" in out
    assert "0.3 images/s, 0.10 shards/s over the latest run's 40 s; last shard published" in out
    assert "eta       40 s for the 4 pending shards at that rate" in out
    assert "resume    cd '/work dir' && corrupter run '/configs/my config.yaml' --set run.workers=2" in out


def test_the_rate_is_the_latest_runs_not_diluted_by_an_earlier_one(tmp_path):
    _, release, receipts = started(tmp_path)
    now = time.time()
    # an hour-old first run's 2 shards, then a run resumed 10 s ago that published 2 shards 5 s later
    set_times(release, receipts, now - 10, [now - 3600, now - 3600, now - 5, now - 5])
    status = release_status(release)
    assert status.images_per_second == pytest.approx(6 / 5, rel=1e-6)
    assert status.shards_per_second == pytest.approx(2 / 5, rel=1e-6)
    assert status.eta_seconds() == pytest.approx(10, rel=1e-6)


def test_status_json_and_a_resumed_job_finishing_the_release(tmp_path):
    config, release, receipts = started(tmp_path)
    record = json.loads(run_cli("status", release.uri, "--json").stdout)
    assert (record["units_done"], record["units_planned"], record["shards_pending"]) == (2, 4, 4)
    assert record["resume"].startswith("cd '/work dir' && corrupter run")
    receipts += run_units_in_process(config, [2, 3])
    commit_release(config, release, receipts)
    done = run_cli("status", release.uri)
    assert done.returncode == 0, done.stderr
    assert "state     finished: t 1.0.0, manifest created" in done.stdout
    assert "shards    8, 24 images written (0 input samples quarantined)" in done.stdout
    assert f"check     corrupter verify {release.uri}" in done.stdout


def test_a_release_started_through_the_api_or_by_an_older_version_still_reports(tmp_path):
    _, release, _ = started(tmp_path, command=None, cwd=None)
    out = run_cli("status", release.uri).stdout
    assert "units     2 of 4 done" in out and "no command is recorded" in out
    (Path(release.uri) / CONFIG_MARKER).write_text(json.dumps({"config_digest": "sha256:" + "0" * 64}))
    out = run_cli("status", release.uri).stdout
    assert "shards    4 published (how many are planned is not recorded)" in out and "images    12" in out


def test_what_is_not_a_release_is_refused_and_a_password_in_the_uri_is_never_printed(tmp_path):
    done = run_cli("status", str(tmp_path))
    assert done.returncode == 2 and "is not a release: it holds neither manifest.json" in done.stderr
    (tmp_path / "_work").mkdir()
    (tmp_path / CONFIG_MARKER).write_text("[1, 2]")
    done = run_cli("status", str(tmp_path))
    assert done.returncode == 2 and "_work/config.json is not a release's claim" in done.stderr
    for verb in ("status", "verify"):
        done = run_cli(verb, "s3://me:Sup3rSecret@bucket/a/demo/1", env={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
        assert done.returncode == 2 and "s3://***@bucket/a/demo/1 holds user info" in done.stderr
        assert "Sup3rSecret" not in done.stdout + done.stderr


def test_a_bad_receipt_is_noted_not_fatal(tmp_path):
    _, release, receipts = started(tmp_path)
    (Path(release.uri) / receipt_path(receipts[0].path)).write_text("{not json")
    status = release_status(release)
    assert status.shards_done == 3 and any("not a receipt" in p for p in status.problems)


def test_publication_times_are_records_only_the_manifest_does_not_change(tmp_path):
    config = small_config(tmp_path / "a")
    built = build_release(config)
    receipts = run_units_in_process(small_config(tmp_path / "b"), [0, 1])
    assert all(r.published_at and r.published_at <= time.time() for r in receipts)
    assert parse_receipt(dump_receipt(receipts[0]), "x").published_at == receipts[0].published_at
    later = [r.model_copy(update={"published_at": r.published_at + 1000}) for r in receipts]
    manifests = [json.loads(dump_manifest(build_manifest(name="t", version="1", config={}, digest="sha256:" + "0" * 64, seed_scheme="s",
                                                          receipts=rs))) for rs in (receipts, later)]
    for m in manifests:
        m.pop("created")
    assert manifests[0] == manifests[1] and "published_at" not in json.dumps(manifests[0])
    assert "published_at" not in (built / "manifest.json").read_text()


def test_the_recorded_command_resumes_from_anywhere_or_by_resubmitting_a_ray_job(monkeypatch, tmp_path):
    from corrupter.cli.main import RAY_JOB_MARKER, _command, build_parser

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(RAY_JOB_MARKER, raising=False)
    args = build_parser().parse_args(["run", "my.yaml", "--set", "run.workers=2", "--address", "auto", "--no-progress"])
    assert _command(args) == (["corrupter", "run", str(tmp_path / "my.yaml"), "--set", "run.workers=2",
                               "--address", "auto"], str(tmp_path))
    monkeypatch.setenv(RAY_JOB_MARKER, '{"metadata": {}}')  # the driver of a submitted job
    command, cwd = _command(args)
    assert command[:8] == ["ray", "job", "submit", "--working-dir", ".", "--", "corrupter", "run"]
    assert command[8] == "my.yaml" and cwd is None  # the job's working dir is a copy that goes away
