"""Releases for the publishing tests: real ones built without Ray (tests/pipeline/releases.py), and
synthetic ones (random bytes as shards, a manifest that lists them) where only the bytes matter: a
multipart upload needs objects above S3's 5 MiB part minimum."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path


from corrupter.release.manifest import FORMAT
from tests.pipeline.releases import SAMPLE, build_release, small_config

BASE = [{"name": "clean"}, {"name": "contrast", "severities": [1]}, {"name": "fog", "severities": [1]}]


def build(out: Path, version: str, corruptions: list[dict] = BASE, **fields) -> Path:
    """A real release ``out/t/VERSION`` of one input shard (3 samples), with its metadata files, as
    `corrupter run` writes it (the real worker and commit, in this process)."""
    return build_release(small_config(out, [SAMPLE], version=version, corruptions=corruptions, **fields),
                         with_metadata=True)


def object_count(release: Path) -> int:
    """How many objects the release's manifest lists: its shards and its (metadata) files."""
    manifest = json.loads((release / "manifest.json").read_text())
    return len(manifest["shards"]) + len(manifest.get("files", []))


def writable_copy(release: Path, target: Path) -> Path:
    """A copy of a release whose files a test may change (releases are written read-only)."""
    shutil.copytree(release, target)
    for path in target.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return target


def synthetic_release(root: Path, version: str, sizes: list[int], name: str = "big", seed: int = 0) -> Path:
    """``root/NAME/VERSION`` with one shard of random bytes per size and a manifest listing them (its
    config is not a real one: publish and diff read the manifest's listing, not the config)."""
    release = root / name / version
    rng = __import__("random").Random(seed)
    shards = []
    for index, size in enumerate(sizes):
        path = f"noise/{index + 1}/val-000000.tar"
        data = rng.randbytes(size)
        (release / path).parent.mkdir(parents=True, exist_ok=True)
        (release / path).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        shards.append({"path": path, "corruption": "noise", "variant": str(index + 1), "level": index + 1,
                       "params": {}, "sha256": digest, "bytes": size, "samples": 1,
                       "source": {"uri": "in.tar", "sha256": "0" * 64}})
    totals = {"shards": len(shards), "samples": len(shards), "bytes": sum(sizes), "sources": 1,
              "source_samples_read": 1, "source_samples_selected": 1, "source_samples_quarantined": 0}
    manifest = {"format": FORMAT, "name": name, "version": version, "created": "2026-01-01T00:00:00+00:00",
                "config": {}, "config_digest": "sha256:" + "0" * 64, "software": {}, "device_type": "cpu",
                "seed_scheme": "s", "sources": [{"uri": "in.tar", "sha256": "0" * 64, "bytes": 1, "samples_read": 1,
                                                  "samples_selected": 1, "samples_quarantined": 0, "errors": [],
                                                  "samples_ok": 1}],
                "shards": shards, "files": [], "quarantined": [], "totals": totals}
    (release / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return release


__all__ = ["BASE", "SAMPLE", "build", "object_count", "synthetic_release", "writable_copy"]
