"""The release manifest: written last, the commit marker of a release; and its verification."""

from __future__ import annotations

import datetime as dt
import json
import platform
from dataclasses import dataclass
from typing import Any, Iterable

from .storage import NotFound, Storage, StorageError, object_digest

MANIFEST = "manifest.json"
FORMAT = "corrupter-release/1"


def software_versions() -> dict[str, str]:
    import numpy
    import PIL
    import torch
    import torchvision

    from .. import __version__

    return {"corrupter": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "pillow": PIL.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def build_manifest(*, name: str, version: str, config: dict[str, Any], digest: str, seed_scheme: str,
                   receipts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Assemble the manifest from the per-shard receipts; order-independent, so deterministic.

    Refuses receipts that disagree about an input shard (it changed between a run and its resume)
    and records the device type the shards were computed on ("mixed" if a resume changed it).
    """
    receipts = sorted(receipts, key=lambda r: r["path"])
    shards, quarantined, sources = [], {}, {}
    devices = sorted({r.get("device_type", "cpu") for r in receipts})
    for r in receipts:
        earlier = sources.get(r["source"]["uri"])
        if earlier and (earlier["sha256"], earlier["samples_read"]) != (r["source"]["sha256"], r["samples_read"]):
            raise ValueError(f"input shard {r['source']['uri']} changed while the release was being built "
                             f"(sha256 {earlier['sha256']} for some outputs, {r['source']['sha256']} for "
                             f"{r['path']}); build a new version from the current input")
        shards.append({k: r[k] for k in ("path", "corruption", "variant", "level", "params", "sha256",
                                         "bytes", "samples")}
                      | {"source": {"uri": r["source"]["uri"], "sha256": r["source"]["sha256"]}})
        src = r["source"]["uri"]
        sources[src] = {"uri": src, "sha256": r["source"]["sha256"], "bytes": r["source"]["bytes"],
                        "samples_read": r["samples_read"], "samples_quarantined": len(r["quarantined"]),
                        "errors": r["source"].get("errors", [])}
        for q in r["quarantined"]:
            quarantined[(src, q["key"], q["reason"])] = {"source": src, "key": q["key"], "reason": q["reason"]}
    for s in sources.values():
        s["samples_ok"] = s["samples_read"] - s["samples_quarantined"]
    return {
        "format": FORMAT,
        "name": name,
        "version": version,
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "config": config,
        "config_digest": digest,
        "software": software_versions(),
        "device_type": "mixed" if len(devices) > 1 else (devices[0] if devices else "none"),
        "seed_scheme": seed_scheme,
        "sources": sorted(sources.values(), key=lambda s: s["uri"]),
        "shards": shards,
        "quarantined": [quarantined[k] for k in sorted(quarantined)],
        "totals": {
            "shards": len(shards),
            "samples": sum(s["samples"] for s in shards),
            "bytes": sum(s["bytes"] for s in shards),
            "sources": len(sources),
            "source_samples_read": sum(s["samples_read"] for s in sources.values()),
            "source_samples_quarantined": len(quarantined),
        },
    }


def dump_manifest(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode()


def load_manifest(release: Storage) -> dict[str, Any]:
    try:
        data = release.read_bytes(MANIFEST)
    except NotFound:
        raise StorageError(f"{release.uri}: no {MANIFEST} (not a finished release)") from None
    try:
        manifest = json.loads(data)
    except json.JSONDecodeError as exc:
        raise StorageError(f"{release.uri}/{MANIFEST}: not valid JSON ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise StorageError(f"{release.uri}/{MANIFEST}: unknown format {manifest.get('format')!r}")
    return manifest


@dataclass
class Mismatch:
    path: str
    problem: str


def verify_release(release: Storage) -> tuple[dict[str, Any], list[Mismatch]]:
    """Re-read every shard and compare size and sha256 with the manifest; also flag stray shards."""
    manifest = load_manifest(release)
    problems: list[Mismatch] = []
    listed = set()
    for shard in manifest["shards"]:
        listed.add(shard["path"])
        try:
            found = object_digest(release, shard["path"])
        except StorageError:
            found = None
        if found is None:
            problems.append(Mismatch(shard["path"], "missing"))
            continue
        digest, size = found
        if size != shard["bytes"]:
            problems.append(Mismatch(shard["path"], f"size {size} != manifest {shard['bytes']}"))
        elif digest != shard["sha256"]:
            problems.append(Mismatch(shard["path"], f"sha256 {digest} != manifest {shard['sha256']}"))
    for rel in release.list():
        if rel.endswith(".tar") and rel not in listed:
            problems.append(Mismatch(rel, "shard not listed in the manifest"))
    return manifest, problems
