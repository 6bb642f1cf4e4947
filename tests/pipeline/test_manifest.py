"""Manifest counts: one quarantine entry per input sample, totals from the per-source counts, and
reasons that are the same in every run (no memory addresses), so the manifest is too."""

from __future__ import annotations

import json
import re

import pytest

from corrupter.release.manifest import build_manifest
from corrupter.release.receipts import Receipt
from tests.badshards import write_bad_shard
from tests.pipeline.releases import build_release, load, reconcile, small_config, write_duplicate_keys_shard


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """The bad-input corpus and a shard with repeated keys, two severities in separate units, built twice."""
    inputs = tmp_path_factory.mktemp("in")
    write_bad_shard(inputs / "bad.tar")
    write_duplicate_keys_shard(inputs / "dupes.tar")
    shards = [inputs / "bad.tar", inputs / "dupes.tar"]
    return [load(build_release(small_config(tmp_path_factory.mktemp(run), shards))) for run in ("a", "b")]


def test_counts_reconcile_with_several_units_per_source(two_builds):
    manifest = two_builds[0]
    assert len(manifest["shards"]) == 4  # 2 sources x 2 severities, one unit each
    reconcile(manifest)


def test_a_repeated_key_is_a_sample_of_its_own(two_builds):
    manifest = two_builds[0]
    dupes = next(s for s in manifest["sources"] if s["uri"].endswith("dupes.tar"))
    assert (dupes["samples_read"], dupes["samples_ok"], dupes["samples_quarantined"]) == (6, 4, 2)
    entries = [q for q in manifest["quarantined"] if q["source"] == dupes["uri"]]
    assert [q["key"] for q in entries] == ["a", "a"] and all("appears again" in q["reason"] for q in entries)


def test_reasons_hold_no_address_and_two_runs_give_the_same_manifest(two_builds):
    first, second = ({k: v for k, v in m.items() if k not in ("created", "config", "config_digest")}
                     for m in two_builds)
    text = json.dumps(first)
    assert "cannot identify image file" in text and not re.search(r"0x[0-9a-fA-F]{6,}", text)
    assert first == second


def test_units_that_read_one_source_differently_are_refused():
    def receipt(path: str, keys: list[str]) -> Receipt:
        return Receipt.model_validate({
            "path": path, "corruption": "fog", "variant": "1", "level": 1, "params": {}, "sha256": "0" * 64,
            "bytes": 1, "samples": 1, "samples_read": 3, "device_type": "cpu",
            "quarantined": [{"key": k, "reason": "r"} for k in keys],
            "source": {"uri": "in.tar", "sha256": "1" * 64, "bytes": 10, "errors": []}})

    with pytest.raises(ValueError, match="set aside different samples"):
        build_manifest(name="n", version="1", config={}, digest="sha256:" + "2" * 64, seed_scheme="s",
                       receipts=[receipt("a.tar", ["x", "y"]), receipt("b.tar", ["x"])])

