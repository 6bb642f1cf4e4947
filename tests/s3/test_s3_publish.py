"""`corrupter publish` against the real S3 server (SeaweedFS): local -> S3, S3 -> S3 and S3 -> local,
every object checked against the manifest, a fault in the middle and the rerun that completes the copy,
multipart uploads with per-part SHA256 for large shards, a tampered source and a different release at
the destination refused, two publishers of different versions at once both in index.json, and no secret
of the endpoint URL in any output."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from corrupter.config.models import S3Config
from corrupter.io import s3upload
from corrupter.io.errors import ChangedMeanwhile, TransientStorageError
from corrupter.io.s3 import S3Storage
from corrupter.io.storage import open_storage
from corrupter.pipeline.plan import planned_shards
from corrupter.publish import copy as copy_module
from corrupter.publish.copy import publish_release
from corrupter.release import ShardMismatch
from corrupter.release.catalogue import read_catalogue, record_release
from corrupter.release.errors import ReleaseExistsError
from corrupter.release.manifest import parse_manifest
from corrupter.release.verify import verify_release
from tests.publish.builds import BASE, build, object_count, synthetic_release
from tests.s3.conftest import finish_cli, start_cli
from tests.s3.faultproxy import FaultProxy

pytestmark = pytest.mark.s3

MIB = 1024**2


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("out")
    return {"1.0.0": build(out, "1.0.0"), "1.1.0": build(out, "1.1.0", BASE + [{"name": "high_pass", "severities": [1]}])}


@pytest.fixture
def dest(aws_env) -> str:
    return f"s3://{aws_env.bucket}/{aws_env.fresh_prefix('pub')}"


def local_files(release: Path) -> dict[str, bytes]:
    return {p.relative_to(release).as_posix(): p.read_bytes() for p in sorted(release.rglob("*")) if p.is_file()}


def s3_files(server, uri: str) -> dict[str, bytes]:
    store = open_storage(uri)
    return {rel: store.read_bytes(rel) for rel in store.list()}


def test_local_to_s3_to_s3_to_local(built, dest, aws_env, tmp_path):
    summary = publish_release(str(built["1.0.0"]), dest)
    target = f"{dest}/t/1.0.0"
    count = object_count(built["1.0.0"])
    assert summary.destination == target and summary.copied == count
    assert s3_files(aws_env, target) == local_files(built["1.0.0"])
    _, problems = verify_release(open_storage(target), planned_shards)
    assert problems == []
    catalogue = read_catalogue(open_storage(f"{dest}/t"))
    assert [e.version for e in catalogue.versions] == ["1.0.0"] and catalogue.latest == "1.0.0"
    second = f"s3://{aws_env.bucket}/{aws_env.fresh_prefix('pub2')}"
    assert publish_release(target, second).copied == count  # S3 -> S3
    assert publish_release(f"{second}/t/1.0.0", str(tmp_path)).copied == count  # S3 -> local
    assert local_files(tmp_path / "t" / "1.0.0") == local_files(built["1.0.0"])
    assert read_catalogue(open_storage(str(tmp_path / "t"))).latest == "1.0.0"


def test_a_fault_in_the_middle_and_a_rerun_that_completes_without_downloading(built, dest, monkeypatch):
    real, calls = S3Storage.publish_stream, []

    def failing(self, rel, fh, size, sha256):
        calls.append(rel)
        if len(calls) == 3:
            raise TransientStorageError(f"s3://.../{rel}: connection lost")
        return real(self, rel, fh, size, sha256)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(copy_module, "OBJECT_THREADS", 1)
        patch.setattr(S3Storage, "publish_stream", failing)
        with pytest.raises(TransientStorageError, match="connection lost"):
            publish_release(str(built["1.1.0"]), dest)
    target = open_storage(f"{dest}/t/1.1.0")
    present = list(target.list())
    assert calls[0] in present and calls[2] not in present and "manifest.json" not in present
    assert not open_storage(f"{dest}/t").exists("index.json")

    def no_download(*args):
        raise AssertionError("an object already published was downloaded to check it")

    monkeypatch.setattr(copy_module, "object_digest", no_download)  # S3 says its sha256 without a GET
    summary = publish_release(str(built["1.1.0"]), dest)
    total = object_count(built["1.1.0"])
    assert (summary.copied, summary.skipped) == (total - len(present), len(present)) and len(present) < total
    assert s3_files(None, f"{dest}/t/1.1.0") == local_files(built["1.1.0"])


def test_large_shards_go_multipart_with_per_part_checksums(dest, aws_env, tmp_path, monkeypatch):
    monkeypatch.setattr(s3upload, "MULTIPART_THRESHOLD", 6 * MIB)
    monkeypatch.setattr(s3upload, "PART_SIZE", 5 * MIB)  # S3's (and SeaweedFS's) smallest part
    release = synthetic_release(tmp_path, "1.0.0", [12 * MIB + 5, 100_000])
    summary = publish_release(str(release), dest)
    assert summary.copied == 2 and summary.bytes_copied == 12 * MIB + 5 + 100_000
    client, prefix = aws_env.client(), dest.split("/", 3)[3]
    big = client.head_object(Bucket=aws_env.bucket, Key=f"{prefix}/big/1.0.0/noise/1/val-000000.tar",
                             ChecksumMode="ENABLED")
    assert big["ChecksumSHA256"].endswith("-3") and big["ETag"].endswith('-3"')  # three checked parts
    expected = hashlib.sha256((release / "noise/1/val-000000.tar").read_bytes()).hexdigest()
    assert big["Metadata"]["sha256"] == expected
    assert open_storage(f"{dest}/big/1.0.0").head("noise/1/val-000000.tar").sha256 == expected
    assert s3_files(aws_env, f"{dest}/big/1.0.0") == local_files(release)


def test_a_tampered_large_or_small_shard_is_refused_and_nothing_of_it_appears(dest, aws_env, tmp_path, monkeypatch):
    monkeypatch.setattr(s3upload, "MULTIPART_THRESHOLD", 6 * MIB)
    monkeypatch.setattr(s3upload, "PART_SIZE", 5 * MIB)
    for index, victim in enumerate(("noise/1/val-000000.tar", "noise/2/val-000000.tar")):
        release = synthetic_release(tmp_path / str(index), "1.0.0", [11 * MIB, 1000])
        data = bytearray((release / victim).read_bytes())
        data[len(data) - 10] ^= 1  # in the last part: the earlier ones are uploaded by then
        (release / victim).write_bytes(bytes(data))
        with pytest.raises(ShardMismatch, match=f"{victim} does not match the manifest"):
            publish_release(str(release), f"{dest}/{index}")
        published = open_storage(f"{dest}/{index}/big/1.0.0")
        assert victim not in list(published.list()) and not published.exists("manifest.json")
    uploads = aws_env.client().list_multipart_uploads(Bucket=aws_env.bucket, Prefix=dest.split("/", 3)[3])
    assert not uploads.get("Uploads")  # the refused multipart upload was aborted


def test_a_different_release_at_the_destination_is_refused(dest, tmp_path):
    publish_release(str(synthetic_release(tmp_path / "a", "1.0.0", [1000, 2000], seed=1)), dest)
    other = synthetic_release(tmp_path / "b", "1.0.0", [1000, 2000], seed=2)
    with pytest.raises(ReleaseExistsError, match="holds a different release"):
        publish_release(str(other), dest)
    partial = f"{dest}/partial"
    publish_release(str(synthetic_release(tmp_path / "c", "2.0.0", [1000], seed=1)), partial)
    open_storage(f"{partial}/big/2.0.0").delete(["manifest.json"])  # a partial copy of another release
    with pytest.raises(ReleaseExistsError, match="noise/1/val-000000.tar exists with other bytes"):
        publish_release(str(synthetic_release(tmp_path / "d", "2.0.0", [1000], seed=2)), partial)


def test_a_stale_etag_loses_the_compare_and_swap(dest):
    store = open_storage(dest)
    store.replace_tagged("index.json", b"one", None)
    with pytest.raises(ChangedMeanwhile):
        store.replace_tagged("index.json", b"two", None)
    _, tag = store.read_tagged("index.json")
    store.replace_tagged("index.json", b"two", tag)
    with pytest.raises(ChangedMeanwhile):
        store.replace_tagged("index.json", b"three", tag)
    assert store.read_bytes("index.json") == b"two"


def test_many_writers_of_one_s3_catalogue_lose_no_entry(built, dest):
    template = parse_manifest((built["1.0.0"] / "manifest.json").read_bytes(), "m")
    versions = [f"{n}.0.0" for n in range(8)]

    def record(version: str) -> None:
        record_release(open_storage(f"{dest}/t"), template.model_copy(update={"version": version}),
                       hashlib.sha256(version.encode()).hexdigest())

    threads = [threading.Thread(target=record, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    catalogue = read_catalogue(open_storage(f"{dest}/t"))
    assert [e.version for e in catalogue.versions] == versions and catalogue.latest == "7.0.0"


def test_two_publishers_of_different_versions_at_once_both_appear(built, dest, aws_env):
    env = aws_env.env()
    running = [start_cli("publish", str(built[v]), dest, env=env) for v in ("1.1.0", "1.0.0")]
    done = [finish_cli(p) for p in running]
    assert [d.returncode for d in done] == [0, 0], [d.stderr for d in done]
    assert all("catalogue" in d.stdout and "recorded" in d.stdout for d in done)
    catalogue = json.loads(open_storage(f"{dest}/t").read_bytes("index.json"))
    assert [e["version"] for e in catalogue["versions"]] == ["1.0.0", "1.1.0"] and catalogue["latest"] == "1.1.0"


def test_a_flaky_network_costs_retries_not_a_broken_copy(built, dest, aws_env):
    """Requests reset after they took effect (the client retries a create-once PUT that had landed),
    503s and conflicts: the copy completes and verifies."""
    with FaultProxy(aws_env.endpoint, seed=3, rates={"reset_after": 0.15, "slowdown": 0.1, "conflict": 0.05},
                    max_faults=12) as proxy:
        options = S3Config(endpoint_url=proxy.endpoint)
        publish_release(str(built["1.0.0"]), dest, options)
        assert sum(proxy.faults.values()) > 0
    _, problems = verify_release(open_storage(f"{dest}/t/1.0.0"), planned_shards)
    assert problems == []


def test_secrets_of_the_endpoint_url_are_not_printed(built, aws_env, tmp_path):
    password = "Publish-Pa55word-" + "q" * 10
    endpoint = aws_env.endpoint.replace("http://", f"http://corrupter:{password}@")
    env = aws_env.env(AWS_ENDPOINT_URL=endpoint, AWS_SECRET_ACCESS_KEY="wrong-" + "z" * 20, AWS_MAX_ATTEMPTS="1")
    done = finish_cli(start_cli("publish", str(built["1.0.0"]), f"s3://{aws_env.bucket}/secret", env=env))
    assert done.returncode == 2 and "403" in done.stderr, done.stderr
    assert password not in done.stdout + done.stderr and "zzzzzzzzzz" not in done.stdout + done.stderr
    assert "***@" in done.stderr and "Traceback" not in done.stderr
