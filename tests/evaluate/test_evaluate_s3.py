"""RESULTS_DIR on S3 (a real SeaweedFS on loopback): the records of a run whose every shard was counted,
kept under s3://.../_work/, become results.json and its companions there; the work area goes, and a
second evaluation into the same prefix is refused. No Ray is needed: every shard is recorded."""

from __future__ import annotations

import json

import pytest

import corrupter
from corrupter.evaluation.models import ModelSpec
from corrupter.evaluation.records import Identity, ResultsExist, claim, write_record
from corrupter.evaluation.worker import ShardCounts
from corrupter.io.s3 import S3Storage
from tests.pipeline.releases import SAMPLE, build_release, small_config
from tests.s3.conftest import aws_env, s3_server  # noqa: F401  (the session's S3 server, its AWS environment)

pytestmark = pytest.mark.s3

MODEL = "tests.evaluate.efficientnet:efficientnet_lite0"


def test_results_are_written_to_s3_and_written_once(aws_env, tmp_path):  # noqa: F811 (the imported fixture)
    release = build_release(small_config(tmp_path / "built", [SAMPLE], corruptions=[{"name": "clean"}]))
    uri = f"s3://{aws_env.bucket}/{aws_env.fresh_prefix('results')}"
    opened = corrupter.open_release(str(release))
    identity = Identity(release_uri=opened.uri, manifest_sha256=opened.manifest_sha256, model=ModelSpec(MODEL).describe())
    storage = S3Storage.from_uri(uri)
    claim(storage, identity)
    [shard] = opened.manifest.shards
    write_record(storage, identity, ShardCounts(shard.path, 3, 2, 3, "c" * 64, "cpu", 1.0, 0.9))
    done = corrupter.evaluate(str(release), MODEL, uri, progress=False)
    assert (done.skipped_shards, done.shards, done.summary["clean_error"]) == (1, 1, 1 - 2 / 3)
    # the clean cell alone: nothing to draw by severity, no work area left
    assert sorted(storage.list()) == ["report.md", "results.csv", "results.json"]
    results = json.loads(storage.read_bytes("results.json"))
    assert results["cells"][0] == {
        "corruption": "clean", "variant": "1", "severity": 1, "level": 1, "params": {}, "samples": 3,
        "top1_correct": 2, "top5_correct": 3, "top1_error": 1 - 2 / 3, "top5_error": 0.0}
    with pytest.raises(ResultsExist, match="results.json already exists"):
        corrupter.evaluate(str(release), MODEL, uri, progress=False)
