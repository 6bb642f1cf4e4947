"""Releases on S3 end to end: the real CLI, a real local Ray cluster, a real S3 server (SeaweedFS).

The demo config is built three times: into a local directory from the local sample shards, into S3 from
the same shards uploaded to S3, and into S3 again through a fault-injecting proxy after part of it was
built. All three must hold byte-identical shards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

import corrupter
from corrupter.cli.main import main as corrupter_main
from corrupter.config import load_config
from corrupter.io.errors import StorageError
from corrupter.pipeline.plan import plan_units
from corrupter.pipeline.worker import ShardWorker
from corrupter.release.layout import release_storage
from corrupter.release.lifecycle import claim_release, record_run_start
from tests.conftest import REPO
from tests.processes import HEAD_TEMP_DIRS
from tests.s3.conftest import clean_aws_env, corrupter_cli, finish_cli, start_cli
from tests.s3.faultproxy import FaultProxy

pytestmark = [pytest.mark.s3, pytest.mark.ray, pytest.mark.slow]

DEMO = REPO / "configs" / "demo.yaml"
SAMPLES = sorted((REPO / "data" / "sample").glob("val-*.tar"))
UNITS = 12  # 2 input shards x 26 variants (clean + 5 x 5) in groups of 5


class Job:
    """The demo config pointed at S3 under one test prefix."""

    def __init__(self, server, prefix: str) -> None:
        self.server, self.prefix, self.bucket = server, prefix, server.bucket
        self.inputs = [f"s3://{self.bucket}/{prefix}/in/{p.name}" for p in SAMPLES]

    def overrides(self, output: str, endpoint: str | None = None, version: str = "1.0.0") -> list[str]:
        return [f"output.uri=s3://{self.bucket}/{self.prefix}/{output}", f"input.shards=[{','.join(self.inputs)}]",
                f"s3.endpoint_url={endpoint or self.server.endpoint}", f"version={version}"]

    def run_args(self, address: str, output: str, endpoint: str | None = None, version: str = "1.0.0") -> list[str]:
        args = ["run", str(DEMO), "--address", address, "--no-progress"]
        for item in self.overrides(output, endpoint, version):
            args += ["--set", item]
        return args

    def run(self, address: str, output: str, endpoint: str | None = None, env: dict | None = None):
        return corrupter_cli(*self.run_args(address, output, endpoint), env=env or self.server.env())

    def release_prefix(self, output: str, version: str = "1.0.0") -> str:
        return f"{self.prefix}/{output}/demo/{version}"

    def release_uri(self, output: str, version: str = "1.0.0") -> str:
        return f"s3://{self.bucket}/{self.release_prefix(output, version)}"

    def manifest(self, output: str) -> dict:
        key = self.release_prefix(output) + "/manifest.json"
        return json.loads(self.server.client().get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def keys(self, output: str, version: str = "1.0.0") -> list[str]:
        prefix = self.release_prefix(output, version)
        pages = self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix + "/")
        return [item["Key"][len(prefix) + 1:] for page in pages for item in page.get("Contents", [])]

    def digests(self, output: str) -> dict[str, tuple[str, int]]:
        client, prefix = self.server.client(), self.release_prefix(output)
        out = {}
        for rel in self.keys(output):
            if rel.endswith(".tar"):
                data = client.get_object(Bucket=self.bucket, Key=f"{prefix}/{rel}")["Body"].read()
                out[rel] = (hashlib.sha256(data).hexdigest(), len(data))
        return out


def local_digests(release: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(release).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)
            for p in sorted(release.rglob("*.tar"))}


def comparable(manifest: dict) -> dict:
    """A manifest without what legitimately differs between a local and an S3 build of one config: the
    creation time and the input URIs (hence the recorded config and its digest, and the dataset card,
    which lists the input shards). Source checksums stay."""
    shards = [{**s, "source": {"sha256": s["source"]["sha256"]}} for s in manifest["shards"]]
    sources = [{k: v for k, v in s.items() if k != "uri"} for s in manifest["sources"]]
    files = [f for f in manifest["files"] if f["path"] != "README.md"]
    drop = {"created", "config", "config_digest", "shards", "sources", "files"}
    return {**{k: v for k, v in manifest.items() if k not in drop}, "shards": shards, "sources": sources,
            "files": files}


def release_objects(manifest: dict) -> list[str]:
    """Every object a finished release holds: its shards, its metadata files and the manifest."""
    return sorted([s["path"] for s in manifest["shards"]] + [f["path"] for f in manifest["files"]] + ["manifest.json"])


class aws_env:
    """Temporarily give this process the server's AWS environment (credentials from the chain)."""

    def __init__(self, server, **extra: str) -> None:
        self.server, self.extra = server, extra

    def __enter__(self):
        self.mp = pytest.MonkeyPatch()
        for name in [k for k in os.environ if k.startswith("AWS_")]:
            self.mp.delenv(name)
        for name, value in self.server.env(**self.extra).items():
            if name.startswith("AWS_"):
                self.mp.setenv(name, value)
        return self

    def __exit__(self, *exc):
        self.mp.undo()


def run_unit_in_process(config, index: int = 0) -> None:
    """One work unit with the plain worker class (no Ray), as a crashed earlier job would have left it."""
    threads = torch.get_num_threads()
    try:
        ShardWorker(config, "cpu").run(plan_units(config)[index])
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def job(s3_server) -> Job:
    job = Job(s3_server, s3_server.fresh_prefix("release"))
    client = s3_server.client()
    for path in SAMPLES:
        client.put_object(Bucket=job.bucket, Key=f"{job.prefix}/in/{path.name}", Body=path.read_bytes())
    return job


@pytest.fixture(scope="module")
def builds(job, s3_ray_address, tmp_path_factory):
    """The demo config into a local directory (local input) and into S3 (input from S3), side by side."""
    out = tmp_path_factory.mktemp("local")
    local = start_cli("run", str(DEMO), "--address", s3_ray_address, "--no-progress", "--set", f"output.uri={out}",
                      env=clean_aws_env())
    remote = start_cli(*job.run_args(s3_ray_address, "releases"), env=job.server.env())
    local_done, remote_done = finish_cli(local), finish_cli(remote)
    assert local_done.returncode == 0, local_done.stderr
    assert remote_done.returncode == 0, remote_done.stderr
    return out / "demo" / "1.0.0", remote_done


def test_s3_release_is_byte_identical_to_a_local_release(job, builds):
    local_release, remote = builds
    assert f"release   {job.release_uri('releases')}" in remote.stdout and "shards    52" in remote.stdout
    local = local_digests(local_release)
    assert len(local) == 52 and job.digests("releases") == local
    manifest = job.manifest("releases")
    assert comparable(manifest) == comparable(json.loads((local_release / "manifest.json").read_text()))
    # The input was read from S3 (streamed): the manifest names the s3:// sources, with the same checksums.
    assert [s["uri"] for s in manifest["sources"]] == job.inputs == manifest["config"]["input"]["shards"]
    assert [s["sha256"] for s in manifest["sources"]] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in SAMPLES]
    assert "s3" not in manifest["config"] and "uri" not in manifest["config"]["output"]
    # Each shard object carries the server-verified full-object SHA-256 that the manifest records.
    client = job.server.client()
    for shard in manifest["shards"][:5]:
        head = client.head_object(Bucket=job.bucket, Key=f"{job.release_prefix('releases')}/{shard['path']}",
                                  ChecksumMode="ENABLED")
        assert base64.b64decode(head["ChecksumSHA256"]).hex() == shard["sha256"]
    # The manifest is the commit marker and the work area is cleaned up.
    keys = job.keys("releases")
    assert sorted(keys) == release_objects(manifest) and len(manifest["shards"]) == 52
    # Credentials never reach the manifest or the output.
    text = json.dumps(manifest) + remote.stdout + remote.stderr
    assert job.server.secret_key not in text and job.server.access_key not in text


def test_a_finished_release_on_s3_is_never_overwritten(job, builds, s3_ray_address):
    client = job.server.client()
    key = job.release_prefix("releases") + "/manifest.json"
    before = client.head_object(Bucket=job.bucket, Key=key)["ETag"]
    again = job.run(s3_ray_address, "releases")
    assert again.returncode == 2, again.stdout
    assert "finished release" in again.stderr and "immutable" in again.stderr
    assert job.release_uri("releases") in again.stderr
    assert client.head_object(Bucket=job.bucket, Key=key)["ETag"] == before
    assert not any(k.startswith("_work/") for k in job.keys("releases"))


def test_an_unfinished_release_of_another_config_is_refused(job, s3_ray_address, capsys):
    other = load_config(DEMO, [*job.overrides("claimed"), "seed=7"])
    with aws_env(job.server):
        claim_release(other, release_storage(other))
        code = corrupter_main(job.run_args(s3_ray_address, "claimed"))
    err = capsys.readouterr().err
    assert code == 2
    assert "unfinished release of a different config" in err and "choose a new version" in err
    assert job.keys("claimed") == ["_work/config.json"]


def test_resume_through_faults_gives_the_same_shards(job, builds, s3_ray_address):
    """Part of a release is built, then the rest through a proxy that resets connections (before and
    after the server acts), answers 503 SlowDown and 409 conflicts, truncates reads and delays answers."""
    local_release, _ = builds
    config = load_config(DEMO, job.overrides("faulty"))
    with aws_env(job.server):
        claim_release(config, release_storage(config))
        run_unit_in_process(config)  # one unit done before the "crash"
    rates = {"reset_before": 0.04, "reset_after": 0.04, "truncate": 0.04, "slowdown": 0.04, "conflict": 0.02,
             "delay": 0.04}
    with FaultProxy(job.server.endpoint, seed=1234, rates=rates, delay_s=0.3, max_faults=40,
                    plan=["slowdown", "reset_before", "reset_after", "delay"]) as proxy:
        done = job.run(s3_ray_address, "faulty", endpoint=proxy.endpoint)
    assert done.returncode == 0, done.stderr
    assert f"(1 of {UNITS} units already done)" in done.stdout
    assert sum(proxy.faults.values()) >= 10, proxy.faults
    assert {"slowdown", "reset_before", "reset_after", "delay"} <= set(proxy.faults)
    assert job.digests("faulty") == local_digests(local_release)
    manifests = [job.manifest("releases"), job.manifest("faulty")]
    for manifest in manifests:
        manifest.pop("created")
    assert manifests[0] == manifests[1]
    assert sorted(job.keys("faulty")) == release_objects(manifests[1])


def test_oversized_shards_fail_with_a_clear_message(job):
    config = load_config(DEMO, [*job.overrides("small"), "output.max_shard_bytes=1000"])
    with aws_env(job.server), pytest.raises(StorageError) as info:
        run_unit_in_process(config)
    assert "exceed output.max_shard_bytes (1000)" in str(info.value) and "split the input shard" in str(info.value)
    assert job.keys("small") == []


def test_wrong_credentials_fail_clearly_without_leaking_them(job, builds, s3_ray_address, capsys):
    wrong = "Wrong-" + "q" * 30
    run = job.run(s3_ray_address, "denied", env=job.server.env(AWS_SECRET_ACCESS_KEY=wrong))
    assert run.returncode == 2, run.stdout
    with aws_env(job.server, AWS_SECRET_ACCESS_KEY=wrong):
        verify_code = corrupter_main(["verify", job.release_uri("releases")])
    verify_err = capsys.readouterr().err
    assert verify_code == 2
    for err in (run.stderr, verify_err):
        assert "signature mismatch" in err and "AWS_SECRET_ACCESS_KEY" in err and "Traceback" not in err
        assert f"s3://{job.bucket}/{job.prefix}/" in err
    for secret in (wrong, job.server.secret_key):
        assert secret not in run.stdout + run.stderr + verify_err
    assert job.keys("denied") == []


def test_open_release_reads_s3_as_it_reads_a_directory(job, builds):
    """corrupter.open_release on s3:// (endpoint and credentials from the AWS environment): the same
    cells and samples as the local build of the same config, each shard verified while it streams."""
    local_release, _ = builds
    local = corrupter.open_release(str(local_release))
    with aws_env(job.server):
        remote = corrupter.open_release(job.release_uri("releases"))
        assert [(c.corruption, c.variant, c.samples) for c in remote.cells] == [
            (c.corruption, c.variant, c.samples) for c in local.cells]
        for name in (("clean", "1"), ("fog", "3")):
            theirs = list(remote.samples(remote.cell(*name)))
            ours = list(local.samples(local.cell(*name)))
            assert [(s.key, s.label) for s in theirs] == [(s.key, s.label) for s in ours] and len(ours) == 6
            assert all(torch.equal(a.image, b.image) and a.metadata == b.metadata for a, b in zip(theirs, ours))


def test_verify_on_s3_passes_then_catches_a_replaced_shard(job, builds):
    uri = job.release_uri("releases")
    ok = corrupter_cli("verify", uri, env=job.server.env())  # the endpoint from AWS_ENDPOINT_URL
    assert ok.returncode == 0, ok.stderr
    assert "OK  52 shards, 156 samples" in ok.stdout
    # Replace one shard behind the manifest's back: a plain PUT, no IfNoneMatch, same size.
    client = job.server.client()
    key = f"{job.release_prefix('releases')}/contrast/2/val-000001.tar"
    data = bytearray(client.get_object(Bucket=job.bucket, Key=key)["Body"].read())
    data[2000] ^= 0xFF
    client.put_object(Bucket=job.bucket, Key=key, Body=bytes(data))
    bad = corrupter_cli("verify", uri, env=job.server.env())
    assert bad.returncode == 1
    assert "MISMATCH  contrast/2/val-000001.tar: sha256" in bad.stdout and "1 problem(s)" in bad.stdout


def test_verify_names_what_is_missing(job, capsys):
    with aws_env(job.server):
        no_release = corrupter_main(["verify", job.release_uri("releases", "9.9.9")])
        no_bucket = corrupter_main(["verify", "s3://no-such-bucket/releases/demo/1.0.0"])
    err = capsys.readouterr().err
    assert no_release == 2 and "demo/9.9.9: no manifest.json (not a finished release)" in err
    assert no_bucket == 2 and "bucket 'no-such-bucket' does not exist" in err


SMALL = ["--set", "corruptions=[{name: contrast, severities: [1, 2]}]", "--set", "run.variants_per_unit=1"]
PASSWORD = "Endpoint-Pa55word-" + "w" * 12


def every_byte_written(job: Job, output: str, *local: Path, ray_address: str | None = None) -> list[tuple[str, bytes]]:
    """(name, bytes) of every object under the job's prefix/output, every file under ``local``, and
    every file of the Ray head's session (its logs and those of every worker and driver)."""
    client = job.server.client()
    found = []
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=job.bucket, Prefix=f"{job.prefix}/{output}/")
    for item in (i for page in pages for i in page.get("Contents", [])):
        found.append((item["Key"], client.get_object(Bucket=job.bucket, Key=item["Key"])["Body"].read()))
    roots = [*local, *([HEAD_TEMP_DIRS[ray_address]] if ray_address else [])]
    for path in (p for root in roots for p in Path(root).rglob("*")):
        if path.is_file() and not path.is_symlink():
            found.append((str(path), path.read_bytes()))
    return found


def test_an_endpoint_password_appears_in_no_output(job, s3_ray_address, tmp_path):
    """An endpoint URL with user info: a release built through it, a job whose workers cannot reach it
    (retry warnings, then the failure) and a 403 print and record the endpoint without the password."""
    with_password = job.server.endpoint.replace("http://", f"http://corrupter:{PASSWORD}@")
    built = corrupter_cli(*job.run_args(s3_ray_address, "userinfo", endpoint=with_password), *SMALL,
                          env=job.server.env())
    assert built.returncode == 0, built.stderr
    unreachable = f"http://corrupter:{PASSWORD}@127.0.0.1:1"
    failed = corrupter_cli(
        "run", str(DEMO), "--address", s3_ray_address, "--no-progress", *SMALL, "--set", f"output.uri={tmp_path}",
        "--set", f"input.shards=[{job.inputs[0]}]", "--set", f"s3.endpoint_url={unreachable}",
        "--set", "s3.max_attempts=1", "--set", "run.max_unit_failures=2", env=job.server.env())
    assert failed.returncode == 2 and "retrying" in failed.stderr and "failed 2 time(s)" in failed.stderr
    assert "cannot reach http://***@127.0.0.1:1" in failed.stderr
    denied = corrupter_cli(*job.run_args(s3_ray_address, "denied-userinfo", endpoint=with_password), *SMALL,
                           env=job.server.env(AWS_SECRET_ACCESS_KEY="Wrong-" + "s" * 30))
    assert denied.returncode == 2 and "refused by http://***@127.0.0.1:" in denied.stderr
    printed = [("output", run.stdout + run.stderr) for run in (built, failed, denied)]
    written = every_byte_written(job, "userinfo", tmp_path, ray_address=s3_ray_address)
    assert any(name.endswith("manifest.json") for name, _ in written) and len(written) > 20
    leaks = [name for name, data in written + [(n, t.encode()) for n, t in printed] if PASSWORD.encode() in data]
    assert leaks == []


def test_two_runs_racing_for_one_release_on_s3(job, s3_ray_address):
    args = [*job.run_args(s3_ray_address, "race"), *SMALL, "--set", "run.workers=1"]
    runs = [start_cli(*args, env=job.server.env()) for _ in range(2)]
    results = [finish_cli(run) for run in runs]
    assert sorted(r.returncode for r in results) == [0, 3], [r.stderr[-2000:] for r in results]
    loser = next(r for r in results if r.returncode == 3)
    assert "another run finished this release" in loser.stderr and "Traceback" not in loser.stderr
    manifest = job.manifest("race")
    assert [s["path"] for s in manifest["shards"]] == ["contrast/1/val-000000.tar", "contrast/1/val-000001.tar",
                                                       "contrast/2/val-000000.tar", "contrast/2/val-000001.tar"]
    assert sorted(job.keys("race")) == release_objects(manifest)
    verified = corrupter_cli("verify", job.release_uri("race"), env=job.server.env())
    assert verified.returncode == 0 and "OK  4 shards, 12 samples" in verified.stdout


def test_a_release_inside_a_finished_release_on_s3_is_refused(job, s3_ray_address):
    outer = job.release_prefix("outer")
    job.server.client().put_object(Bucket=job.bucket, Key=f"{outer}/manifest.json",
                                   Body=json.dumps({"format": "corrupter-release/1"}).encode())
    inside = job.run(s3_ray_address, "outer/demo/1.0.0/fog")
    assert inside.returncode == 2 and "inside the finished release" in inside.stderr, inside.stderr
    assert job.release_uri("outer") in inside.stderr
    assert job.keys("outer") == ["manifest.json"]


def test_status_of_an_unfinished_then_a_finished_release_on_s3(job, builds):
    """`corrupter status` reads an S3 release's own records: a job that died after one unit (its claim
    made through an endpoint URL with a password, which neither the claim nor the output shows), then
    a finished release."""
    with_password = job.server.endpoint.replace("http://", f"http://corrupter:{PASSWORD}@")
    config = load_config(DEMO, job.overrides("status", endpoint=with_password))
    command = ["corrupter", "run", str(DEMO)]  # as `corrupter run` records it
    for item in job.overrides("status", endpoint=with_password):
        command += ["--set", item]
    with aws_env(job.server):
        release = release_storage(config)
        claim_release(config, release, command, str(REPO))
        record_run_start(release)
        run_unit_in_process(config)
        claim = release.read_bytes("_work/config.json")
    assert PASSWORD.encode() not in claim and b"http://***@127.0.0.1" in claim
    done = corrupter_cli("status", job.release_uri("status"), env=job.server.env())
    assert done.returncode == 1, done.stderr
    assert f"units     1 of {UNITS} done, {UNITS - 1} pending" in done.stdout
    assert "shards    5 of 52 published, 47 pending" in done.stdout and "images    15 written" in done.stdout
    assert f"resume    cd {REPO} && corrupter run {DEMO} --set output.uri={job.release_uri('status')[:-len('/demo/1.0.0')]}" \
        in done.stdout
    assert "s3.endpoint_url=http://***@127.0.0.1" in done.stdout and PASSWORD not in done.stdout + done.stderr
    finished = corrupter_cli("status", job.release_uri("releases"), env=job.server.env())
    assert finished.returncode == 0, finished.stderr
    assert "state     finished: demo 1.0.0" in finished.stdout and "shards    52," in finished.stdout
    assert f"check     corrupter verify {job.release_uri('releases')}" in finished.stdout
