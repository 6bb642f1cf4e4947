"""S3Storage against a real S3 server (SeaweedFS on loopback): the Storage promises, errors, retries."""

from __future__ import annotations

import base64
import hashlib
import os
import tarfile
import threading

import pytest

from corrupter.config.models import S3Config
from corrupter.io import s3 as s3mod
from corrupter.io.errors import AlreadyExists, NotFound, StorageError
from corrupter.io.s3 import S3Storage, make_client, open_s3_object, resolve_options
from corrupter.io.storage import open_input, open_storage
from tests.conftest import REPO
from tests.s3.faultproxy import FaultProxy

pytestmark = pytest.mark.s3

SAMPLE = REPO / "data" / "sample" / "val-000000.tar"


@pytest.fixture
def store(aws_env) -> S3Storage:
    return S3Storage.from_uri(f"s3://{aws_env.bucket}/{aws_env.fresh_prefix('store')}")


def test_round_trip_list_child_and_delete(store, aws_env):
    store.write_bytes("a/one.json", b'{"n": 1}')
    store.child("a").write_bytes("two.bin", b"\x00" * 10)
    store.write_bytes("_work/receipts/x.json", b"{}")
    store.write_bytes("_workshop/y.json", b"{}")
    assert store.exists("a/one.json") and not store.exists("a/none.json")
    assert store.read_bytes("a/two.bin") == b"\x00" * 10
    assert store.child("a").read_bytes("one.json") == b'{"n": 1}'
    assert list(store.list()) == ["_work/receipts/x.json", "_workshop/y.json", "a/one.json", "a/two.bin"]
    assert list(store.list("_work")) == ["_work/receipts/x.json"]  # a path prefix, not a string prefix
    assert list(store.list("a/one.json")) == ["a/one.json"]
    assert list(store.child("a").list()) == ["one.json", "two.bin"]
    store.delete(list(store.list("_work")))
    assert list(store.list("_work")) == [] and store.exists("_workshop/y.json")
    assert store.uri.startswith(f"s3://{aws_env.bucket}/store-") and store.child("a").uri == store.uri + "/a"


def test_list_pages_and_delete_batches(store, monkeypatch):
    for i in range(7):
        store.write_bytes(f"k/{i:02d}", b"x")
    monkeypatch.setattr(s3mod, "LIST_PAGE", 2)
    monkeypatch.setattr(s3mod, "DELETE_BATCH", 3)
    calls = []
    real = store._client.delete_objects
    monkeypatch.setattr(store._client, "delete_objects", lambda **kw: calls.append(kw) or real(**kw))
    assert list(store.list("k")) == [f"k/{i:02d}" for i in range(7)]
    store.delete(list(store.list("k")))
    assert [len(c["Delete"]["Objects"]) for c in calls] == [3, 3, 1]
    assert list(store.list()) == []


def test_writes_are_create_once_and_server_checked(store, tmp_path, aws_env):
    shard = tmp_path / "shard.tar"
    shard.write_bytes(SAMPLE.read_bytes())
    digest = hashlib.sha256(shard.read_bytes()).hexdigest()
    store.publish_file(str(shard), "fog/1/val-000000.tar", digest)
    with pytest.raises(AlreadyExists, match="already exists"):
        store.publish_file(str(shard), "fog/1/val-000000.tar", digest)
    store.write_bytes("m.json", b"first")
    with pytest.raises(AlreadyExists):
        store.write_bytes("m.json", b"second")
    assert store.read_bytes("m.json") == b"first"
    # The object is one single-part PUT whose full-object SHA-256 is the manifest's sha256.
    head = aws_env.client().head_object(Bucket=store.bucket, Key=store.key("fog/1/val-000000.tar"),
                                        ChecksumMode="ENABLED")
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == digest and head["ContentLength"] == shard.stat().st_size
    # The server recomputes the checksum: bytes that do not match the claimed sha256 are refused.
    with pytest.raises(StorageError, match="sha256") as info:
        store.publish_file(str(shard), "fog/2/val-000000.tar", hashlib.sha256(b"other").hexdigest())
    assert "BadDigest" in str(info.value) and not store.exists("fog/2/val-000000.tar")


def test_concurrent_create_once_has_exactly_one_winner(store):
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            store.write_bytes("race.json", f"writer {i}".encode())
            outcomes.append(f"won {i}")
        except AlreadyExists:
            outcomes.append("lost")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(outcomes) == 6 and len(winners) == 1
    assert store.read_bytes("race.json") == f"writer {winners[0].split()[1]}".encode()


def test_objects_larger_than_one_put_are_refused_before_upload(store, tmp_path):
    huge = tmp_path / "huge.tar"
    with open(huge, "wb") as fh:
        fh.truncate(5 * 1024**3 + 1)  # sparse: nothing is read or sent
    with pytest.raises(StorageError, match="5 GiB single-PUT limit.*max_shard_bytes"):
        store.publish_file(str(huge), "big.tar", "0" * 64)


def test_input_shards_stream_into_tarfile(aws_env):
    key = f"{aws_env.fresh_prefix('in')}/val-000000.tar"
    aws_env.client().put_object(Bucket=aws_env.bucket, Key=key, Body=SAMPLE.read_bytes())
    uri = f"s3://{aws_env.bucket}/{key}"
    with open_input(uri, S3Config(endpoint_url=aws_env.endpoint)) as stream:
        assert not stream.seekable()  # a stream (tarfile's "r|*" never seeks), not a downloaded copy
        names = [m.name for m in tarfile.open(fileobj=stream, mode="r|*")]
    assert names == [m.name for m in tarfile.open(SAMPLE)]
    with open_s3_object(uri) as stream:  # endpoint from AWS_ENDPOINT_URL
        first = stream.read(1000)
        rest = stream.read()
    assert first + rest == SAMPLE.read_bytes()
    with pytest.raises(NotFound, match="not found"):
        open_s3_object(f"s3://{aws_env.bucket}/{key}.missing")


def test_reads_resume_after_broken_connections(aws_env):
    key = f"{aws_env.fresh_prefix('resume')}/val-000000.tar"
    aws_env.client().put_object(Bucket=aws_env.bucket, Key=key, Body=SAMPLE.read_bytes())
    with FaultProxy(aws_env.endpoint, plan=["truncate", "truncate", "reset_before"]) as proxy:
        with open_input(f"s3://{aws_env.bucket}/{key}", S3Config(endpoint_url=proxy.endpoint)) as stream:
            data = stream.read()
    assert data == SAMPLE.read_bytes()
    assert proxy.faults == {"truncate": 2, "reset_before": 1}
    assert [m for m, _, _ in proxy.log] == ["GET"] * 4  # the GET, two resumptions, one retry


def test_a_read_that_keeps_breaking_is_a_storage_error_not_a_truncated_shard(aws_env, monkeypatch):
    """The shard reader records OSError/EOFError as a truncated shard and keeps going; a network failure
    must not look like that, or a release would silently hold part of a shard."""
    key = f"{aws_env.fresh_prefix('broken')}/val-000000.tar"
    aws_env.client().put_object(Bucket=aws_env.bucket, Key=key, Body=SAMPLE.read_bytes())
    monkeypatch.setattr(s3mod, "RESUME_LIMIT", 2)
    with FaultProxy(aws_env.endpoint, plan=["truncate"] * 3) as proxy:
        with open_input(f"s3://{aws_env.bucket}/{key}", S3Config(endpoint_url=proxy.endpoint)) as stream:
            with pytest.raises(StorageError, match="after 2 reconnects") as info:
                list(tarfile.open(fileobj=stream, mode="r|*"))
    assert not isinstance(info.value, OSError) and proxy.faults == {"truncate": 3}


def test_reads_are_checked_against_the_stored_checksum(aws_env):
    store = S3Storage.from_uri(f"s3://{aws_env.bucket}/{aws_env.fresh_prefix('bits')}")
    digest = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    store.publish_file(str(SAMPLE), "val-000000.tar", digest)
    with FaultProxy(aws_env.endpoint, plan=["corrupt"]) as proxy:
        flipped = S3Storage.from_uri(store.uri, S3Config(endpoint_url=proxy.endpoint))
        with pytest.raises(StorageError, match="do not match the object's stored checksum"):
            flipped.read_bytes("val-000000.tar")
        assert hashlib.sha256(flipped.read_bytes("val-000000.tar")).hexdigest() == digest  # the next GET is clean
    assert proxy.faults == {"corrupt": 1}


def test_retries_survive_resets_slowdown_and_conflicts(aws_env):
    prefix = aws_env.fresh_prefix("retry")
    with FaultProxy(aws_env.endpoint, plan=["slowdown", "reset_before", "conflict", "delay"],
                    delay_s=0.2) as proxy:
        store = S3Storage.from_uri(f"s3://{aws_env.bucket}/{prefix}",
                                   S3Config(endpoint_url=proxy.endpoint, retry_mode="adaptive"))
        store.write_bytes("a.json", b"payload")
    assert store.read_bytes("a.json") == b"payload"
    assert proxy.faults == {"slowdown": 1, "reset_before": 1, "conflict": 1, "delay": 1}


def test_a_put_whose_answer_was_lost_is_not_reported_as_a_conflict(aws_env, tmp_path):
    """The PUT lands, the connection drops, the retry gets 412: the write succeeded (same bytes)."""
    prefix = aws_env.fresh_prefix("lost")
    shard = tmp_path / "s.tar"
    shard.write_bytes(SAMPLE.read_bytes())
    with FaultProxy(aws_env.endpoint, plan=["reset_after", "reset_after"]) as proxy:
        store = S3Storage.from_uri(f"s3://{aws_env.bucket}/{prefix}", S3Config(endpoint_url=proxy.endpoint))
        store.write_bytes("manifest.json", b"{}")
        store.publish_file(str(shard), "x/val-000000.tar", hashlib.sha256(shard.read_bytes()).hexdigest())
        # ...but someone else's object is still never replaced, and says so.
        with pytest.raises(AlreadyExists):
            store.write_bytes("manifest.json", b'{"other": 1}')
    assert proxy.faults["reset_after"] == 2
    assert store.read_bytes("manifest.json") == b"{}"


def test_wrong_credentials_are_named_without_the_secret(aws_env, monkeypatch):
    wrong_secret = "WrongSecret-" + "z" * 20
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong_secret)
    store = S3Storage.from_uri(f"s3://{aws_env.bucket}/{aws_env.fresh_prefix('creds')}")
    for action in (lambda: store.write_bytes("a.json", b"{}"), lambda: list(store.list()),
                   lambda: store.read_bytes("a.json"), lambda: store.exists("a.json")):
        with pytest.raises(StorageError) as info:
            action()
        message = str(info.value)
        assert "AWS_ACCESS_KEY_ID" in message and "AWS_SECRET_ACCESS_KEY" in message
        assert "access denied" in message or "signature mismatch" in message
        assert wrong_secret not in message and aws_env.secret_key not in message
        assert f"s3://{aws_env.bucket}/creds-" in message
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    with pytest.raises(StorageError, match="unknown access key"):
        S3Storage.from_uri(f"s3://{aws_env.bucket}/x").write_bytes("a.json", b"{}")


def test_missing_credentials_and_missing_bucket(aws_env, monkeypatch):
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist"):
        list(S3Storage.from_uri("s3://no-such-bucket/p").list())
    with pytest.raises(StorageError, match="does not exist"):
        S3Storage.from_uri("s3://no-such-bucket/p").write_bytes("m.json", b"{}")
    with pytest.raises(StorageError, match="does not exist"):
        open_s3_object("s3://no-such-bucket/p/val-000000.tar")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(StorageError, match="no usable AWS credentials"):
        S3Storage.from_uri(f"s3://{aws_env.bucket}/x").exists("a")


def test_client_settings_come_from_the_config_then_the_environment(monkeypatch):
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    env_only = resolve_options(S3Config())
    assert (env_only.endpoint_url, env_only.region) == ("http://127.0.0.1:1", "eu-central-1")
    config = S3Config(endpoint_url="http://127.0.0.1:2", region="ap-south-1", addressing_style="path",
                      retry_mode="adaptive", max_attempts=4, checksum_calculation="when_required")
    client = make_client(config)
    assert client.meta.endpoint_url == "http://127.0.0.1:2" and client.meta.region_name == "ap-south-1"
    cfg = client.meta.config
    assert cfg.retries == {"mode": "adaptive", "total_max_attempts": 4}
    assert cfg.s3 == {"addressing_style": "path"}
    assert cfg.request_checksum_calculation == "when_required" == cfg.response_checksum_validation
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "WHEN_REQUIRED")
    no_config = resolve_options(None)  # `corrupter verify s3://...` has no config
    assert (no_config.retry_mode, no_config.max_attempts, no_config.checksum_calculation) == (
        "adaptive", 5, "when_required")
    assert isinstance(open_storage("s3://b/p/q", config), S3Storage)
    assert open_storage("s3://b/p/q/", config).uri == "s3://b/p/q"


def test_when_required_checksums_still_send_the_sha256(aws_env, tmp_path):
    """For stores that reject boto3's CRC trailers: the explicit SHA-256 header is still sent and checked."""
    store = S3Storage.from_uri(f"s3://{aws_env.bucket}/{aws_env.fresh_prefix('req')}",
                               S3Config(checksum_calculation="when_required"))
    store.write_bytes("a.json", b"{}")
    head = aws_env.client().head_object(Bucket=store.bucket, Key=store.key("a.json"), ChecksumMode="ENABLED")
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == hashlib.sha256(b"{}").hexdigest()
    shard = tmp_path / "s.tar"
    shard.write_bytes(b"data")
    with pytest.raises(StorageError, match="BadDigest"):
        store.publish_file(str(shard), "s.tar", hashlib.sha256(b"not data").hexdigest())


def test_uri_errors_are_clear():
    with pytest.raises(StorageError, match="no bucket"):
        S3Storage.from_uri("s3:///prefix")
    with pytest.raises(StorageError, match="no object key"):
        open_s3_object("s3://bucket")


def test_a_resumed_read_of_a_replaced_object_is_an_error_not_a_splice(aws_env):
    """The connection drops after a third of the object; before the read resumes, the object is replaced
    by one of the same size. The resumed, ranged GET is pinned to the first answer's ETag (If-Match)."""
    key = f"{aws_env.fresh_prefix('replaced')}/val-000000.tar"
    client = aws_env.client()
    original = SAMPLE.read_bytes()
    client.put_object(Bucket=aws_env.bucket, Key=key, Body=original)
    with FaultProxy(aws_env.endpoint, plan=["truncate"]) as proxy, \
            open_input(f"s3://{aws_env.bucket}/{key}", S3Config(endpoint_url=proxy.endpoint)) as stream:
        client.put_object(Bucket=aws_env.bucket, Key=key, Body=bytes(255 - b for b in original))
        with pytest.raises(StorageError, match="replaced while being read") as info:
            stream.read()
    assert not isinstance(info.value, OSError)  # not mistaken for a truncated shard by the tar reader
    assert [(method, fault) for method, _, fault in proxy.log] == [("GET", "truncate"), ("GET", None)]


def test_a_store_that_ignores_if_match_is_caught_by_the_etag(aws_env, monkeypatch):
    """Some stores ignore If-Match on GET: the resumed answer's ETag is compared as well."""
    key = f"{aws_env.fresh_prefix('ignored')}/val-000000.tar"
    client = aws_env.client()
    client.put_object(Bucket=aws_env.bucket, Key=key, Body=SAMPLE.read_bytes())
    with FaultProxy(aws_env.endpoint, plan=["truncate"]) as proxy, \
            open_input(f"s3://{aws_env.bucket}/{key}", S3Config(endpoint_url=proxy.endpoint)) as stream:
        client.put_object(Bucket=aws_env.bucket, Key=key, Body=SAMPLE.read_bytes()[::-1])
        s3_client = stream.raw._client
        real = s3_client.get_object
        monkeypatch.setattr(s3_client, "get_object", lambda **kw: real(**{k: v for k, v in kw.items()
                                                                         if k != "IfMatch"}))
        with pytest.raises(StorageError, match="replaced while being read .ETag"):
            stream.read()


VERSIONED = "corrupter-versioned"


@pytest.fixture
def versioned(aws_env):
    client = aws_env.client()
    try:
        client.create_bucket(Bucket=VERSIONED)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    client.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
    assert client.get_bucket_versioning(Bucket=VERSIONED)["Status"] == "Enabled"
    return S3Storage.from_uri(f"s3://{VERSIONED}/{aws_env.fresh_prefix('v')}")


def test_versioned_buckets_keep_the_promises(versioned, aws_env, tmp_path):
    """docs/s3.md: on a versioned bucket every key is written once, and deleting _work/ leaves delete
    markers; a create-once write is still refused where a current version exists."""
    shard = tmp_path / "s.tar"
    shard.write_bytes(SAMPLE.read_bytes())
    digest = hashlib.sha256(shard.read_bytes()).hexdigest()
    versioned.write_bytes("_work/config.json", b"{}")
    versioned.publish_file(str(shard), "fog/1/val-000000.tar", digest)
    versioned.write_bytes("_work/receipts/fog/1/val-000000.tar.json", b"{}")
    with pytest.raises(AlreadyExists):
        versioned.publish_file(str(shard), "fog/1/val-000000.tar", digest)
    with pytest.raises(AlreadyExists):
        versioned.write_bytes("_work/config.json", b'{"other": 1}')
    versioned.delete(list(versioned.list("_work")))
    versioned.write_bytes("manifest.json", b"{}")
    assert list(versioned.list()) == ["fog/1/val-000000.tar", "manifest.json"]
    assert hashlib.sha256(versioned.read_bytes("fog/1/val-000000.tar")).hexdigest() == digest
    listing = aws_env.client().list_object_versions(Bucket=VERSIONED, Prefix=versioned.prefix + "/")
    rel = len(versioned.prefix) + 1
    versions = sorted(v["Key"][rel:] for v in listing.get("Versions", []))
    markers = sorted(m["Key"][rel:] for m in listing.get("DeleteMarkers", []))
    assert versions == ["_work/config.json", "_work/receipts/fog/1/val-000000.tar.json", "fog/1/val-000000.tar",
                        "manifest.json"]  # one version each: nothing was ever overwritten
    assert markers == ["_work/config.json", "_work/receipts/fog/1/val-000000.tar.json"]


PASSWORD = "Endpoint-Pa55word-" + "k" * 12


def test_an_endpoint_password_is_in_no_message(aws_env, monkeypatch, capsys):
    """An endpoint URL with user info (http://user:PASSWORD@host:port): errors name the endpoint
    without it, whether it comes from the config or from AWS_ENDPOINT_URL (`corrupter verify`)."""
    from corrupter.cli.main import main as corrupter_main

    with_password = aws_env.endpoint.replace("http://", f"http://corrupter:{PASSWORD}@")
    closed = f"http://corrupter:{PASSWORD}@127.0.0.1:1"
    messages = []
    for endpoint in (closed, with_password):
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong" if endpoint == with_password else aws_env.secret_key)
        options = S3Config(endpoint_url=endpoint, max_attempts=1)
        store = S3Storage.from_uri(f"s3://{aws_env.bucket}/x", options)
        for action in ("exists", "write", "open"):
            with pytest.raises(StorageError) as info:
                if action == "exists":
                    store.exists("a")
                elif action == "write":
                    store.write_bytes("a", b"x")
                else:
                    open_s3_object(f"s3://{aws_env.bucket}/x/a", options)
            messages.append(str(info.value))
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        assert corrupter_main(["verify", f"s3://{aws_env.bucket}/x"]) == 2
        messages.append(capsys.readouterr().err)
    assert sum("cannot reach http://***@127.0.0.1:1" in m for m in messages) == 4
    assert sum("refused by http://***@127.0.0.1:" in m for m in messages) == 4
    assert not any(PASSWORD in m for m in messages), messages
