"""The shard lists that training and evaluation loaders look for next to a cell's shards, one of each
in every ``CORRUPTION/VARIANT/`` directory, all from the manifest (no shard is read):

    _info.json        timm's ``wds/`` reader: {"splits": {SPLIT: {name, num_samples, filenames,
                      shard_lengths}}}, file names relative to the directory
    sizes.json        open_clip (get_dataset_size): shard file name -> samples
    shardindex.json   wids.ShardListDataset: wids-shard-index-v1, URLs relative to the index

JSON with sorted keys, two-space indent and a final newline: the same manifest gives the same bytes.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from ..release.manifest import ReleaseManifest, ShardEntry

TIMM_INFO = "_info.json"
OPEN_CLIP_SIZES = "sizes.json"
WIDS_INDEX = "shardindex.json"


def dump_json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def cells_of(manifest: ReleaseManifest) -> dict[str, list[ShardEntry]]:
    """``CORRUPTION/VARIANT`` directory -> its shards in input order (by path: SPLIT-NNNNNN)."""
    cells: dict[str, list[ShardEntry]] = {}
    for shard in manifest.shards:
        cells.setdefault(posixpath.dirname(shard.path), []).append(shard)
    return {directory: sorted(shards, key=lambda s: s.path) for directory, shards in sorted(cells.items())}


def timm_info(manifest: ReleaseManifest, directory: str, shards: list[ShardEntry]) -> bytes:
    split = manifest.config["input"]["split"]
    return dump_json({
        "name": f"{manifest.name}/{manifest.version}/{directory}",
        "splits": {split: {
            "name": split,
            "num_samples": sum(s.samples for s in shards),
            "filenames": [posixpath.basename(s.path) for s in shards],
            "shard_lengths": [s.samples for s in shards],
        }},
    })


def open_clip_sizes(shards: list[ShardEntry]) -> bytes:
    return dump_json({posixpath.basename(s.path): s.samples for s in shards})


def wids_index(manifest: ReleaseManifest, directory: str, shards: list[ShardEntry]) -> bytes:
    return dump_json({
        "__kind__": "wids-shard-index-v1",
        "wids_version": 1,
        "name": f"{manifest.name}/{manifest.version}/{directory}",
        "shardlist": [{"url": posixpath.basename(s.path), "nsamples": s.samples, "filesize": s.bytes,
                       "sha256": s.sha256} for s in shards],
    })


def shard_lists(manifest: ReleaseManifest) -> dict[str, bytes]:
    """Release-relative path -> bytes, three files per cell."""
    files = {}
    for directory, shards in cells_of(manifest).items():
        files[f"{directory}/{TIMM_INFO}"] = timm_info(manifest, directory, shards)
        files[f"{directory}/{OPEN_CLIP_SIZES}"] = open_clip_sizes(shards)
        files[f"{directory}/{WIDS_INDEX}"] = wids_index(manifest, directory, shards)
    return files
