"""Small releases for tests: built without Ray (the real worker class in this process, then the real
commit), a shard with repeated keys, and the reconciliation every manifest must pass."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import torch

from corrupter.config import ReleaseConfig, validate_config
from corrupter.pipeline.plan import plan_units
from corrupter.pipeline.worker import ShardWorker
from corrupter.release.layout import release_storage
from corrupter.release.lifecycle import claim_release, commit_release, refuse_nested_release
from tests.badshards import BOMB_PIXELS, good_members
from tests.conftest import REPO

SAMPLE = REPO / "data" / "sample" / "val-000000.tar"  # 3 samples


def small_config(out: Path, shards: list[Path] = (SAMPLE,), **fields) -> ReleaseConfig:
    raw = {"name": "t", "version": "1.0.0", "input": {"shards": [str(s) for s in shards]},
           "preprocess": {"max_pixels": BOMB_PIXELS},
           "corruptions": [{"name": "contrast", "severities": [1, 2]}],
           "output": {"uri": str(out)}, "run": {"variants_per_unit": 1}}
    return validate_config(raw | fields)


def build_release(config: ReleaseConfig, with_metadata: bool = False) -> Path:
    """Claim, run every unit with ShardWorker in this process, commit (``with_metadata``: with the
    metadata files `corrupter run` writes, as it writes them); the release's folder."""
    threads = torch.get_num_threads()
    release = release_storage(config)
    refuse_nested_release(config, release)
    claim_release(config, release)
    try:
        worker = ShardWorker(config, "cpu")
        receipts = [r for unit in plan_units(config) for r in worker.run(unit).receipts]
    finally:
        torch.set_num_threads(threads)
    if with_metadata:
        from corrupter.publish.metadata import write_metadata

        commit_release(config, release, receipts, lambda building: write_metadata(config, release, building))
    else:
        commit_release(config, release, receipts)
    return Path(release.uri)


def write_duplicate_keys_shard(path: Path) -> None:
    """Keys a, b, a, c, a, d: six samples, of which the two later a's are set aside."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for i, key in enumerate("abacad"):
            for name, data in good_members(key, 40 + i):
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), 0
                tar.addfile(info, io.BytesIO(data))


def reconcile(manifest: dict) -> None:
    """Per source: read = written + quarantined + not selected (input.select), one quarantine entry per
    sample set aside; every shard holds its source's written samples; totals are the sums."""
    sources = {s["uri"]: s for s in manifest["sources"]}
    listed = Counter(q["source"] for q in manifest["quarantined"])
    for uri, source in sources.items():
        assert source["samples_selected"] == source["samples_ok"] + source["samples_quarantined"], uri
        assert source["samples_read"] >= source["samples_selected"], uri
        assert listed[uri] == source["samples_quarantined"], uri
    for shard in manifest["shards"]:
        assert shard["samples"] == sources[shard["source"]["uri"]]["samples_ok"], shard["path"]
    totals = manifest["totals"]
    assert totals["source_samples_read"] == sum(s["samples_read"] for s in sources.values())
    assert totals["source_samples_selected"] == sum(s["samples_selected"] for s in sources.values())
    assert totals["source_samples_quarantined"] == sum(s["samples_quarantined"] for s in sources.values())
    assert totals["source_samples_quarantined"] == len(manifest["quarantined"])
    assert totals["samples"] == sum(s["samples"] for s in manifest["shards"])


def load(release: Path) -> dict:
    return json.loads((release / "manifest.json").read_text())
