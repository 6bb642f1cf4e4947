"""The worker without Ray: bad input gets a clear outcome, counts reconcile, bytes are stable."""

from __future__ import annotations

import hashlib
import tarfile

import pytest

from corrupter.config import validate_config
from corrupter.io.shards import ShardReadError
from corrupter.pipeline.plan import plan_units
from corrupter.pipeline.worker import ShardWorker
from tests.badshards import BOMB_PIXELS, EXPECTED, EXPECTED_EXTRA, OK_KEYS, write_bad_shard, write_truncated_shard
from tests.conftest import REPO


def make_config(shards, out, **run):
    return validate_config({
        "name": "t", "version": "1", "input": {"shards": [str(s) for s in shards]},
        "preprocess": {"max_pixels": BOMB_PIXELS},
        "corruptions": [{"name": "contrast", "severities": [1, 5]}, {"name": "fog", "severities": [2]}],
        "output": {"uri": str(out)}, "run": run})


def run_all(config):
    worker = ShardWorker(config)
    return [r for unit in plan_units(config) for r in worker.run(unit).receipts]


def test_every_bad_sample_gets_a_clear_outcome_and_counts_reconcile(tmp_path):
    write_bad_shard(tmp_path / "bad.tar")
    receipts = run_all(make_config([tmp_path / "bad.tar"], tmp_path / "out"))
    assert len(receipts) == 3
    for receipt in receipts:
        reasons = {}
        for q in receipt["quarantined"]:
            reasons.setdefault(q["key"], []).append(q["reason"])
        for key, expected in EXPECTED.items():
            if expected != "ok":
                assert any(expected in r for r in reasons.get(key, [])), (key, reasons.get(key))
        for key, expected in EXPECTED_EXTRA.items():
            assert any(expected in r for r in reasons[key])
        assert receipt["samples"] == len(OK_KEYS)
        assert receipt["samples_read"] == receipt["samples"] + len(receipt["quarantined"])
        shard = tmp_path / "out" / "t" / "1" / receipt["path"]
        with tarfile.open(shard) as tar:
            keys = sorted({m.name.split(".", 1)[0] for m in tar})
        assert keys == sorted(k.replace("/", "_").replace(".", "_") for k in OK_KEYS)


def test_a_truncated_tar_keeps_what_was_read_and_says_so(tmp_path):
    write_truncated_shard(tmp_path / "cut.tar", good=4)
    receipt = run_all(make_config([tmp_path / "cut.tar"], tmp_path / "out"))[0]
    assert receipt["samples"] == 4
    assert [q["key"] for q in receipt["quarantined"]] == ["sample4"]
    assert "truncated" in receipt["quarantined"][0]["reason"]
    assert any("truncated" in e for e in receipt["source"]["errors"])
    assert receipt["samples_read"] == 5


def test_a_shard_that_is_not_a_tar_is_a_clear_error(tmp_path):
    (tmp_path / "junk.tar").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ShardReadError, match="junk.tar"):
        run_all(make_config([tmp_path / "junk.tar"], tmp_path / "out"))


def test_batch_size_does_not_change_bytes(tmp_path):
    sample = REPO / "data" / "sample" / "val-000000.tar"
    digests = []
    for batch_size in (1, 2, 16):
        out = tmp_path / f"b{batch_size}"
        receipts = run_all(make_config([sample], out, batch_size=batch_size, variants_per_unit=2))
        digests.append(sorted((r["path"], r["sha256"]) for r in receipts))
        for r in receipts:
            assert hashlib.sha256((out / "t" / "1" / r["path"]).read_bytes()).hexdigest() == r["sha256"]
    assert digests[0] == digests[1] == digests[2]
